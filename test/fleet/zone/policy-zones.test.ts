import t from 'tap';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { buildPolicyZones, viewOrigin, viewZoneIds } from '../../../src/fleet/zone/policy-zones';
import { CS, EP_DOMAIN, J_DOMAIN, K_DOMAIN, OSS, REGISTRY, endpoint, states, zone } from '../../helpers/zone-fixture';

const ORIGIN = 'privatelink.rpz';
const RECORDS = { ttl: 30, preferZones: [] as string[], onUnavailable: 'servfail' as const };
const of = (records: readonly ZoneRecord[], name: string, origin: string): string[] =>
  records.filter((r) => r.name === `${name}.${origin}`).map((r) => r.data).sort();

t.test('one view per availability zone in the data, named <zoneid>.<zone>, after the main zone', async (t) => {
  const { views, problems } = buildPolicyZones(states(), { origin: ORIGIN, records: RECORDS });
  t.same(problems, []);
  t.same(views.map((v) => [v.origin, v.zoneId]), [
    [ORIGIN, undefined],
    [`cn-hangzhou-j.${ORIGIN}`, 'cn-hangzhou-j'],
    [`cn-hangzhou-k.${ORIGIN}`, 'cn-hangzhou-k'],
  ]);
  t.same(viewZoneIds(states()), ['cn-hangzhou-j', 'cn-hangzhou-k'], 'a zone seen only as Disconnected still gets its view');
  for (const v of views) t.equal(v.zone.origin, v.origin);
});

t.test('each view prefers its zone; the main zone uses the hub prefer_zones; zone domains are the same everywhere', async (t) => {
  const { views } = buildPolicyZones(states(), { origin: ORIGIN, records: RECORDS });
  const [main, j, k] = views.map((v) => v.zone);
  t.same(of(main.records, CS, main.origin), ['10.0.1.10', '10.0.2.10', 'fd00:0:0:1::10'], 'main: every usable zone');
  t.same(of(main.records, EP_DOMAIN, main.origin), ['10.0.1.10', '10.0.2.10', 'fd00:0:0:1::10'], 'endpoint domain too');
  t.same(of(j.records, CS, j.origin), ['10.0.1.10', 'fd00:0:0:1::10'], 'view j: zone j only');
  t.same(of(k.records, CS, k.origin), ['10.0.2.10'], 'view k: zone k only (no IPv6 there)');
  for (const z of [main, j, k]) {
    t.same(of(z.records, J_DOMAIN, z.origin), ['10.0.1.10', 'fd00:0:0:1::10'], `${z.origin}: zone domain j answers zone j`);
    t.same(of(z.records, K_DOMAIN, z.origin), ['10.0.2.10'], `${z.origin}: zone domain k answers zone k`);
    t.same(of(z.records, REGISTRY, z.origin), ['rpz-drop'], `${z.origin}: no usable zone → drop`);
    t.same(of(z.records, `*.${OSS}`, z.origin), ['10.0.3.10', 'fd00::3:10'], `${z.origin}: static wildcard`);
  }
  const preferK = buildPolicyZones(states(), { origin: ORIGIN, records: { ...RECORDS, preferZones: ['cn-hangzhou-k'] } }).views[0]?.zone;
  t.same(of(preferK?.records ?? [], CS, ORIGIN), ['10.0.2.10'], 'main zone with prefer_zones [k]');
});

t.test('a view falls back to every usable IP while its own zone is not usable', async (t) => {
  const data = states();
  const zones = [zone('cn-hangzhou-j', '10.0.1.10', { status: 'Disconnected' }), zone('cn-hangzhou-k', '10.0.2.10'), zone('cn-hangzhou-h', '10.0.5.10')];
  data[0] = endpoint('ep-cs', [CS], zones);
  const { views } = buildPolicyZones(data, { origin: ORIGIN, records: RECORDS });
  const j = views.find((v) => v.zoneId === 'cn-hangzhou-j')?.zone;
  t.same(of(j?.records ?? [], CS, `cn-hangzhou-j.${ORIGIN}`), ['10.0.2.10', '10.0.5.10']);
});

t.test('zone ids that cannot be a DNS label get no view, and say so', async (t) => {
  t.equal(viewOrigin('cn-hangzhou-k', 'privatelink.rpz.'), 'cn-hangzhou-k.privatelink.rpz');
  t.equal(viewOrigin('a.b', ORIGIN), undefined);
  t.equal(viewOrigin('bad zone', ORIGIN), undefined);
  const data = [endpoint('ep-x', ['x.example.com'], [zone('bad zone', '10.0.0.1'), zone('cn-hangzhou-k', '10.0.0.2')])];
  const { views, problems } = buildPolicyZones(data, { origin: ORIGIN, records: RECORDS });
  t.same(views.map((v) => v.origin), [ORIGIN, `cn-hangzhou-k.${ORIGIN}`]);
  t.match(problems, [/zone id "bad zone" cannot name a view/]);
});

t.test('table problems are reported once, not once per view', async (t) => {
  const data = [endpoint('ep-x', ['x.example.com'], [zone('cn-hangzhou-j', 'bogus'), zone('cn-hangzhou-k', '10.0.0.2')])];
  const { views, problems } = buildPolicyZones(data, { origin: ORIGIN, records: RECORDS });
  t.equal(views.length, 3);
  t.equal(problems.filter((p) => p.includes('bogus')).length, 1);
});
