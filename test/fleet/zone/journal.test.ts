import t from 'tap';
import { RRType } from '../../../src/wire/constants';
import { applyChanges } from '../../../src/fleet/zone/apply-changes';
import { ZoneJournal, diffZones } from '../../../src/fleet/zone/journal';
import { buildPolicyZone, zoneSoa, type PolicyZone } from '../../../src/fleet/zone/policy-zone';
import { formatSoa, parseSoa, type Soa } from '../../../src/fleet/codec/soa';
import { zoneFromTransfer } from '../../../src/fleet/zone/zone-from-transfer';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';

const OPTS = { origin: 'privatelink.rpz', ttlS: 30, onUnavailable: 'servfail' as const };

/** Version i of a zone: name n<k> has 10.0.<i>.<k> for k < size. */
function version(i: number, size = 3): PolicyZone {
  const inputs = Array.from({ length: size }, (_, k) => ({ id: `e${k}`, names: [`n${k}.example.com`], ipv4: [`10.0.${i}.${k}`], ipv6: [] }));
  return buildPolicyZone(inputs, OPTS, 1000 + i).zone;
}

t.test('diffZones: removed and added records, SOA out of both, SOAs carried', async (t) => {
  const a = version(1);
  const inputs = [{ id: 'e0', names: ['n0.example.com'], ipv4: ['10.0.1.0'], ipv6: [] }, { id: 'e9', names: ['n9.example.com'], ipv4: [], ipv6: [] }];
  const b = buildPolicyZone(inputs, OPTS, 1002).zone;
  const d = diffZones(a, b);
  t.equal(d.fromSerial, 1001);
  t.equal(d.toSerial, 1002);
  t.same(d.removed.map((r) => `${r.name} ${r.data}`).sort(), ['n1.example.com.privatelink.rpz 10.0.1.1', 'n2.example.com.privatelink.rpz 10.0.1.2']);
  t.same(d.added.map((r) => `${r.name} ${r.data}`), ['n9.example.com.privatelink.rpz rpz-drop']);
  t.notOk([...d.removed, ...d.added].some((r) => r.type === RRType.SOA));
  t.equal(parseSoa(d.fromSoa.data)?.serial, 1001);
  t.equal(parseSoa(d.toSoa.data)?.serial, 1002);
});

t.test('changesSince: the chain from a serial to the newest, [] when current, undefined without history', async (t) => {
  const j = new ZoneJournal({ maxChanges: 10, maxRecords: 1000 });
  const vs = [1, 2, 3, 4].map((i) => version(i));
  for (let i = 1; i < vs.length; i++) j.record(vs[i - 1] as PolicyZone, vs[i] as PolicyZone);
  t.equal(j.length, 3);
  t.same(j.changesSince(1001)?.map((c) => [c.fromSerial, c.toSerial]), [[1001, 1002], [1002, 1003], [1003, 1004]]);
  t.same(j.changesSince(1003)?.map((c) => c.toSerial), [1004]);
  t.same(j.changesSince(1004), []);
  t.equal(j.changesSince(999), undefined, 'older than the history');
  t.equal(j.changesSince(5000), undefined, 'a serial we never had');
  t.equal(new ZoneJournal().changesSince(1), undefined, 'empty journal');
});

t.test('bounded by number of changes and by records, oldest dropped first', async (t) => {
  const byCount = new ZoneJournal({ maxChanges: 2, maxRecords: 1000 });
  const vs = [1, 2, 3, 4, 5].map((i) => version(i));
  for (let i = 1; i < vs.length; i++) byCount.record(vs[i - 1] as PolicyZone, vs[i] as PolicyZone);
  t.equal(byCount.length, 2);
  t.equal(byCount.oldestSerial, 1003);
  t.equal(byCount.changesSince(1002), undefined, 'history dropped: AXFR-style');
  t.same(byCount.changesSince(1003)?.length, 2);

  const byRecords = new ZoneJournal({ maxChanges: 100, maxRecords: 13 }); // each change: 3 removed + 3 added
  for (let i = 1; i < vs.length; i++) byRecords.record(vs[i - 1] as PolicyZone, vs[i] as PolicyZone);
  t.equal(byRecords.length, 2);
  t.equal(byRecords.recordCount, 12);
  t.ok(byRecords.recordCount <= 13);

  const tiny = new ZoneJournal({ maxChanges: 100, maxRecords: 5 });
  tiny.record(vs[0] as PolicyZone, vs[1] as PolicyZone);
  t.equal(tiny.length, 0, 'a change bigger than the whole budget is not kept');
  t.equal(tiny.changesSince(1001), undefined);
});

