import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { RRType } from '../../../src/wire/constants';
import { parseMessage } from '../../../src/fleet/codec/message';
import { parseNotify } from '../../helpers/notify';
import { verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { zoneRecordKey, type ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { formatSoa, parseSoa } from '../../../src/fleet/codec/soa';
import { querySoa, transferZone, type TransferResult } from '../../../src/fleet/secondary/xfr-client';
import { namedKey, startNamed, type NamedInstance } from '../../helpers/named';
import { freePort } from '../../helpers/ports';
import { requireTool } from '../../helpers/tools';

/** The transfer client against a real BIND 9 primary: SOA, AXFR, IXFR (journal), errors, named's NOTIFY. */

const Z = 'privatelink.rpz';
// A generated key of hmac-sha256's output size, as tsig-keygen makes (RFC 8945 §6).
const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const ZONE_FILE = `$TTL 60
@ SOA ns.privatelink.rpz. hostmaster.privatelink.rpz. 1 30 10 600 60
@ NS ns.privatelink.rpz.
ns A 127.0.0.1
www.example.com A 10.0.0.1
www.example.com AAAA 2001:db8::1
*.oss.example.com A 10.0.0.2
down.example.com CNAME rpz-drop.
fwd.example.com CNAME rpz-passthru.
info TXT "hub one"
`;
const EXPECTED: ZoneRecord[] = [
  { name: Z, type: RRType.SOA, ttl: 60, data: `ns.${Z} hostmaster.${Z} 1 30 10 600 60` },
  { name: Z, type: RRType.NS, ttl: 60, data: `ns.${Z}` },
  { name: `ns.${Z}`, type: RRType.A, ttl: 60, data: '127.0.0.1' },
  { name: `www.example.com.${Z}`, type: RRType.A, ttl: 60, data: '10.0.0.1' },
  { name: `www.example.com.${Z}`, type: RRType.AAAA, ttl: 60, data: '2001:db8::1' },
  { name: `*.oss.example.com.${Z}`, type: RRType.A, ttl: 60, data: '10.0.0.2' },
  { name: `down.example.com.${Z}`, type: RRType.CNAME, ttl: 60, data: 'rpz-drop' },
  { name: `fwd.example.com.${Z}`, type: RRType.CNAME, ttl: 60, data: 'rpz-passthru' },
  { name: `info.${Z}`, type: RRType.TXT, ttl: 60, data: 'hub one' },
];
const sorted = (rs: readonly ZoneRecord[]): string[] => rs.map(zoneRecordKey).sort();
const TIMEOUT_MS = 10_000;

async function nsupdate(port: number, lines: string[]): Promise<void> {
  requireTool('nsupdate');
  const script = [`server 127.0.0.1 ${port}`, `zone ${Z}`, ...lines, 'send', ''].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = execFile('nsupdate', ['-y', `hmac-sha256:fleet:${KEY.secret.toString('base64')}`], { timeout: 15_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`nsupdate failed: ${stderr}`));
      else resolve();
    });
    child.stdin!.end(script);
  });
}

/** Applies IXFR changes to a record set the way a secondary would. */
function apply(records: readonly ZoneRecord[], result: TransferResult): ZoneRecord[] {
  if (result.kind !== 'ixfr') throw new Error(`expected ixfr, got ${result.kind}`);
  const zone = new Map(records.map((r) => [zoneRecordKey(r), r]));
  for (const c of result.changes) {
    for (const r of [c.fromSoa, ...c.removed]) if (!zone.delete(zoneRecordKey(r))) throw new Error(`removed record not present: ${zoneRecordKey(r)}`);
    for (const r of [c.toSoa, ...c.added]) zone.set(zoneRecordKey(r), r);
  }
  return [...zone.values()];
}

let named: NamedInstance;
t.before(async () => {
  named = await startNamed({
    config: `${namedKey('fleet', 'hmac-sha256', KEY.secret)}
zone "${Z}" { type primary; file "rpz.zone"; allow-transfer { key fleet; }; allow-update { key fleet; }; max-ixfr-ratio unlimited; };`,
    files: { 'rpz.zone': ZONE_FILE },
  });
});
t.teardown(() => named?.stop());
const server = (): { host: string; port: number; family: 4 } => ({ host: '127.0.0.1', port: named.port, family: 4 });

