import t from 'tap';
import fc from 'fast-check';
import { RRType } from '../../../src/wire/constants';
import { parseQuery } from '../../../src/wire/query';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import type { EntryState, ZoneState } from '../../../src/privatelink/model';
import { buildTableInputs } from '../../../src/privatelink/table-builder';
import { buildManagedAnswer } from '../../../src/resolve/managed-answer';
import { AnswerTable } from '../../../src/resolve/table';
import { buildPolicyZone, type PolicyZone } from '../../../src/fleet/zone/policy-zone';
import { buildPolicyZones } from '../../../src/fleet/zone/policy-zones';
import { policyZoneToTableInputs } from '../../../src/fleet/zone/zone-to-table';
import { decode, encodeQuery } from '../../helpers/wire';
import { CS, OSS, REGISTRY, states } from '../../helpers/zone-fixture';

const ORIGIN = 'privatelink.rpz';
type Unavailable = 'servfail' | 'forward';
const unavailableGen = fc.constantFrom<Unavailable>('servfail', 'forward');
const rec = (name: string, type: number, data: string, ttl = 30): ZoneRecord => ({ name, type, ttl, data });

t.test('owner names back to table inputs: addresses, drop → servfail, passthru → forward', async (t) => {
  const zone = buildPolicyZone(
    [
      { id: 'a', names: ['a.example.com', '*.a.example.com'], ipv4: ['10.0.0.1'], ipv6: ['fd00::1'] },
      { id: 'd', names: ['drop.example.com'], ipv4: [], ipv6: [] },
    ],
    { origin: ORIGIN, ttlS: 42, onUnavailable: 'servfail' },
    5,
  ).zone;
  const extra: ZoneRecord[] = [rec(`pass.example.com.${ORIGIN}`, RRType.CNAME, 'rpz-passthru', 42)];
  const built = policyZoneToTableInputs({ ...zone, records: [...zone.records, ...extra] });
  t.same(built.inputs, [
    { id: '*.a.example.com', names: ['*.a.example.com'], ipv4: ['10.0.0.1'], ipv6: ['fd00::1'] },
    { id: 'a.example.com', names: ['a.example.com'], ipv4: ['10.0.0.1'], ipv6: ['fd00::1'] },
    { id: 'drop.example.com', names: ['drop.example.com'], ipv4: [], ipv6: [], unavailable: 'servfail' },
    { id: 'pass.example.com', names: ['pass.example.com'], ipv4: [], ipv6: [], unavailable: 'forward' },
  ]);
  t.equal(built.ttlS, 42);
  t.equal(built.ignored, 0, 'SOA and NS at the apex are not counted');
  const table = AnswerTable.build(built.inputs);
  t.equal(table.lookup('drop.example.com')?.record.unavailable, 'servfail', 'carried into the table record');
  t.equal(table.lookup('pass.example.com')?.record.unavailable, 'forward');
  t.equal(table.lookup('x.a.example.com')?.record.unavailable, undefined);
});

t.test('what the table cannot hold is ignored and counted', async (t) => {
  const keep = [{ id: 'k', names: ['keep.example.com'], ipv4: ['10.0.0.9'], ipv6: [] }];
  const zone = buildPolicyZone(keep, { origin: ORIGIN, ttlS: 30, onUnavailable: 'servfail' }).zone;
  const junk: ZoneRecord[] = [
    rec(ORIGIN, RRType.A, '10.0.0.1'),
    rec(`32.1.0.0.10.rpz-ip.${ORIGIN}`, RRType.CNAME, 'rpz-drop'),
    rec(`ns.example.com.rpz-nsdname.${ORIGIN}`, RRType.CNAME, 'rpz-drop'),
    rec(`32.2.0.0.10.rpz-client-ip.${ORIGIN}`, RRType.CNAME, 'rpz-passthru'),
    rec(`32.3.0.0.10.rpz-nsip.${ORIGIN}`, RRType.CNAME, 'rpz-drop'),
    rec(`txt.example.com.${ORIGIN}`, RRType.TXT, 'hello'),
    rec(`rewrite.example.com.${ORIGIN}`, RRType.CNAME, 'elsewhere.example.net'),
    rec(`nx.example.com.${ORIGIN}`, RRType.CNAME, ''),
    rec(`*.${ORIGIN}`, RRType.A, '10.0.0.2'),
    rec(`a.*.example.com.${ORIGIN}`, RRType.A, '10.0.0.3'),
    rec('other.example.org', RRType.A, '10.0.0.4'),
    rec(`bad.example.com.${ORIGIN}`, RRType.A, 'not-an-address'),
  ];
  const built = policyZoneToTableInputs({ ...zone, records: [...zone.records, ...junk] });
  t.same(built.inputs.map((i) => i.id), ['keep.example.com']);
  t.equal(built.ignored, junk.length);
  t.equal(built.ignoredSamples.length, 10, 'samples are bounded');
  t.match(built.ignoredSamples.join('\n'), /rpz-ip\.privatelink\.rpz type 5: not a QNAME trigger/);
});

