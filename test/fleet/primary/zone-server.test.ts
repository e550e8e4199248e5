import t from 'tap';
import { randomBytes } from 'node:crypto';
import { CLASS_IN, RCODE_NOTAUTH, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../../src/fleet/codec/message';
import { signRequest, TsigStreamVerifier, type TsigKey } from '../../../src/fleet/codec/tsig';
import { zoneRecordToWire, wireToZoneRecord } from '../../../src/fleet/codec/zone-record-wire';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { parseSoa } from '../../../src/fleet/codec/soa';
import { createLogger } from '../../../src/runtime/log';
import type { EntryState } from '../../../src/privatelink/model';
import { ZonePublisher } from '../../../src/fleet/primary/zone-publisher';
import { ZoneServer, type TransferKind, type ServedResult } from '../../../src/fleet/primary/zone-server';
import { TransferAcl } from '../../../src/fleet/primary/transfer-acl';
import { tsigAuthenticator } from '../../../src/fleet/primary/tsig-auth';

// The hub's zone side without sockets: requests built with our codec (and signed with our TSIG),
// answers decoded record by record.

const key: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const wrongKey: TsigKey = { ...key, secret: randomBytes(32) };

function state(id: string, zones: [string, string][]): EntryState {
  return {
    id,
    kind: 'endpoint',
    names: [`${id}.example.com`],
    endpoint: { endpointId: id, endpointName: '', serviceName: '', endpointDomain: '', endpointStatus: 'Active', connectionStatus: 'Connected' },
    zones: zones.map(([zoneId, ip]) => ({ zoneId, zoneDomain: '', eniId: '', eniIp: ip, ipv6: '', vSwitchId: '', status: 'Connected' })),
    source: 'sync',
    stale: false,
  };
}

// The hub's clock; the data of every update is fetched "now" by it.
let clock = 0;
const fetchedNow = () => ({ fetchedAtMs: clock });

function setup(nowSec = 1_800_000_000) {
  const served: [TransferKind, ServedResult][] = [];
  const serials: [string, number][] = [];
  clock = nowSec * 1000;
  const publisher = new ZonePublisher({
    origin: 'privatelink.rpz',
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' },
    journal: { maxChanges: 10, maxRecords: 1000 },
    serials: undefined,
    logger: createLogger('silent'),
    onNewSerial: (origin, serial) => serials.push([origin, serial]),
    nowMs: () => clock,
  });
  const server = new ZoneServer({
    publisher,
    acl: new TransferAcl({ networks: ['10.20.0.0/16'], keys: ['fleet'] }),
    authenticate: tsigAuthenticator([key]),
    observer: { served: (k, r) => served.push([k, r]) },
    logger: createLogger('silent'),
  });
  return { publisher, server, served, serials, tick: (s: number) => (clock += s * 1000) };
}

function request(name: string, type: number, opts: { key?: TsigKey; soaSerial?: number; id?: number } = {}): Buffer {
  const authorities = opts.soaSerial === undefined ? [] : [zoneRecordToWire({ name, type: RRType.SOA, ttl: 0, data: `localhost hostmaster.${name} ${opts.soaSerial} 60 10 1209600 30` })];
  const msg = encodeMessage({ id: opts.id ?? 4242, flags: 0, question: { name, type, class: CLASS_IN }, authorities });
  return opts.key ? signRequest(msg, opts.key).message : msg;
}

function messages(reply: unknown): Buffer[] {
  if (reply === null || reply === undefined) return [];
  if (Buffer.isBuffer(reply)) return [reply];
  return [...(reply as Iterable<Buffer>)];
}

const records = (ms: Buffer[]): ZoneRecord[] => ms.flatMap((m) => parseMessage(m).answers.flatMap((a) => wireToZoneRecord(a) ?? []));
const inside = { address: '10.20.1.5', port: 5353 };
const outside = { address: '192.0.2.9', port: 5353 };

t.test('AXFR over TCP: SOA, the data, SOA; the client ID on every message; counted once', async (t) => {
  const { publisher, server, served, serials } = setup();
  publisher.update([state('ep-a', [['cn-hangzhou-j', '10.0.0.1'], ['cn-hangzhou-k', '10.0.0.2']])], fetchedNow());
  t.same(serials.map(([o]) => o), ['privatelink.rpz', 'cn-hangzhou-j.privatelink.rpz', 'cn-hangzhou-k.privatelink.rpz'], 'the main zone and one view per availability zone');
  const ms = messages(server.handle(request('privatelink.rpz', RRType.AXFR), inside, 'tcp'));
  t.ok(ms.length >= 1);
  for (const m of ms) t.equal(m.readUInt16BE(0), 4242);
  const rs = records(ms);
  t.equal(rs[0]?.type, RRType.SOA);
  t.equal(rs[rs.length - 1]?.type, RRType.SOA);
  t.same(rs.filter((r) => r.name === 'ep-a.example.com.privatelink.rpz').map((r) => r.data).sort(), ['10.0.0.1', '10.0.0.2']);
  t.same(served, [['axfr', 'ok']]);
  const view = records(messages(server.handle(request('cn-hangzhou-k.privatelink.rpz', RRType.AXFR), inside, 'tcp')));
  t.same(view.filter((r) => r.type === RRType.A).map((r) => r.data), ['10.0.0.2'], 'the zone-k view answers zone k only');
});

t.test('who may transfer: transfer.allow by address or by key; UDP AXFR refused; bad key NOTAUTH', async (t) => {
  const { publisher, server, served } = setup();
  publisher.update([state('ep-a', [['z1', '10.0.0.1']])], fetchedNow());
  const rcode = (r: unknown): number => parseMessage(messages(r)[0] as Buffer).rcode;
  t.equal(rcode(server.handle(request('privatelink.rpz', RRType.AXFR), outside, 'tcp')), 5, 'unsigned from outside allow: REFUSED');
  const req = signRequest(encodeMessage({ id: 77, flags: 0, question: { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN } }), key);
  const signed = messages(server.handle(req.message, outside, 'tcp'));
  t.ok(records(signed).length > 3, 'signed with key fleet: served from anywhere');
  const verifier = new TsigStreamVerifier(key, req.mac);
  for (const m of signed) t.same(verifier.verify(m, parseMessage(m)), { ok: true, signed: true }, 'every message signed, MACs chained');
  const bad = messages(server.handle(request('privatelink.rpz', RRType.AXFR, { key: wrongKey }), inside, 'tcp'));
  t.equal(parseMessage(bad[0] as Buffer).rcode, RCODE_NOTAUTH, 'wrong secret: NOTAUTH even from an allowed address');
  t.equal(rcode(server.handle(request('privatelink.rpz', RRType.AXFR), inside, 'udp')), 5, 'AXFR over UDP: REFUSED, no zone');
  t.same(served.map(([, r]) => r), ['refused', 'ok', 'notauth', 'refused']);
});

t.test('IXFR: incremental from the journal, SOA only when up to date, AXFR-style without history', async (t) => {
  const { publisher, server, tick } = setup();
  publisher.update([state('ep-a', [['z1', '10.0.0.1']])], fetchedNow());
  const first = publisher.get('privatelink.rpz')!.zone.serial;
  tick(5);
  publisher.update([state('ep-a', [['z1', '10.0.0.9']])], fetchedNow());
  const second = publisher.get('privatelink.rpz')!.zone.serial;
  t.ok(second > first, `serial moved ${first} → ${second}`);
  const inc = records(messages(server.handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: first }), inside, 'tcp')));
  t.same(inc.map((r) => (r.type === RRType.SOA ? `SOA ${parseSoa(r.data)?.serial}` : `${r.type} ${r.data}`)), [
    `SOA ${second}`, `SOA ${first}`, `1 10.0.0.1`, `SOA ${second}`, `1 10.0.0.9`, `SOA ${second}`,
  ], 'new SOA, old SOA, removed, new SOA, added, new SOA');
  const upToDate = records(messages(server.handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: second }), inside, 'tcp')));
  t.equal(upToDate.length, 1, 'up to date: our SOA alone');
  const unknownMessages = messages(server.handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: first - 100 }), inside, 'tcp'));
  const unknown = records(unknownMessages);
  t.ok(unknown.length > 3 && unknown[1]?.type !== RRType.SOA, 'no history for that serial: the whole zone, AXFR-style');
  for (const m of unknownMessages) t.same(parseMessage(m).questions[0], { name: 'privatelink.rpz', type: RRType.IXFR, class: CLASS_IN }, 'still the IXFR question');
  const axfr = messages(server.handle(request('privatelink.rpz', RRType.AXFR), inside, 'tcp'));
  t.equal(parseMessage(axfr[0] as Buffer).questions[0]?.type, RRType.AXFR, 'the shared AXFR messages keep their own question');
  const below = parseMessage(messages(server.handle(request('x.privatelink.rpz', RRType.AXFR), inside, 'tcp'))[0] as Buffer);
  t.equal(below.rcode, 5, 'AXFR of a name inside the zone: REFUSED');
  const udp = records(messages(server.handle(request('privatelink.rpz', RRType.IXFR, { soaSerial: first }), inside, 'udp')));
  t.equal(udp.length, 1, 'over UDP: the SOA alone (come back over TCP)');
});

