import t from 'tap';
import fc from 'fast-check';
import { AnswerTable } from '../../src/resolve/table';
import type { EntryState, ZoneState } from '../../src/privatelink/model';
import { buildTableInputs, endpointUsable, usableZones } from '../../src/privatelink/table-builder';

const z = (zoneId: string, eniIp: string, extra: Partial<ZoneState> = {}): ZoneState => ({
  zoneId,
  zoneDomain: `${zoneId}.ep-1.example.com`,
  eniId: `eni-${zoneId}`,
  eniIp,
  ipv6: '',
  vSwitchId: `vsw-${zoneId}`,
  status: 'Connected',
  ...extra,
});

const entry = (zones: ZoneState[], extra: Partial<EntryState> = {}, endpointExtra: Partial<NonNullable<EntryState['endpoint']>> = {}): EntryState => ({
  id: 'ep-1',
  kind: 'endpoint',
  names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'],
  endpoint: {
    endpointId: 'ep-1',
    endpointName: 'cs',
    serviceName: 'com.example.cs',
    endpointDomain: 'ep-1.epsrv-x.cn-hangzhou.privatelink.aliyuncs.com',
    endpointStatus: 'Active',
    connectionStatus: 'Connected',
    ...endpointExtra,
  },
  zones,
  source: 'sync',
  fetchedAtMs: 1,
  stale: false,
  ...extra,
});

t.test('endpoint is usable only when Active and Connected', async (t) => {
  for (const status of ['Creating', 'Active', 'Pending', 'Deleting', 'active', 'Inactive', '']) {
    const e = entry([z('a', '10.0.0.1')], {}, { endpointStatus: status });
    t.equal(endpointUsable(e.endpoint), status === 'Active', `EndpointStatus ${JSON.stringify(status)}`);
    t.equal(usableZones(e, []).length, status === 'Active' ? 1 : 0);
  }
  for (const status of ['Pending', 'Connecting', 'Connected', 'Disconnecting', 'Disconnected', 'Deleting', 'ServiceDeleted', 'connected', 'Bogus']) {
    const e = entry([z('a', '10.0.0.1')], {}, { connectionStatus: status });
    t.equal(usableZones(e, []).length, status === 'Connected' ? 1 : 0, `ConnectionStatus ${JSON.stringify(status)}`);
  }
  t.equal(endpointUsable(undefined), false, 'never-fetched entry');
});

t.test('zone is usable only when Connected', async (t) => {
  const statuses = ['Creating', 'Wait', 'Connected', 'Deleting', 'Disconnecting', 'Disconnected', 'Connecting', 'Migrating', 'Migrated', 'Deleted', 'connected', ''];
  for (const status of statuses) {
    t.same(usableZones(entry([z('a', '10.0.0.1', { status })]), []).map((x) => x.eniIp), status === 'Connected' ? ['10.0.0.1'] : [], `ZoneStatus ${JSON.stringify(status)}`);
  }
});

t.test('prefer_zones restricts answers while a preferred zone is usable', async (t) => {
  const zones = [z('k', '10.0.0.1'), z('j', '10.0.0.2'), z('h', '10.0.0.3')];
  t.same(usableZones(entry(zones), ['k']).map((x) => x.zoneId), ['k'], 'only the preferred zone');
  t.same(usableZones(entry(zones), ['k', 'h']).map((x) => x.zoneId).sort(), ['h', 'k'], 'several preferred zones');
  t.same(usableZones(entry(zones), []).map((x) => x.zoneId).sort(), ['h', 'j', 'k'], 'no preference: all');
  t.same(usableZones(entry(zones), ['x']).map((x) => x.zoneId).sort(), ['h', 'j', 'k'], 'preferred zone unknown: all');

  const down = [z('k', '10.0.0.1', { status: 'Disconnected' }), z('j', '10.0.0.2'), z('h', '10.0.0.3')];
  t.same(usableZones(entry(down), ['k']).map((x) => x.zoneId).sort(), ['h', 'j'], 'preferred zone down: fall back to all usable');
  const badIp = [z('k', 'not-an-ip'), z('j', '10.0.0.2')];
  t.same(usableZones(entry(badIp), ['k']).map((x) => x.zoneId), ['j'], 'preferred zone with bad IP: fall back');
  const allDown = [z('k', '10.0.0.1', { status: 'Deleting' }), z('j', '10.0.0.2', { status: 'Wait' })];
  t.same(usableZones(entry(allDown), ['k']), [], 'nothing usable');
});

t.test('builds endpoint-domain and zone-domain inputs', async (t) => {
  const e = entry([z('k', '10.0.0.1', { zoneDomain: 'K.ep-1.Example.COM.', ipv6: '2001:db8:0:0::1' }), z('j', '10.0.0.2'), z('h', '10.0.0.3', { status: 'Disconnected' })], {
    names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'],
  }, { endpointDomain: 'EP-1.epsrv-x.cn-hangzhou.privatelink.aliyuncs.com.' });
  const { inputs, problems } = buildTableInputs([e], ['k']);
  t.same(problems, []);
  t.same(inputs[0], {
    id: 'ep-1',
    names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'ep-1.epsrv-x.cn-hangzhou.privatelink.aliyuncs.com'],
    ipv4: ['10.0.0.1'],
    ipv6: ['2001:db8::1'],
    fallback: { ipv4: ['10.0.0.2'], ipv6: [] },
  }, 'configured names + endpoint domain, lower case, no trailing dot, preferred zone only (the other usable zone held back for the probes)');
  const byName = new Map(inputs.flatMap((i) => i.names.map((n) => [n, i] as const)));
  t.same(byName.get('k.ep-1.example.com')?.ipv4, ['10.0.0.1'], 'zone domain answers its zone');
  t.same(byName.get('j.ep-1.example.com')?.ipv4, ['10.0.0.2'], 'zone domain ignores prefer_zones');
  t.same(byName.get('h.ep-1.example.com')?.ipv4, [], 'disconnected zone domain stays managed with no IP');
  t.equal(inputs.length, 4);
  t.doesNotThrow(() => AnswerTable.build(inputs), 'the answer table accepts the inputs');
});

