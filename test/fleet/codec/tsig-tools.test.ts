import t from 'tap';
import net from 'node:net';
import { CLASS_IN, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage } from '../../../src/fleet/codec/message';
import { frameMessage, TcpFrameReader } from '../../../src/wire/tcp-frames';
import { signRequest, TsigStreamVerifier, type TsigKey } from '../../../src/fleet/codec/tsig';
import { dig } from '../../helpers/dig';
import { namedKey, startNamed } from '../../helpers/named';
import { startTsigResponder } from '../../helpers/tsig-responder';

/**
 * TSIG against real implementations: dig (BIND) and kdig (Knot) sign queries we verify and
 * verify answers we sign; BIND's named signs a multi-message AXFR our stream verifier checks.
 */

const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.from('0123456789abcdef0123456789abcdef') };
const KEY512: TsigKey = { name: 'fleet512', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 0x5a) };
const yArg = (k: TsigKey, secret = k.secret): string => `${k.algorithm}:${k.name}:${secret.toString('base64')}`;
const WRONG = Buffer.from('not-the-fleet-secret-not-the-fle');

/** dig and kdig say so when a signature fails; silence means it verified. */
const VERIFY_FAILED = /Couldn't verify|could not be validated|reply verification|failed to verify/i;

t.test('dig and kdig accept our signed answers and we verify their signed queries', async (t) => {
  const r = await startTsigResponder({ keys: [KEY, KEY512] });
  t.teardown(() => r.stop());
  const cases: [string, string[], 'dig' | 'kdig', TsigKey][] = [
    ['dig UDP sha256', [], 'dig', KEY],
    ['dig TCP sha256', ['+tcp'], 'dig', KEY],
    ['dig UDP sha512', [], 'dig', KEY512],
    ['kdig UDP sha256', [], 'kdig', KEY],
    ['kdig TCP sha512', ['+tcp'], 'kdig', KEY512],
  ];
  for (const [label, extra, tool, key] of cases) {
    const before = r.checks.length;
    const out = await dig(r.port, 'www.example', 'A', ['-y', yArg(key), ...extra], tool);
    t.equal(out.status, 'NOERROR', `${label}: NOERROR`);
    t.same(out.answers.map((a) => a.data), ['192.0.2.1'], `${label}: answer`);
    t.match(out.raw, /TSIG PSEUDOSECTION/, `${label}: the answer carried a TSIG`);
    t.notMatch(out.raw, VERIFY_FAILED, `${label}: ${tool} verified our MAC`);
    t.match(r.checks.slice(before), [{ kind: 'signed', key: { name: key.name } }], `${label}: we verified ${tool}'s MAC`);
  }
});