t.test('querySoa, AXFR, then IXFR after dynamic updates', async (t) => {
  const soa = await querySoa(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS });
  t.equal(soa.serial, 1);
  t.same(formatSoa(soa), EXPECTED[0]?.data, 'every SOA field, typed');
  t.equal((await querySoa(server(), `${Z.toUpperCase()}.`, { timeoutMs: TIMEOUT_MS })).serial, 1, 'unsigned SOA query, zone name normalised');

  const axfr = await transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS });
  t.equal(axfr.kind, 'axfr');
  if (axfr.kind !== 'axfr') return;
  t.equal(axfr.serial, 1);
  t.same(sorted(axfr.records), sorted(EXPECTED), 'every record as the zone file has it');

  t.same(await transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS, currentSerial: 1 }), { kind: 'uptodate', serial: 1 }, 'IXFR at the current serial');

  await nsupdate(named.port, [`update delete www.example.com.${Z}. A 10.0.0.1`, `update add new.example.com.${Z}. 60 A 10.0.0.9`]);
  await nsupdate(named.port, [`update add new.example.com.${Z}. 60 AAAA 2001:db8::9`, `update delete down.example.com.${Z}. CNAME`]);
  const now = await querySoa(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS });
  t.ok(now.serial >= 3, `serial moved to ${now.serial}`);

  const ixfr = await transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS, currentSerial: 1 });
  t.equal(ixfr.kind, 'ixfr', 'incremental answer');
  if (ixfr.kind !== 'ixfr') return;
  t.equal(ixfr.fromSerial, 1);
  t.equal(ixfr.serial, now.serial);
  t.equal(ixfr.changes.length, 2, 'one change per update');
  t.same(ixfr.changes[0].removed, [EXPECTED[3]], 'first change removes the A');
  t.equal(parseSoa(ixfr.changes[0].fromSoa.data)?.serial, 1, 'the change starts at serial 1');
  t.same(ixfr.changes[0].added, [{ name: `new.example.com.${Z}`, type: RRType.A, ttl: 60, data: '10.0.0.9' }]);
  const fresh = await transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS });
  if (fresh.kind !== 'axfr') throw new Error('expected axfr');
  t.same(sorted(apply(axfr.records, ixfr)), sorted(fresh.records), 'AXFR at 1 + IXFR changes = AXFR now');

  const unknown = await transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS, currentSerial: 0 });
  t.equal(unknown.kind, 'axfr', 'IXFR from a serial named has no journal for: AXFR-style');
  if (unknown.kind === 'axfr') t.same(sorted(unknown.records), sorted(fresh.records));
});

t.test('errors are typed', async (t) => {
  const wrong: TsigKey = { ...KEY, secret: randomBytes(32) };
  await t.rejects(transferZone(server(), Z, { key: wrong, timeoutMs: TIMEOUT_MS }), { code: 'XFR_BAD_TSIG' }, 'wrong secret');
  await t.rejects(transferZone(server(), Z, { key: { ...KEY, name: 'stranger' }, timeoutMs: TIMEOUT_MS }), { code: 'XFR_BAD_TSIG' }, 'unknown key');
  await t.rejects(querySoa(server(), Z, { key: wrong, timeoutMs: TIMEOUT_MS }), { code: 'XFR_BAD_TSIG' }, 'SOA query, wrong secret');
  await t.rejects(transferZone(server(), Z, { timeoutMs: TIMEOUT_MS }), { code: 'XFR_REFUSED' }, 'unsigned AXFR: not allowed');
  const notServed = transferZone(server(), 'other.zone', { key: KEY, timeoutMs: TIMEOUT_MS });
  await t.rejects(notServed, { code: 'XFR_REFUSED', details: { rcode: 9 } }, 'a zone named does not serve: NOTAUTH');
  const capped = transferZone(server(), Z, { key: KEY, timeoutMs: TIMEOUT_MS, maxBytes: 100 });
  await t.rejects(capped, { code: 'XFR_FAILED', message: /exceeds 100 bytes/ }, 'byte cap');
  const closed = await freePort();
  await t.rejects(querySoa({ host: '127.0.0.1', port: closed, family: 4 }, Z, { timeoutMs: TIMEOUT_MS }), { code: 'XFR_FAILED' }, 'connection refused');
});

t.test("named's NOTIFY parses and verifies", async (t) => {
  // A second named, primary for the zone, tells us of it by NOTIFY signed with the key.
  // (named answering our NOTIFY: test/fleet/primary/notify-channel.named.test.ts.)
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const notifyPort = sock.address().port;
  const got = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
  const primary = await startNamed({
    config: `${namedKey('fleet', 'hmac-sha256', KEY.secret)}
zone "${Z}" { type primary; file "rpz.zone"; notify explicit; also-notify { 127.0.0.1 port ${notifyPort} key fleet; }; };`,
    files: { 'rpz.zone': ZONE_FILE },
  });
  t.teardown(async () => {
    sock.close();
    await primary.stop();
  });
  const raw = await Promise.race([got, new Promise<Buffer>((_, rej) => setTimeout(() => rej(new Error('no NOTIFY from named')), 15_000))]);
  const msg = parseMessage(raw);
  t.same(parseNotify(msg), { zone: Z, serial: 1 }, 'zone and serial');
  t.match(verifyRequest(raw, msg, [KEY]), { kind: 'signed' }, "named's TSIG verifies");
});