t.test('an unusable endpoint keeps its names managed with no IPs', async (t) => {
  const { inputs } = buildTableInputs([entry([z('k', '10.0.0.1')], {}, { connectionStatus: 'Disconnected' })], []);
  t.same(inputs[0]?.ipv4, []);
  t.same(inputs[0]?.names.length, 2);
  t.same(inputs.find((i) => i.names.includes('k.ep-1.example.com'))?.ipv4, [], 'zone domain has no IP either');

  const never: EntryState = { id: 'service:x', kind: 'service', names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'], zones: [], source: 'sync', stale: true };
  t.same(buildTableInputs([never], []).inputs, [{ id: 'service:x', names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'], ipv4: [], ipv6: [] }]);
});

t.test('bad items are skipped and reported, the rest is kept', async (t) => {
  const e = entry([z('k', '10.0.0.256'), z('j', '10.0.0.2', { ipv6: 'zz::1' }), z('h', '', { status: 'Creating' }), z('g', '')]);
  const { inputs, problems } = buildTableInputs([e], []);
  t.same(inputs[0]?.ipv4, ['10.0.0.2'], 'only the valid zone');
  t.same(inputs[0]?.ipv6, [], 'invalid ipv6 ignored');
  const messages = problems.map((p) => p.message).join('\n');
  t.match(messages, /zone k has an invalid EniIp "10\.0\.0\.256"/);
  t.match(messages, /zone g has an invalid EniIp ""/);
  t.match(messages, /zone j has an invalid ZoneIpv6Address "zz::1"/);
  t.notMatch(messages, /zone h/, 'a Creating zone without an IP yet is not a problem');
  t.equal(problems.length, 3);
});

t.test('names are unique across inputs: first wins', async (t) => {
  const a = entry([z('k', '10.0.0.1')]);
  const b = entry([z('k', '10.0.0.9')], { id: 'ep-2', names: ['other.example.com', 'CS-ANONY-VPC.cn-hangzhou.aliyuncs.com'] });
  const s: EntryState = { id: 'static:ntp.internal.example', kind: 'static', names: ['ntp.internal.example'], zones: [], addresses: { ipv4: ['10.0.0.123'], ipv6: ['fd00::1'] }, source: 'static', stale: false };
  const { inputs, problems } = buildTableInputs([a, b, s], []);
  const owners = new Map<string, string[]>();
  for (const i of inputs) for (const n of i.names) owners.set(n, [...(owners.get(n) ?? []), i.id]);
  t.ok([...owners.values()].every((ids) => ids.length === 1), 'no name twice');
  t.same(owners.get('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['ep-1']);
  t.same(owners.get('k.ep-1.example.com'), ['ep-1/k'], 'zone domain of the first entry');
  t.same(inputs.find((i) => i.id === 'ep-2')?.names, ['other.example.com'], 'the second keeps its own names');
  t.equal(problems.filter((p) => p.entryId === 'ep-2' && /already answered/.test(p.message)).length, 3, 'name, endpoint domain and zone domain reported');
  t.same(inputs.find((i) => i.id === 'static:ntp.internal.example'), { id: 'static:ntp.internal.example', names: ['ntp.internal.example'], ipv4: ['10.0.0.123'], ipv6: ['fd00::1'] }, 'static passes through');
});

t.test('property: whatever the API says, the table builds and names stay unique', async (t) => {
  const status = fc.constantFrom('Connected', 'Disconnected', 'Creating', 'connected', '');
  const ip = fc.oneof(fc.ipV4(), fc.constantFrom('', '1.2.3', '999.1.1.1', '10.0.0.01', ' 10.0.0.1'));
  const ip6 = fc.oneof(fc.ipV6(), fc.constantFrom('', 'nope', '::1%eth0'));
  const zoneArb = fc.record({ zoneId: fc.constantFrom('a', 'b', 'c'), zoneDomain: fc.constantFrom('', 'a.x.example.com', 'b.x.example.com', 'bad..name', 'UP.x.example.com.'), eniId: fc.constant('eni'), eniIp: ip, ipv6: ip6, vSwitchId: fc.constant('v'), status });
  const entryArb = fc.record({ id: fc.constantFrom('ep-1', 'ep-2'), zones: fc.array(zoneArb, { maxLength: 5 }), domain: fc.constantFrom('', 'ep.x.example.com', 'a.x.example.com'), st: fc.constantFrom('Active', 'Pending') });
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 4 }), fc.subarray(['a', 'b', 'c']), (raw, prefer) => {
      const states = raw.map((r, i) => entry(r.zones, { id: `${r.id}-${i}`, names: [`n${i}.example.com`] }, { endpointDomain: r.domain, endpointStatus: r.st }));
      const { inputs } = buildTableInputs(states, prefer);
      AnswerTable.build(inputs);
      const names = inputs.flatMap((i) => i.names);
      return new Set(names).size === names.length && names.every((n) => n === n.toLowerCase() && !n.endsWith('.'));
    }),
  );
  t.pass('property held');
});