t.test("dig reports a failure when the answer is signed with another secret", async (t) => {
  const r = await startTsigResponder({ keys: [KEY], signWith: { ...KEY, secret: WRONG } });
  t.teardown(() => r.stop());
  const d = await dig(r.port, 'www.example', 'A', ['-y', yArg(KEY)], 'dig');
  t.match(d.raw, /Couldn't verify signature/, 'dig');
  const k = await dig(r.port, 'www.example', 'A', ['-y', yArg(KEY)], 'kdig');
  t.match(k.raw, /reply verification .*failed to verify TSIG/, 'kdig');
});

t.test('bad requests get the RFC 8945 errors and dig understands them', async (t) => {
  const r = await startTsigResponder({ keys: [KEY] });
  t.teardown(() => r.stop());
  const badSig = await dig(r.port, 'www.example', 'A', ['-y', yArg(KEY, WRONG)], 'dig');
  t.match(r.checks.at(-1), { kind: 'error', error: 'BADSIG' }, 'dig signed with another secret: BADSIG');
  t.equal(badSig.status, 'NOTAUTH');
  t.match(badSig.raw, /TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG 0/, 'unsigned TSIG with BADSIG');
  const badKey = await dig(r.port, 'www.example', 'A', ['-y', `hmac-sha256:stranger:${KEY.secret.toString('base64')}`], 'dig');
  t.match(r.checks.at(-1), { kind: 'error', error: 'BADKEY' }, 'unknown key: BADKEY');
  t.equal(badKey.status, 'NOTAUTH');
  t.match(badKey.raw, /BADKEY/);

  const skewed = await startTsigResponder({ keys: [KEY], tsig: { nowSec: Math.floor(Date.now() / 1000) + 1000 } });
  t.teardown(() => skewed.stop());
  const badTime = await dig(skewed.port, 'www.example', 'A', ['-y', yArg(KEY)], 'dig');
  t.match(skewed.checks.at(-1), { kind: 'error', error: 'BADTIME' });
  // dig checks the MAC of the BADTIME answer first: "clocks are unsynchronized" means it verified.
  t.match(badTime.raw, /Couldn't verify signature: clocks are unsynchronized/, 'dig verified our signed BADTIME');
  t.match(badTime.raw, /BADTIME 6 \S+/, 'server time in other data');
  const kBadTime = await dig(skewed.port, 'www.example', 'A', ['-y', yArg(KEY)], 'kdig');
  t.match(kBadTime.raw, /status: BADTIME/, 'kdig');
});

/** A signed AXFR over TCP with our codec; the raw messages until the closing SOA. */
async function rawAxfr(port: number, zone: string, key: TsigKey): Promise<{ requestMac: Buffer; messages: Buffer[] }> {
  const { message, mac } = signRequest(encodeMessage({ id: 0x4242, flags: 0, question: { name: zone, type: RRType.AXFR, class: CLASS_IN } }), key);
  const messages: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('AXFR timed out'));
    }, 15_000);
    const reader = new TcpFrameReader();
    let soas = 0;
    socket.on('connect', () => socket.write(frameMessage(message)));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      for (const m of reader.push(chunk)) {
        messages.push(m);
        soas += parseMessage(m).answers.filter((a) => a.type === RRType.SOA).length;
        if (soas >= 2) {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        }
      }
    });
  });
  return { requestMac: mac, messages };
}

t.test("named's multi-message AXFR verifies with our stream verifier", async (t) => {
  const records: string[] = [];
  for (let i = 0; i < 3000; i++) records.push(`host-${i}-with-a-long-label.example.com A 10.${(i >> 8) & 255}.${i & 255}.1`);
  const named = await startNamed({
    config: `${namedKey('fleet', 'hmac-sha256', KEY.secret)}zone "privatelink.rpz" { type primary; file "rpz.zone"; allow-transfer { key fleet; }; };`,
    files: { 'rpz.zone': [
      '$TTL 60', '@ SOA ns.privatelink.rpz. hostmaster.privatelink.rpz. 7 30 10 600 60', '@ NS ns.privatelink.rpz.', 'ns A 127.0.0.1', ...records, '',
    ].join('\n') },
  });
  t.teardown(() => named.stop());
  const { requestMac, messages } = await rawAxfr(named.port, 'privatelink.rpz', KEY);
  t.ok(messages.length > 1, `AXFR came in ${messages.length} messages`);
  const parsed: DnsMessage[] = messages.map(parseMessage);
  t.equal(parsed.reduce((n, p) => n + p.answers.length, 0), 3000 + 4, 'every record arrived');
  const v = new TsigStreamVerifier(KEY, requestMac);
  const results = messages.map((m, i) => v.verify(m, parsed[i]));
  t.ok(results.every((r) => r.ok), 'every message verified');
  t.ok(results[0].ok && results[0].signed, 'first signed');
  t.same(v.finish(), { ok: true, signed: true }, 'last signed');

  // A flipped byte in a middle message (an A record's address) breaks the chain there or at the next signed message.
  const mid = Math.floor(messages.length / 2);
  const broken = messages.map((m) => Buffer.from(m));
  const a = parsed[mid].answers.find((r) => r.type === RRType.A)!;
  broken[mid][a.end - 1] ^= 1;
  const v2 = new TsigStreamVerifier(KEY, requestMac);
  const r2 = broken.map((m) => v2.verify(m, parseMessage(m)));
  t.ok(r2.slice(0, mid).every((r) => r.ok), 'messages before the change verify');
  t.ok(r2.slice(mid).some((r) => !r.ok), 'the change is caught');

  const wrong = new TsigStreamVerifier({ ...KEY, secret: WRONG }, requestMac);
  t.match(wrong.verify(messages[0], parsed[0]), { ok: false }, 'another secret fails at the first message');
});
