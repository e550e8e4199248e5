import t from 'tap';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { buildPolicyZone, withSerial, zoneDigest } from '../../../src/fleet/zone/policy-zone';
import { diffZones } from '../../../src/fleet/zone/journal';
import { ZONE_SERIALS_FILE, loadZoneHistories, loadZoneSerials, loadZoneState, saveZoneHistory, saveZoneSerials, saveZoneState, zoneHistoryFile, zoneStateFile } from '../../../src/fleet/zone/zone-state';

const ORIGIN = 'cn-hangzhou-k.privatelink.rpz';
const zone = buildPolicyZone(
  [
    { id: 'a', names: ['a.example.com', '*.a.example.com'], ipv4: ['10.0.0.1'], ipv6: ['fd00::1'] },
    { id: 'd', names: ['d.example.com'], ipv4: [], ipv6: [] },
  ],
  { origin: ORIGIN, ttlS: 30, onUnavailable: 'servfail' },
  4_000_000_000,
).zone;

t.test('edge: the last zone round-trips through state_dir', async (t) => {
  const dir = t.testdir({});
  t.equal(await loadZoneState(dir, ORIGIN), undefined, 'nothing saved yet');
  await saveZoneState(dir, zone, { nowMs: 12345 });
  t.same(await fsp.readdir(dir), [zoneStateFile(ORIGIN)], 'one file, no temp left');
  t.same(await loadZoneState(dir, ORIGIN), { zone, savedAtMs: 12345 });
  t.equal(await loadZoneState(dir, 'privatelink.rpz'), undefined, 'another view has its own file');
});

t.test('edge: a corrupt or foreign file is ZONE_STATE_INVALID', async (t) => {
  const dir = t.testdir({});
  await saveZoneState(dir, zone);
  const file = join(dir, zoneStateFile(ORIGIN));
  const good = await fsp.readFile(file, 'utf8');
  const doc = JSON.parse(good) as { sha256: string; payload: { records: unknown[][]; serial: number; origin: string } };
  const reseal = async (mutate: (p: typeof doc.payload) => void): Promise<void> => {
    const copy = JSON.parse(good) as typeof doc;
    mutate(copy.payload);
    const { createHash } = await import('node:crypto');
    copy.sha256 = createHash('sha256').update(JSON.stringify(copy.payload)).digest('hex');
    await fsp.writeFile(file, JSON.stringify(copy));
  };
  const cases: [string, () => Promise<void>, RegExp][] = [
    ['truncated', () => fsp.writeFile(file, good.slice(0, good.length / 2)), /not valid JSON/],
    ['checksum', () => fsp.writeFile(file, good.replace('10.0.0.1', '10.0.0.2')), /checksum mismatch/],
    ['other format', () => fsp.writeFile(file, JSON.stringify({ format: 'x' })), /not a privatelink-dns-zone file/],
    ['version', () => fsp.writeFile(file, JSON.stringify({ ...doc, version: 9 })), /unsupported version 9/],
    ['serial vs SOA', () => reseal((p) => (p.serial = 5)), /SOA serial does not match/],
    ['record outside', () => reseal((p) => p.records.push(['x.example.org', 1, 30, '10.0.0.9'])), /outside/],
    ['bad type', () => reseal((p) => p.records.push([`x.${ORIGIN}`, 99, 30, 'x'])), /unsupported type/],
    ['no SOA', () => reseal((p) => (p.records = p.records.filter((r) => r[1] !== 6))), /exactly one SOA/],
    ['origin', () => reseal((p) => (p.origin = 'privatelink.rpz')), /holds zone "privatelink.rpz"/],
  ];
  for (const [what, corrupt, message] of cases) {
    await corrupt();
    await t.rejects(loadZoneState(dir, ORIGIN), { code: 'ZONE_STATE_INVALID', message }, what);
  }
});