t.test('a change that does not continue the history starts it afresh', async (t) => {
  const j = new ZoneJournal();
  const [v1, v2, v3, v4] = [1, 2, 3, 4].map((i) => version(i)) as [PolicyZone, PolicyZone, PolicyZone, PolicyZone];
  j.record(v1, v2);
  j.record(v3, v4);
  t.equal(j.length, 1);
  t.equal(j.changesSince(1001), undefined);
  t.same(j.changesSince(1003)?.length, 1);
  j.record(v4, v4);
  t.equal(j.length, 1, 'same serial: nothing recorded');
});

t.test('applyChanges: the journal chain turns the old zone into the new one exactly', async (t) => {
  const j = new ZoneJournal();
  const vs = [1, 2, 3].map((i) => version(i, 4 - i));
  for (let i = 1; i < vs.length; i++) j.record(vs[i - 1] as PolicyZone, vs[i] as PolicyZone);
  const applied = applyChanges(vs[0] as PolicyZone, j.changesSince(1001) ?? []);
  t.same(applied, vs[2]);
  t.same(applyChanges(vs[0] as PolicyZone, []), vs[0], 'no changes: the same zone');
  // A change that also moves the SOA timers: the zone takes the new SOA whole, not only its serial.
  const retimed = buildPolicyZone([{ id: 'e0', names: ['n0.example.com'], ipv4: ['10.0.9.9'], ipv6: [] }], { ...OPTS, timers: { refreshS: 7 } }, 1009).zone;
  const moved = applyChanges(vs[0] as PolicyZone, [diffZones(vs[0] as PolicyZone, retimed)]);
  t.same(moved, retimed, 'the new SOA (refresh 7) comes with the change');
  t.equal(parseSoa(zoneSoa(moved).data)?.refreshS, 7);
});

t.test('applyChanges refuses what does not fit (ZONE_DATA_INVALID)', async (t) => {
  const [v1, v2, v3] = [1, 2, 3].map((i) => version(i)) as [PolicyZone, PolicyZone, PolicyZone];
  const d12 = diffZones(v1, v2);
  const d23 = diffZones(v2, v3);
  t.throws(() => applyChanges(v2, [d12]), { code: 'ZONE_DATA_INVALID', message: /starts at serial 1001, we hold 1002/ });
  t.throws(() => applyChanges(v1, [d12, d12]), { code: 'ZONE_DATA_INVALID' }, 'a gap in the chain');
  t.throws(() => applyChanges(v1, [{ ...d12, removed: [...d12.removed, { name: 'x.privatelink.rpz', type: 1, ttl: 30, data: '10.9.9.9' }] }]), {
    code: 'ZONE_DATA_INVALID',
    message: /which we do not hold/,
  });
  t.throws(() => applyChanges(v1, [{ ...d12, added: [{ name: 'x.example.org', type: 1, ttl: 30, data: '10.9.9.9' }] }]), { message: /outside the zone/ });
  t.same(applyChanges(v1, [d12, d23]), v3);
});

t.test('zoneFromTransfer: AXFR records (SOA first and last) back into the zone; broken transfers refused', async (t) => {
  const v = version(1);
  const [soa, ...rest] = v.records;
  const axfr = [soa, ...[...rest].reverse(), soa] as ZoneRecord[];
  t.same(zoneFromTransfer('PrivateLink.rpz.', axfr), v);
  const other: ZoneRecord = { ...(soa as ZoneRecord), data: formatSoa({ ...(parseSoa((soa as ZoneRecord).data) as Soa), serial: 1002 }) };
  t.throws(() => zoneFromTransfer('privatelink.rpz', [...axfr, other]), { code: 'ZONE_DATA_INVALID', message: /2 different SOA/ });
  t.throws(() => zoneFromTransfer('privatelink.rpz', rest), { code: 'ZONE_DATA_INVALID', message: /0 different SOA/ });
  t.throws(() => zoneFromTransfer('privatelink.rpz', [...axfr, { name: 'x.example.org', type: 1, ttl: 30, data: '10.0.0.1' }]), {
    code: 'ZONE_DATA_INVALID',
    message: /outside the zone/,
  });
  t.throws(() => zoneFromTransfer('privatelink.rpz', [{ ...(soa as ZoneRecord), data: 'garbage' }]), { message: /malformed SOA/ });
});
