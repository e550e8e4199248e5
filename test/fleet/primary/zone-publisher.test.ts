import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CLASS_IN, RCode, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../../src/fleet/codec/message';
import { signRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { zoneRecordToWire, wireToZoneRecord } from '../../../src/fleet/codec/zone-record-wire';
import { createLogger } from '../../../src/runtime/log';
import { dataFetchedAtMs, type EntryState } from '../../../src/privatelink/model';
import { ZonePublisher, type ZonePublisherOptions } from '../../../src/fleet/primary/zone-publisher';
import { ZoneServer } from '../../../src/fleet/primary/zone-server';
import { TransferAcl } from '../../../src/fleet/primary/transfer-acl';
import { tsigAuthenticator } from '../../../src/fleet/primary/tsig-auth';
import { SecondaryRegistry } from '../../../src/fleet/primary/secondary-registry';
import { loadZoneHistories, loadZoneSerials, saveZoneHistory, saveZoneSerials, ZONE_SERIALS_FILE, zoneHistoryFile } from '../../../src/fleet/zone/zone-state';

// "Publish only what you have", serials from the data's fetch time, the journal kept over a
// restart, and the secondaries a hub learns from the requests it serves.

const key: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7) };
const edgeKey: TsigKey = { name: 'edge-group-b', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 9) };
const HOUR = 3_600_000;

function state(ip: string, fetchedAtMs?: number, apiFetchedAtMs?: number): EntryState {
  return {
    id: 'ep-a',
    kind: 'endpoint',
    names: ['svc.example.com'],
    ...(fetchedAtMs === undefined ? {} : { endpoint: { endpointId: 'ep-a', endpointName: '', serviceName: '', endpointDomain: '', endpointStatus: 'Active', connectionStatus: 'Connected' } }),
    zones: fetchedAtMs === undefined ? [] : [{ zoneId: 'z1', zoneDomain: '', eniId: '', eniIp: ip, ipv6: '', vSwitchId: '', status: 'Connected' }],
    source: 'sync',
    ...(fetchedAtMs === undefined ? {} : { fetchedAtMs }),
    ...(apiFetchedAtMs === undefined ? {} : { apiFetchedAtMs }),
    stale: fetchedAtMs === undefined,
  };
}

function publisher(o: { dir?: string; nowMs?: number; onNewSerial?: (origin: string, serial: number) => void } = {}): ZonePublisher {
  const dir = o.dir;
  const options: ZonePublisherOptions = {
    origin: 'privatelink.rpz',
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' },
    journal: { maxChanges: 10, maxRecords: 1000 },
    serials: dir ? { load: () => loadZoneSerials(dir), save: (s) => saveZoneSerials(dir, s) } : undefined,
    history: dir ? { load: () => loadZoneHistories(dir), save: (h) => saveZoneHistory(dir, h) } : undefined,
    logger: createLogger('silent'),
    onNewSerial: o.onNewSerial ?? (() => {}),
    nowMs: () => o.nowMs ?? Date.now(),
  };
  return new ZonePublisher(options);
}

function server(p: ZonePublisher, registry?: SecondaryRegistry): ZoneServer {
  return new ZoneServer({
    publisher: p,
    acl: new TransferAcl({ networks: ['10.20.0.0/16'], keys: ['fleet', 'edge-group-b'] }),
    authenticate: tsigAuthenticator([key, edgeKey]),
    observer: { served: () => {} },
    logger: createLogger('silent'),
    ...(registry ? { secondaries: registry } : {}),
  });
}

function request(name: string, type: number, opts: { key?: TsigKey; soaSerial?: number } = {}): Buffer {
  const authorities = opts.soaSerial === undefined ? [] : [zoneRecordToWire({ name, type: RRType.SOA, ttl: 0, data: `localhost hostmaster.${name} ${opts.soaSerial} 60 10 1209600 30` })];
  const msg = encodeMessage({ id: 99, flags: 0, question: { name, type, class: CLASS_IN }, authorities });
  return opts.key ? signRequest(msg, opts.key).message : msg;
}

const first = (reply: unknown): Buffer => (Buffer.isBuffer(reply) ? reply : ([...(reply as Iterable<Buffer>)][0] as Buffer));
const all = (reply: unknown): Buffer[] => (Buffer.isBuffer(reply) ? [reply] : [...(reply as Iterable<Buffer>)]);
const inside = { address: '10.20.1.5', port: 40000 };
const outside = { address: '192.0.2.9', port: 40000 };

