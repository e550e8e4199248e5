import t from 'tap';
import { filterReachable } from '../../src/probe/reachability-filter';
import type { TableEntryInput } from '../../src/resolve/table';

const input = (over: Partial<TableEntryInput> = {}): TableEntryInput => ({ id: 'ep-1', names: ['a.example.com'], ipv4: ['198.18.1.1', '198.18.2.1'], ipv6: [], ...over });
/** These IPs are down; every other IP passes its probes. */
const downSet = (...ips: string[]) => () => ({ down: (ip: string) => ips.includes(ip), passing: (ip: string) => !ips.includes(ip) });

t.test('unreachable IPs are left out while one passes', async (t) => {
  const r = filterReachable([input()], downSet('198.18.2.1'));
  t.same(r.inputs[0]?.ipv4, ['198.18.1.1']);
  t.same(r.degraded, []);
});

t.test('nothing down: the same input object is kept', async (t) => {
  const i = input();
  const r = filterReachable([i], downSet());
  t.equal(r.inputs[0], i);
});

t.test('every IP down: all answered and the input is degraded (fail open)', async (t) => {
  const r = filterReachable([input()], downSet('198.18.1.1', '198.18.2.1'));
  t.same(r.inputs[0]?.ipv4, ['198.18.1.1', '198.18.2.1']);
  t.same(r.degraded.map((d) => d.id), ['ep-1']);
});

t.test('a down IP stays in while no other IP of the name passes (failing too, or not probed yet)', async (t) => {
  const r = filterReachable([input()], () => ({ down: (ip) => ip === '198.18.2.1', passing: () => false }));
  t.same(r.inputs[0]?.ipv4, ['198.18.1.1', '198.18.2.1']);
  t.same(r.degraded.length, 1, 'reported as failing open');
});

t.test('not probed: passed through untouched', async (t) => {
  const i = input();
  const r = filterReachable([i], () => undefined);
  t.equal(r.inputs[0], i);
  t.same(r.degraded, []);
});

t.test('families are independent', async (t) => {
  const r = filterReachable([input({ ipv6: ['fd00::1', 'fd00::2'] })], downSet('198.18.1.1', 'fd00::1', 'fd00::2'));
  t.same(r.inputs[0]?.ipv4, ['198.18.2.1']);
  t.same(r.inputs[0]?.ipv6, ['fd00::1', 'fd00::2'], 'v6 fails open');
  t.same(r.degraded.length, 1);
});

t.test('prefer_zones: held-back IPs answer only when every preferred IP is down', async (t) => {
  const i = input({ ipv4: ['198.18.1.1'], fallback: { ipv4: ['198.18.2.1', '198.18.3.1'], ipv6: [] } });
  t.same(filterReachable([i], downSet()).inputs[0]?.ipv4, ['198.18.1.1'], 'preferred reachable: only it');
  t.same(filterReachable([i], downSet('198.18.1.1', '198.18.3.1')).inputs[0]?.ipv4, ['198.18.2.1'], 'preferred down: reachable others');
  const all = filterReachable([i], downSet('198.18.1.1', '198.18.2.1', '198.18.3.1'));
  t.same(all.inputs[0]?.ipv4, ['198.18.1.1'], 'all down: the preferred, as without probes');
  t.same(all.degraded.length, 1);
});

t.test('a family with no answered IP is not filled from the held-back ones', async (t) => {
  const i = input({ ipv6: [], fallback: { ipv4: [], ipv6: ['fd00::9'] } });
  t.same(filterReachable([i], downSet()).inputs[0]?.ipv6, []);
});

t.test('the table builder hands prefer_zones\' held-back zones to the filter', async (t) => {
  const { buildTableInputs } = await import('../../src/privatelink/table-builder');
  const zone = (zoneId: string, eniIp: string) => ({ zoneId, eniIp, ipv6: '', status: 'Connected', zoneDomain: '' });
  const built = buildTableInputs([{
    id: 'ep-1', kind: 'endpoint', names: ['a.example.com'], source: 'sync', stale: false,
    endpoint: { endpointId: 'ep-1', endpointStatus: 'Active', connectionStatus: 'Connected', endpointDomain: '' },
    zones: [zone('z-a', '198.18.1.1'), zone('z-b', '198.18.2.1')],
  } as never], ['z-a']);
  t.same(built.inputs[0]?.ipv4, ['198.18.1.1']);
  t.same(built.inputs[0]?.fallback, { ipv4: ['198.18.2.1'], ipv6: [] });
  t.same(buildTableInputs([], []).inputs, []);
});
