import t from 'tap';
import fc from 'fast-check';
import { CLASS_IN, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsRecord, type DnsMessage } from '../../../src/fleet/codec/message';
import { zoneRecordToWire } from '../../../src/fleet/codec/zone-record-wire';
import { isPldnsError } from '../../../src/errors';
import { input } from '../../helpers/fuzz-inputs';
import { encodeResponse } from '../../helpers/wire';

/**
 * parseMessage on hostile input: random bytes, plausible headers, and valid transfer-like
 * messages (ours and dns2's, both compressed) with bytes flipped, pointers planted and cuts.
 * It returns or throws WIRE_MALFORMED, nothing else, and quickly; whatever it accepts, the
 * builder writes back into a message that parses to the same records.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const name = fc.array(label, { minLength: 0, maxLength: 4 }).map((ls) => [...ls, 'privatelink', 'rpz'].join('.'));
const zoneRecord = fc.oneof(
  fc.record({ name, type: fc.constant(RRType.A), ttl: fc.nat(), data: fc.ipV4() }),
  fc.record({ name, type: fc.constant(RRType.AAAA), ttl: fc.nat(), data: fc.constantFrom('2001:db8::1', '::1', 'fe80::1:2') }),
  fc.record({ name, type: fc.constant(RRType.CNAME), ttl: fc.nat(), data: fc.oneof(name, fc.constant('rpz-drop')) }),
  fc.record({ name, type: fc.constant(RRType.NS), ttl: fc.nat(), data: name }),
  fc.record({ name, type: fc.constant(RRType.TXT), ttl: fc.nat(), data: fc.string({ maxLength: 40 }).filter((s) => Buffer.byteLength(s) < 256) }),
  fc.record({ name, type: fc.constant(RRType.SOA), ttl: fc.nat(), data: fc.tuple(name, name, fc.nat()).map(([m, r, n]) => `${m} ${r} ${n} 30 10 600 60`) }),
);
const ours = fc.array(zoneRecord, { minLength: 1, maxLength: 12 }).map((rs) =>
  encodeMessage({ id: 1, flags: 0x8400, question: { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN }, answers: rs.map(zoneRecordToWire) }));
const theirs = fc.tuple(name, fc.ipV4(), name).map(([n, ip, target]) => encodeResponse({
  qname: n, qtype: RRType.SOA,
  answers: [
    { name: n, type: RRType.SOA, ttl: 60, primary: target, admin: `h.${n}`, serial: 1, refresh: 2, retry: 3, expiration: 4, minimum: 5 } as never,
    { name: `x.${n}`, type: RRType.CNAME, ttl: 60, domain: target } as never,
    { name: target, type: RRType.MX, ttl: 60, exchange: n, priority: 1 } as never,
  ],
  additionals: [{ name: target, type: RRType.A, ttl: 60, address: ip } as never],
  opt: { udpPayloadSize: 1232 },
}));
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('pointer' as const), at: fc.nat(), target: fc.integer({ min: 0, max: 0x3fff }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);
const mutated = fc.tuple(fc.oneof(ours, theirs), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([msg, ms]) => {
  let b = Buffer.from(msg);
  for (const m of ms) {
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = m.value;
    else if (m.kind === 'pointer' && at + 1 < b.length) b.writeUInt16BE(0xc000 | m.target, at);
    else if (m.kind === 'cut') b = b.subarray(0, at);
  }
  return b;
});

/** Compression may point a name at an earlier spelling in other case: compare ASCII-case-insensitively. */
const lower = (b: Buffer): string => b.toString('latin1').toLowerCase();

function sameRecords(a: readonly DnsRecord[], b: readonly DnsRecord[]): boolean {
  const same = (r: DnsRecord, o: DnsRecord): boolean =>
    r.name === o.name && r.type === o.type && r.class === o.class && r.ttl === o.ttl && lower(r.rdata) === lower(o.rdata);
  return a.length === b.length && a.every((r, i) => same(r, b[i]));
}

t.test('parseMessage: any input parses or throws WIRE_MALFORMED; accepted input re-encodes', async (t) => {
  let accepted = 0;
  let rejected = 0;
  const started = Date.now();
  fc.assert(
    fc.property(fc.oneof(input, mutated, ours, theirs), (buf) => {
      const t0 = Date.now();
      let p: DnsMessage;
      try {
        p = parseMessage(buf);
      } catch (err) {
        if (!isPldnsError(err, 'WIRE_MALFORMED')) throw err;
        rejected++;
        return;
      }
      if (Date.now() - t0 > 200) throw new Error(`one parse took ${Date.now() - t0} ms`);
      accepted++;
      if (p.questions.length > 1) return;
      const { id, flags, answers, authorities, additionals } = p;
      const again = parseMessage(encodeMessage({ id, flags, question: p.questions[0] ?? null, answers, authorities, additionals }));
      if (!sameRecords(again.answers, p.answers) || !sameRecords(again.authorities, p.authorities) || !sameRecords(again.additionals, p.additionals)) {
        throw new Error('re-encoded message parses to other records');
      }
    }),
    { numRuns: RUNS, interruptAfterTimeLimit: 120_000 },
  );
  t.ok(accepted > RUNS / 20, `some inputs accepted (${accepted})`);
  t.ok(rejected > RUNS / 20, `some inputs rejected (${rejected})`);
  t.ok(Date.now() - started < 120_000, 'bounded in time');
});