t.test('dataFetchedAtMs: undefined until every cloud entry has data; the oldest fetch, by the API clock when known', async (t) => {
  const now = 1_800_000_000_000;
  t.equal(dataFetchedAtMs([state('10.0.0.1')], now), undefined, 'never fetched: no data');
  t.equal(dataFetchedAtMs([state('10.0.0.1', now - 5000), { ...state('10.0.0.2'), id: 'ep-b' }], now), undefined, 'one entry never fetched: no data');
  t.equal(dataFetchedAtMs([state('10.0.0.1', now - 5000), { ...state('10.0.0.2', now - 9000), id: 'ep-b' }], now), now - 9000, 'the oldest fetch');
  t.equal(dataFetchedAtMs([state('10.0.0.1', now + HOUR, now - 2000)], now), now - 2000, 'the API clock over a fast local one');
  t.equal(dataFetchedAtMs([{ id: 'static:x', kind: 'static', names: ['x.example'], zones: [], addresses: { ipv4: ['10.1.1.1'], ipv6: [] }, source: 'static', stale: false }], now), now, 'static entries only: config is the data, now');
});

t.test('before any data: nothing published, every zone request SERVFAIL (REFUSED outside the ACL), no NOTIFY', async (t) => {
  const serials: number[] = [];
  const p = publisher({ onNewSerial: (_o, s) => serials.push(s) });
  const s = server(p);
  p.update([state('10.0.0.1')], { fetchedAtMs: undefined });
  t.notOk(p.hasData);
  t.same(serials, [], 'no serial, so no NOTIFY');
  for (const type of [RRType.SOA, RRType.AXFR, RRType.A]) {
    t.equal(parseMessage(first(s.handle(request('privatelink.rpz', type), inside, 'tcp'))).rcode, RCode.SERVFAIL, `type ${type}: SERVFAIL`);
  }
  t.equal(parseMessage(first(s.handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: 5 }), inside, 'tcp'))).rcode, RCode.SERVFAIL, 'IXFR: SERVFAIL');
  t.equal(parseMessage(first(s.handle(request('privatelink.rpz', RRType.SOA, { key }), outside, 'udp'))).rcode, RCode.SERVFAIL, 'signed from anywhere: SERVFAIL');
  t.equal(parseMessage(first(s.handle(request('privatelink.rpz', RRType.SOA), outside, 'udp'))).rcode, RCode.REFUSED, 'unsigned from outside: REFUSED as ever');
  const q = { kind: 'query' as const, id: 1, rd: false, cd: false, qname: 'privatelink.rpz', qtype: RRType.SOA, qclass: 1, questionEnd: 12, edns: null, raw: Buffer.alloc(12) };
  t.ok(s.claims(q), 'the zone side claims the SOA query before publishing (never forwarded)');

  const at = 1_800_000_000_000;
  p.update([state('10.0.0.1', at)], { fetchedAtMs: at });
  t.ok(p.hasData);
  t.same([...new Set(serials)], [at / 1000], 'the zone and its view published under the data time');
  t.equal(parseMessage(first(s.handle(request('privatelink.rpz', RRType.SOA), inside, 'udp'))).rcode, RCode.NOERROR);
  p.update([state('10.0.0.1')], { fetchedAtMs: undefined });
  t.ok(p.hasData, 'a data-less state later (a reload added an entry) keeps what is published');
  t.equal(p.get('privatelink.rpz')?.zone.records.some((r) => r.data === '10.0.0.1'), true);
});

t.test('the serial is the data time, not the clock: a hub whose clock runs an hour fast gets the same serial', async (t) => {
  const api = 1_800_000_000_000;
  const honest = publisher({ nowMs: api + 700 });
  const fast = publisher({ nowMs: api + HOUR });
  honest.update([state('10.0.0.1', api + 700, api)], { fetchedAtMs: dataFetchedAtMs([state('10.0.0.1', api + 700, api)], api + 700) });
  fast.update([state('10.0.0.1', api + HOUR, api)], { fetchedAtMs: dataFetchedAtMs([state('10.0.0.1', api + HOUR, api)], api + HOUR) });
  t.equal(fast.get('privatelink.rpz')?.zone.serial, honest.get('privatelink.rpz')?.zone.serial, 'same data, same API time: same serial');
  fast.update([state('10.0.0.1', api + 2 * HOUR, api + HOUR)], { fetchedAtMs: api + HOUR });
  t.equal(fast.get('privatelink.rpz')?.zone.serial, api / 1000, 'a later fetch of the same content keeps the serial');
  honest.update([state('10.0.0.9', api + 60_000, api + 60_000)], { fetchedAtMs: api + 60_000 });
  t.ok((honest.get('privatelink.rpz')?.zone.serial ?? 0) > (fast.get('privatelink.rpz')?.zone.serial ?? 0), 'newer data at the honest hub outranks the fast one');
});

