import t from 'tap';
import { RRType } from '../../../src/wire/constants';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import type { TableEntryInput } from '../../../src/resolve/table';
import { buildPolicyZone, withSerial, zoneDigest, zoneSoa } from '../../../src/fleet/zone/policy-zone';
import { parseSoa } from '../../../src/fleet/codec/soa';

const ORIGIN = 'privatelink.rpz';
const OPTS = { origin: ORIGIN, ttlS: 30, onUnavailable: 'servfail' as const };
const INPUTS: TableEntryInput[] = [
  { id: 'ep-cs', names: ['cs.example.com'], ipv4: ['10.0.1.10', '10.0.2.10'], ipv6: [] },
  { id: 'ep-oss', names: ['oss.example.com', '*.oss.example.com'], ipv4: ['10.0.1.20'], ipv6: ['FD00:0:0:1:0:0:0:20'] },
  { id: 'ep-none', names: ['none.example.com'], ipv4: [], ipv6: [] },
];

const of = (records: readonly ZoneRecord[], name: string): string[] => records.filter((r) => r.name === name).map((r) => `${r.type} ${r.ttl} ${r.data}`).sort();

t.test('SOA, NS, then every managed name under the zone with its A and AAAA', async (t) => {
  const { zone, problems } = buildPolicyZone(INPUTS, OPTS, 1_800_000_000);
  t.same(problems, []);
  t.equal(zone.origin, ORIGIN);
  t.equal(zone.serial, 1_800_000_000);
  t.same(zone.records[0], { name: ORIGIN, type: RRType.SOA, ttl: 30, data: 'localhost hostmaster.privatelink.rpz 1800000000 60 10 1209600 30' });
  t.same(zone.records[1], { name: ORIGIN, type: RRType.NS, ttl: 30, data: 'localhost' });
  t.same(of(zone.records, `cs.example.com.${ORIGIN}`), ['1 30 10.0.1.10', '1 30 10.0.2.10']);
  t.same(of(zone.records, `oss.example.com.${ORIGIN}`), ['1 30 10.0.1.20', '28 30 fd00:0:0:1::20'], 'IPv6 in canonical form');
  t.same(of(zone.records, `*.oss.example.com.${ORIGIN}`), ['1 30 10.0.1.20', '28 30 fd00:0:0:1::20'], 'wildcard as an RPZ wildcard');
  t.equal(zone.records.length, 2 + 2 + 2 + 2 + 1);
});

t.test('a name without usable addresses is never left out: rpz-drop, or rpz-passthru under forward', async (t) => {
  const drop = buildPolicyZone(INPUTS, OPTS).zone;
  t.same(of(drop.records, `none.example.com.${ORIGIN}`), ['5 30 rpz-drop']);
  const pass = buildPolicyZone(INPUTS, { ...OPTS, onUnavailable: 'forward' }).zone;
  t.same(of(pass.records, `none.example.com.${ORIGIN}`), ['5 30 rpz-passthru']);
  const bad = buildPolicyZone([{ id: 'x', names: ['bad.example.com'], ipv4: ['not-an-ip'], ipv6: [] }], OPTS);
  t.same(of(bad.zone.records, `bad.example.com.${ORIGIN}`), ['5 30 rpz-drop'], 'only invalid addresses: still published, as drop');
  t.match(bad.problems, [/not-an-ip/]);
});

t.test('names that cannot live in the zone are reported, not silently dropped', async (t) => {
  const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example`;
  const { zone, problems } = buildPolicyZone([{ id: 'ep-long', names: [long, 'ok.example.com'], ipv4: ['10.0.0.1'], ipv6: [] }], OPTS);
  t.equal(problems.length, 1);
  t.match(problems[0], /ep-long: name "a+\.b+.*" cannot be published in privatelink\.rpz/);
  t.same(of(zone.records, `ok.example.com.${ORIGIN}`), ['1 30 10.0.0.1']);
  t.throws(() => buildPolicyZone([], { ...OPTS, origin: 'bad zone' }), RangeError);
  t.throws(() => buildPolicyZone([], { ...OPTS, ttlS: -1 }), RangeError);
});

t.test('a name listed twice keeps the later addresses, as AnswerTable.build does', async (t) => {
  const { zone } = buildPolicyZone([
    { id: 'a', names: ['dup.example.com'], ipv4: ['10.0.0.1'], ipv6: [] },
    { id: 'b', names: ['dup.example.com'], ipv4: ['10.0.0.2'], ipv6: [] },
  ], OPTS);
  t.same(of(zone.records, `dup.example.com.${ORIGIN}`), ['1 30 10.0.0.2']);
});

t.test('digest: independent of order and serial, changed by any content change', async (t) => {
  const a = buildPolicyZone(INPUTS, OPTS, 1).zone;
  const shuffled: TableEntryInput[] = [...INPUTS].reverse().map((i) => ({ ...i, names: [...i.names].reverse(), ipv4: [...i.ipv4].reverse() }));
  const b = buildPolicyZone(shuffled, OPTS, 99).zone;
  t.equal(zoneDigest(a), zoneDigest(b), 'same data in another order, another serial: same digest');
  t.same(a.records.slice(1), b.records.slice(1), 'and the same records in the same order');
  const reordered = { ...a, records: [a.records[0] as ZoneRecord, ...a.records.slice(1).reverse()] };
  t.equal(zoneDigest(reordered), zoneDigest(a), 'record order inside a zone does not matter');
  const changes: [string, TableEntryInput[], typeof OPTS | { origin: string; ttlS: number; onUnavailable: 'forward' }][] = [
    ['an address', [{ ...INPUTS[0] as TableEntryInput, ipv4: ['10.0.1.10'] }, ...INPUTS.slice(1)], OPTS],
    ['a name', INPUTS.slice(0, 2), OPTS],
    ['the TTL', INPUTS, { ...OPTS, ttlS: 31 }],
    ['the unavailable action', INPUTS, { ...OPTS, onUnavailable: 'forward' }],
    ['the zone name', INPUTS, { ...OPTS, origin: 'other.rpz' }],
  ];
  for (const [what, inputs, opts] of changes) t.not(zoneDigest(buildPolicyZone(inputs, opts, 1).zone), zoneDigest(a), `${what} changes it`);
});

t.test('withSerial replaces the SOA serial and nothing else', async (t) => {
  const a = buildPolicyZone(INPUTS, OPTS, 1).zone;
  const b = withSerial(a, 2 ** 32 + 7);
  t.equal(b.serial, 7);
  t.equal(parseSoa(zoneSoa(b).data)?.serial, 7);
  t.same(b.records.slice(1), a.records.slice(1));
  t.equal(zoneDigest(a), zoneDigest(b));
});
