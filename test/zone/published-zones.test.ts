import t from 'tap';
import * as fsp from 'node:fs/promises';
import { applyChanges } from '../../src/zone/apply-changes';
import { buildPolicyZones } from '../../src/zone/policy-zones';
import { PublishedZones } from '../../src/zone/published-zones';
import { serialGt } from '../../src/zone/serial';
import { loadZoneSerials } from '../../src/zone/zone-state';
import { endpoint, states, zone } from '../helpers/zone-fixture';

const ORIGIN = 'privatelink.rpz';
const RECORDS = { ttl: 30, preferZones: [] as string[], onUnavailable: 'servfail' as const };
/** The fixture plus an endpoint without zone domains, so a change in one zone stays out of the other zone's view. */
const base = (kIp = '10.9.2.1') => [...states(), endpoint('ep-y', ['y.example.com'], [zone('cn-hangzhou-j', '10.9.1.1'), zone('cn-hangzhou-k', kIp)])];
const build = (data = base()) => buildPolicyZones(data, { origin: ORIGIN, records: RECORDS }).views.map((v) => v.zone);
const moved = () => base('10.9.2.2');

function spyFs(): { fs: typeof fsp; writes: () => number } {
  let writes = 0;
  const fs = { ...fsp, open: (async (...args: Parameters<typeof fsp.open>) => {
    if (args[1] === 'wx') writes++;
    return fsp.open(...args);
  }) as typeof fsp.open };
  return { fs, writes: () => writes };
}

t.test('serials: the time of a change, kept while the content is unchanged, kept across a restart', async (t) => {
  const dir = t.testdir({});
  let nowMs = 1_800_000_000_000;
  const spy = spyFs();
  const hub = new PublishedZones({ dir, now: () => nowMs, fs: spy.fs });
  await hub.load();
  const first = await hub.publish(build());
  t.same(first.changed.map((z) => [z.origin, z.serial]), [
    [ORIGIN, 1_800_000_000],
    [`cn-hangzhou-j.${ORIGIN}`, 1_800_000_000],
    [`cn-hangzhou-k.${ORIGIN}`, 1_800_000_000],
  ]);
  t.equal(spy.writes(), 1);

  nowMs += 60_000;
  const same = await hub.publish(build([...base()].reverse()));
  t.same(same.changed, [], 'same data in another order: no change');
  t.equal(spy.writes(), 1, 'and no write');
  t.equal(hub.get(ORIGIN)?.serial, 1_800_000_000);

  const restarted = new PublishedZones({ dir, now: () => nowMs });
  await restarted.load();
  const again = await restarted.publish(build());
  t.same(again.changed.map((z) => z.serial), [1_800_000_000, 1_800_000_000, 1_800_000_000], 'after a restart: the same serials for the same content');

  const changed = await restarted.publish(build(moved()));
  t.same(changed.changed.map((z) => z.origin), [ORIGIN, `cn-hangzhou-k.${ORIGIN}`], 'only the views whose content changed');
  t.equal(restarted.get(ORIGIN)?.serial, 1_800_000_060);
  t.equal(restarted.get(`cn-hangzhou-j.${ORIGIN}`)?.serial, 1_800_000_000);
  t.equal((await loadZoneSerials(dir)).get(ORIGIN)?.serial, 1_800_000_060, 'persisted');
});

t.test('a clock that went back never makes a serial go back', async (t) => {
  const dir = t.testdir({});
  let nowMs = 1_800_000_000_000;
  const a = new PublishedZones({ dir, now: () => nowMs });
  await a.publish(build());
  nowMs -= 3_600_000;
  const b = new PublishedZones({ dir, now: () => nowMs });
  await b.load();
  await b.publish(build(moved()));
  t.equal(b.get(ORIGIN)?.serial, 1_800_000_001);
  await b.publish(build());
  t.equal(b.get(ORIGIN)?.serial, 1_800_000_002);
  t.ok(serialGt(b.get(ORIGIN)?.serial ?? 0, 1_800_000_000));
});

t.test('IXFR history per zone: changes since a serial apply to that version; AXFR-style after a restart', async (t) => {
  let nowMs = 1_800_000_000_000;
  const hub = new PublishedZones({ dir: null, now: () => nowMs });
  await hub.publish(build());
  const v1 = hub.get(ORIGIN);
  nowMs += 1000;
  await hub.publish(build(moved()));
  nowMs += 1000;
  await hub.publish(build());
  const v3 = hub.get(ORIGIN);
  if (!v1 || !v3) throw new Error('zones missing');
  const chain = hub.changesSince(ORIGIN, v1.serial);
  t.same(chain?.map((c) => [c.fromSerial, c.toSerial]), [[1_800_000_000, 1_800_000_001], [1_800_000_001, 1_800_000_002]]);
  t.same(applyChanges(v1, chain ?? []), v3, 'the chain rebuilds the current zone');
  t.same(hub.changesSince(ORIGIN, v3.serial), [], 'up to date');
  t.same(hub.changesSince(`cn-hangzhou-j.${ORIGIN}`, 1_800_000_000), [], 'a view that never changed is up to date');
  t.equal(hub.changesSince('unknown.rpz', 1), undefined);
  const fresh = new PublishedZones({ dir: null, now: () => nowMs });
  await fresh.publish(build());
  t.equal(fresh.changesSince(ORIGIN, v1.serial), undefined, 'no history after a restart');
});

t.test('a view whose availability zone left the data stops being published', async (t) => {
  const hub = new PublishedZones({ dir: t.testdir({}), now: () => 1_800_000_000_000 });
  await hub.publish(build());
  const data = base().map((s) => ({ ...s, zones: s.zones.filter((z) => z.zoneId !== 'cn-hangzhou-j') }));
  const r = await hub.publish(build(data));
  t.same(r.removed, [`cn-hangzhou-j.${ORIGIN}`]);
  t.same(hub.origins().sort(), [`cn-hangzhou-k.${ORIGIN}`, ORIGIN]);
  t.equal(hub.get(`cn-hangzhou-j.${ORIGIN}`), undefined);
});

t.test('a failed serial write rejects ZONE_STATE_WRITE but the new zones are served', async (t) => {
  const fs = { ...fsp, rename: async () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
  const hub = new PublishedZones({ dir: t.testdir({}), now: () => 1_800_000_000_000, fs });
  await t.rejects(hub.publish(build()), { code: 'ZONE_STATE_WRITE' });
  t.equal(hub.get(ORIGIN)?.serial, 1_800_000_000);
});