t.test('edge: a failed write leaves the previous file (ZONE_STATE_WRITE)', async (t) => {
  const dir = t.testdir({});
  await saveZoneState(dir, zone, { nowMs: 1 });
  const fs = { ...fsp, rename: async () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
  await t.rejects(saveZoneState(dir, { ...zone, records: zone.records.slice(0, 2) }, { fs, nowMs: 2 }), { code: 'ZONE_STATE_WRITE', message: /EIO/ });
  t.same(await loadZoneState(dir, ORIGIN), { zone, savedAtMs: 1 });
  t.same(await fsp.readdir(dir), [zoneStateFile(ORIGIN)]);
});

t.test('hub: serials and digests per zone round-trip; corrupt is ZONE_STATE_INVALID', async (t) => {
  const dir = t.testdir({});
  t.same(await loadZoneSerials(dir), new Map());
  const serials = new Map([[ORIGIN, { serial: 7, digest: 'abc' }], ['privatelink.rpz', { serial: 2 ** 32 - 1, digest: 'def' }]]);
  await saveZoneSerials(dir, serials);
  t.same(await loadZoneSerials(dir), serials);
  await fsp.writeFile(join(dir, ZONE_SERIALS_FILE), '{"format":"privatelink-dns-zone-serials"');
  await t.rejects(loadZoneSerials(dir), { code: 'ZONE_STATE_INVALID' });
});

t.test('hub: a zone and its journal round-trip; a history that does not hold together is left out, with the reason', async (t) => {
  const dir = t.testdir({});
  t.same(await loadZoneHistories(join(dir, 'missing')), { histories: new Map(), problems: [] }, 'no directory: nothing');
  const v1 = withSerial(zone, 100);
  const v2 = withSerial({ ...zone, records: zone.records.filter((r) => r.name !== `d.example.com.${ORIGIN}`) }, 200);
  const v3 = withSerial({ ...v2, records: v2.records.filter((r) => r.data !== 'fd00::1') }, 300);
  const changes = [diffZones(v1, v2), diffZones(v2, v3)];
  await saveZoneHistory(dir, { zone: v3, digest: zoneDigest(v3), changes });
  const loaded = await loadZoneHistories(dir);
  t.same(loaded.problems, []);
  const h = loaded.histories.get(ORIGIN);
  t.equal(h?.zone.serial, 300);
  t.same(h?.zone.records, v3.records, 'the zone as published');
  t.same(h?.changes, changes, 'the journal, SOAs included');

  // A journal that does not lead to the zone (a crash between two writes, an edit by hand).
  await saveZoneHistory(dir, { zone: v3, digest: zoneDigest(v3), changes: [changes[0] as (typeof changes)[0]] });
  const broken = await loadZoneHistories(dir);
  t.equal(broken.histories.size, 0);
  t.match(broken.problems[0], /journal does not lead to the saved zone/);
  // A digest that does not match the records.
  await saveZoneHistory(dir, { zone: v3, digest: 'not-the-digest', changes });
  t.match((await loadZoneHistories(dir)).problems[0], /digest does not match/);
  // Truncated.
  await saveZoneHistory(dir, { zone: v3, digest: zoneDigest(v3), changes });
  await fsp.writeFile(join(dir, zoneHistoryFile('privatelink.rpz')), '{"format":"privatelink-dns-zone-history","ver');
  const partly = await loadZoneHistories(dir);
  t.same([...partly.histories.keys()], [ORIGIN], 'the good file is used');
  t.match(partly.problems[0], /not valid JSON/, 'the truncated one is reported');
});

t.test('edge: a zone at the bound is written a piece at a time, byte for byte the one-call JSON', async (t) => {
  const { createHash } = await import('node:crypto');
  const { Slicer } = await import('../../../src/runtime/slices');
  const inputs = Array.from({ length: 3000 }, (_, i) => ({ id: `n${i}`, names: [`n${i}.example.com`], ipv4: [`10.0.${i >> 8}.${i & 255}`], ipv6: [] }));
  const big = buildPolicyZone(inputs, { origin: ORIGIN, ttlS: 30, onUnavailable: 'servfail' }, 7).zone;
  for (const z of [big, zone]) {
    const dir = t.testdir({});
    const units: number[] = [];
    await saveZoneState(dir, z, { nowMs: 99, slicer: new Slicer({ maxUnits: 512, maxMs: Number.POSITIVE_INFINITY }, (u) => units.push(u)) });
    const payload = { origin: z.origin, serial: z.serial, savedAtMs: 99, records: z.records.map((r) => [r.name, r.type, r.ttl, r.data]) };
    const body = JSON.stringify(payload);
    const expected = `${JSON.stringify({ format: 'privatelink-dns-zone', version: 1, sha256: createHash('sha256').update(body).digest('hex'), payload })}\n`;
    t.equal(await fsp.readFile(join(dir, zoneStateFile(ORIGIN)), 'utf8'), expected, `${z.records.length} records: the same bytes`);
    t.ok(units.every((u) => u <= 512), `${units.length} slices within the bound`);
  }
});