t.test('an edge answers the fixture exactly as the hub, in every view', async (t) => {
  const { views } = buildPolicyZones(states(), { origin: ORIGIN, records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' } });
  for (const v of views) {
    const hub = buildTableInputs(states(), v.zoneId ? [v.zoneId] : []).inputs;
    const mismatch = compareAnswers(hub, v.zone, 'servfail', [CS, OSS, `x.${OSS}`, REGISTRY, 'not-managed.example.com']);
    t.equal(mismatch, undefined, `${v.origin}: ${mismatch ?? 'identical'}`);
  }
});

/**
 * Builds the hub's table from `hubInputs` and the edge's from the published zone, then asks both
 * every name for A, AAAA and MX. Returns the first difference, or undefined.
 */
function compareAnswers(
  hubInputs: ReturnType<typeof buildTableInputs>['inputs'],
  zone: PolicyZone,
  onUnavailable: 'servfail' | 'forward',
  qnames: string[],
): string | undefined {
  const hub = AnswerTable.build(hubInputs);
  const fromZone = policyZoneToTableInputs(zone);
  if (fromZone.ignored !== 0) return `ignored ${fromZone.ignoredSamples.join('; ')}`;
  const edge = AnswerTable.build(fromZone.inputs);
  // The edge's own configured default is the other one: what it does must come from the zone.
  const edgeDefault = onUnavailable === 'servfail' ? 'forward' : 'servfail';
  for (const qname of qnames) {
    const hm = hub.lookup(qname);
    const em = edge.lookup(qname);
    if (!hm || !em) {
      if (hm || em) return `${qname}: managed on ${hm ? 'hub' : 'edge'} only`;
      continue;
    }
    const hubHas = hm.record.ipv4.length + hm.record.ipv6.length > 0;
    const edgeHas = em.record.ipv4.length + em.record.ipv6.length > 0;
    if (hubHas !== edgeHas) return `${qname}: addresses on one side only`;
    if (!hubHas) {
      if ((em.record.unavailable ?? edgeDefault) !== onUnavailable) return `${qname}: edge would ${em.record.unavailable ?? edgeDefault}, hub ${onUnavailable}`;
      continue;
    }
    for (const qtype of [RRType.A, RRType.AAAA, RRType.MX]) {
      const q = parseQuery(encodeQuery(qname, { id: 7, type: qtype }));
      if (q.kind !== 'query') return `${qname}: unparsable query`;
      const summary = (table: AnswerTable, ttl: number): string => {
        const m = table.lookup(qname);
        if (!m) return 'no match';
        const p = decode(buildManagedAnswer(q, m, ttl, 1));
        const answers = (p.answers as { type: number; ttl: number; address?: string }[]).map((a) => `${a.type}/${a.ttl}/${a.address}`).sort();
        const auth = (p.authorities as { name: string; type: number }[]).map((a) => `${a.type}/${a.name}`);
        return JSON.stringify({ rcode: p.header.rcode, aa: p.header.aa, answers, auth });
      };
      const h = summary(hub, 30);
      const e = summary(edge, fromZone.ttlS);
      if (h !== e) return `${qname} type ${qtype}: hub ${h}, edge ${e}`;
    }
  }
  return undefined;
}

const label = fc.constantFrom('a', 'b', 'svc', 'oss', 'x1');
const dnsName = fc.array(label, { minLength: 2, maxLength: 3 }).map((ls) => ls.join('.'));
const managed = fc.tuple(fc.boolean(), dnsName).map(([wild, n]) => (wild ? `*.${n}` : n));
const octet = fc.integer({ min: 1, max: 4 });
const zoneGen: fc.Arbitrary<ZoneState> = fc.record({
  zoneId: fc.constantFrom('z1', 'z2', 'z3'),
  zoneDomain: fc.option(dnsName.map((n) => `zd.${n}`), { nil: '' }),
  eniId: fc.constant('eni'),
  eniIp: fc.oneof(octet.map((o) => `10.0.0.${o}`), fc.constant('')),
  ipv6: fc.option(octet.map((o) => `fd00::${o}`), { nil: '' }),
  vSwitchId: fc.constant('vsw'),
  status: fc.constantFrom('Connected', 'Connected', 'Disconnected'),
});
const entryGen: fc.Arbitrary<EntryState> = fc.oneof(
  fc.record({
    i: fc.nat(1000),
    names: fc.array(managed, { minLength: 1, maxLength: 3 }),
    zones: fc.array(zoneGen, { maxLength: 3 }),
    active: fc.boolean(),
    domain: fc.option(dnsName.map((n) => `ep.${n}`), { nil: '' }),
  }).map(
    ({ i, names, zones, active, domain }): EntryState => ({
      id: `ep-${i}`,
      kind: 'endpoint',
      names,
      endpoint: {
        endpointId: `ep-${i}`, endpointName: '', serviceName: '', endpointDomain: domain,
        endpointStatus: active ? 'Active' : 'Pending', connectionStatus: 'Connected',
      },
      zones,
      source: 'sync',
      stale: false,
    }),
  ),
  fc.record({
    names: fc.array(managed, { minLength: 1, maxLength: 2 }),
    v4: fc.array(octet.map((o) => `10.1.0.${o}`), { maxLength: 2 }),
    v6: fc.array(octet.map((o) => `fd01::${o}`), { maxLength: 2 }),
  }).map(
    ({ names, v4, v6 }): EntryState => ({
      id: `static:${names[0]}`, kind: 'static', names, zones: [], addresses: { ipv4: v4, ipv6: v6 }, source: 'static', stale: false,
    }),
  ),
);

t.test('round trip: for any sync state, every view answers on the edge exactly as on the hub (property)', async (t) => {
  const runs = Number(process.env.FUZZ_RUNS ?? 300);
  let compared = 0;
  fc.assert(
    fc.property(fc.array(entryGen, { maxLength: 5 }), fc.subarray(['z1', 'z2', 'z3']), unavailableGen, (data, prefer, onUnavailable) => {
      const { views } = buildPolicyZones(data, { origin: ORIGIN, records: { ttl: 30, preferZones: prefer, onUnavailable } });
      for (const v of views) {
        const hubInputs = buildTableInputs(data, v.zoneId ? [v.zoneId] : prefer).inputs;
        const asked = (n: string): string[] => (n.startsWith('*.') ? [n.slice(2), `q.${n.slice(2)}`, `p.q.${n.slice(2)}`] : [n, `q.${n}`]);
        const names = hubInputs.flatMap((i) => i.names).flatMap(asked);
        const mismatch = compareAnswers(hubInputs, v.zone, onUnavailable, [...names, 'a.b', 'svc.oss.a', 'unrelated.example']);
        if (mismatch) throw new Error(`${v.origin}: ${mismatch}`);
        compared++;
      }
      return true;
    }),
    { numRuns: runs, seed: 1995 },
  );
  t.ok(compared >= runs, `compared ${compared} views`);
});