t.test('the serial does not move when the content does not; queries inside the zone are answered', async (t) => {
  const { publisher, server, serials, tick } = setup();
  publisher.update([state('ep-a', [['z1', '10.0.0.1']])], fetchedNow());
  const n = serials.length;
  tick(60);
  publisher.update([state('ep-a', [['z1', '10.0.0.1']])], fetchedNow());
  t.equal(serials.length, n, 'no new serial, no NOTIFY');
  const soa = parseMessage(messages(server.handle(request('privatelink.rpz', RRType.SOA), inside, 'udp'))[0] as Buffer);
  t.equal(soa.answers.length, 1);
  const nx = parseMessage(messages(server.handle(request('nope.privatelink.rpz', RRType.A), inside, 'udp'))[0] as Buffer);
  t.equal(nx.rcode, 3, 'NXDOMAIN inside the zone');
  t.equal(nx.authorities[0]?.type, RRType.SOA);
  t.equal(server.handle(request('example.com', RRType.A), inside, 'udp'), undefined, 'outside our zones: not the zone side\'s business');
});

t.test('malformed messages are left to the normal path; the claim is cheap and exact', async (t) => {
  const { publisher, server } = setup();
  publisher.update([state('ep-a', [['z1', '10.0.0.1']])], fetchedNow());
  t.equal(server.handle(Buffer.from([0, 1, 0, 0, 0, 1]), inside, 'tcp'), undefined);
  const q = (qname: string, qtype: number) => ({ kind: 'query' as const, id: 1, rd: false, cd: false, qname, qtype, qclass: 1, questionEnd: 12, edns: null, raw: Buffer.alloc(12) });
  t.ok(server.claims(q('privatelink.rpz', RRType.SOA)));
  t.ok(server.claims(q('x.cn-hangzhou-j.privatelink.rpz', RRType.A)), 'names inside a view');
  t.notOk(server.claims(q('xprivatelink.rpz', RRType.A)), 'a suffix match must be on a label boundary');
  t.notOk(server.claims(q('example.com', RRType.A)));
  t.ok(server.claims(q('example.com', RRType.AXFR)), 'transfers of any zone are the zone side\'s (REFUSED)');
});