t.test('restart: the journal survives in state_dir (IXFR, not a full transfer); a corrupt serial store never jumps', async (t) => {
  const dir = t.testdir({});
  const t0 = 1_800_000_000_000;
  const a = publisher({ dir });
  await a.init();
  a.update([state('10.0.0.1', t0)], { fetchedAtMs: t0 });
  a.update([state('10.0.0.2', t0 + 60_000)], { fetchedAtMs: t0 + 60_000 });
  a.update([state('10.0.0.3', t0 + 120_000)], { fetchedAtMs: t0 + 120_000 });
  await a.flushed();
  const s1 = t0 / 1000;
  const s3 = (t0 + 120_000) / 1000;
  t.equal(a.get('privatelink.rpz')?.zone.serial, s3);

  // Restart with the same data (from the snapshot, fetched again later): same serial, journal back.
  const b = publisher({ dir, nowMs: t0 + 10 * HOUR });
  await b.init();
  b.update([state('10.0.0.3', t0 + 180_000)], { fetchedAtMs: t0 + 180_000 });
  t.equal(b.get('privatelink.rpz')?.zone.serial, s3, 'unchanged content keeps its serial over the restart');
  t.equal(b.get('privatelink.rpz')?.journal.length, 2, 'both changes back in the journal');
  const inc = all(server(b).handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: s1 }), inside, 'tcp'));
  const recs = inc.flatMap((m) => parseMessage(m).answers.flatMap((r) => wireToZoneRecord(r) ?? []));
  t.same(recs.filter((r) => r.type === RRType.SOA).map((r) => Number(r.data.split(' ')[2])), [s3, s1, s1 + 60, s1 + 60, s3, s3], 'an incremental answer from the first serial');

  // A change after the restart continues the journal from the saved zone.
  b.update([state('10.0.0.4', t0 + 240_000)], { fetchedAtMs: t0 + 240_000 });
  await b.flushed();
  t.equal(b.get('privatelink.rpz')?.journal.length, 3, 'the first change after the restart is journalled against the saved zone');

  // Corrupt serial store and no history: the data time, never "now" (ten hours later).
  writeFileSync(join(dir, ZONE_SERIALS_FILE), '{"format":"privatelink-dns-zone-serials","vers');
  writeFileSync(join(dir, zoneHistoryFile('privatelink.rpz')), 'garbage');
  const c = publisher({ dir, nowMs: t0 + 10 * HOUR });
  await c.init();
  c.update([state('10.0.0.4', t0 + 240_000)], { fetchedAtMs: t0 + 240_000 });
  t.equal(c.get('privatelink.rpz')?.zone.serial, (t0 + 240_000) / 1000, 'the data time of the snapshot, not the clock');
});

t.test('learned secondaries: signed SOA checks and transfers teach address + key; unsigned ones do not', async (t) => {
  let now = 1_800_000_000_000;
  const registry = new SecondaryRegistry({ expireMs: 60_000, maxEntries: 3, notifyPort: 53, nowMs: () => now });
  const p = publisher();
  p.update([state('10.0.0.1', now)], { fetchedAtMs: now });
  const s = server(p, registry);
  const serial = p.get('privatelink.rpz')?.zone.serial as number;
  s.handle(request('privatelink.rpz', RRType.SOA), inside, 'udp');
  t.same(registry.targets('privatelink.rpz'), [], 'an unsigned SOA check teaches nothing (its source could be spoofed)');
  s.handle(request('privatelink.rpz', RRType.SOA, { key: edgeKey }), { address: '10.20.3.3', port: 1111 }, 'udp');
  s.handle(request('privatelink.rpz', RRType.IXFR, { key, soaSerial: serial - 5 }), { address: '192.0.2.50', port: 2222 }, 'tcp');
  t.same(
    registry.targets('privatelink.rpz').map((x) => `${x.target.host}:${x.target.port} ${x.keyName}`).sort(),
    ['10.20.3.3:53 edge-group-b', '192.0.2.50:53 fleet'],
    'each at its DNS port, with the key it signed with',
  );
  t.equal(registry.keyOf('10.20.3.3'), 'edge-group-b');
  const status = registry.status();
  t.equal(status.find((x) => x.address === '192.0.2.50')?.zones[0]?.serial, serial - 5, 'the serial an IXFR said it holds');
  t.equal(status.find((x) => x.address === '10.20.3.3')?.zones[0]?.serial, null, 'an SOA check alone does not say');
  t.same(registry.targets('other.zone'), [], 'per zone');
  now += 30_000;
  s.handle(request('privatelink.rpz', RRType.SOA, { key: edgeKey }), { address: '10.20.3.3', port: 1112 }, 'udp');
  now += 40_000;
  t.same(registry.targets('privatelink.rpz').map((x) => x.target.host), ['10.20.3.3'], 'silent past the expiry: forgotten');
  for (const a of ['10.20.9.1', '10.20.9.2', '10.20.9.3']) {
    now += 1;
    s.handle(request('privatelink.rpz', RRType.SOA, { key }), { address: a, port: 1 }, 'udp');
  }
  t.equal(registry.size, 3, 'bounded: the longest silent makes room');
  t.notOk(registry.targets('privatelink.rpz').some((x) => x.target.host === '10.20.3.3'), 'the longest silent went');
});
