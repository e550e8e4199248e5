import t from 'tap';
import { CLASS_IN, FLAG_AA, FLAG_CD, FLAG_RD, FLAG_TC, OPCODE_NOTIFY, RRType, TYPE_TSIG } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage, type WireRecord } from '../../../src/fleet/codec/message';
import { signRequest, TsigStreamVerifier, type TsigKey } from '../../../src/fleet/codec/tsig';
import { createLogger } from '../../../src/runtime/log';
import type { EntryState } from '../../../src/privatelink/model';
import { ZonePublisher } from '../../../src/fleet/primary/zone-publisher';
import { ZoneServer, type NotifyReceiver } from '../../../src/fleet/primary/zone-server';
import { TransferAcl } from '../../../src/fleet/primary/transfer-acl';
import { tsigAuthenticator } from '../../../src/fleet/primary/tsig-auth';

// Issue 23 item 1 (and 8 for the zone side): RFC 6891 on every answer of the zone service, and
// the NSID option when asked; without sockets, answers decoded with our codec.

const key: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7) };
const NSID = Buffer.from('hub-1.dc2');
const inside = { address: '10.20.1.5', port: 5353 };

function state(id: string, zoneCount: number): EntryState {
  const zones = Array.from({ length: zoneCount }, (_, i) => ({ zoneId: `z${i}`, zoneDomain: '', eniId: '', eniIp: `10.0.${i >> 8}.${(i & 255) + 1}`, ipv6: '', vSwitchId: '', status: 'Connected' }));
  return {
    id,
    kind: 'endpoint',
    names: [`${id}.example.com`],
    endpoint: { endpointId: id, endpointName: '', serviceName: '', endpointDomain: '', endpointStatus: 'Active', connectionStatus: 'Connected' },
    zones,
    source: 'sync',
    stale: false,
  };
}

function setup(options: { nsid?: Buffer; notifyReceiver?: NotifyReceiver; zones?: number } = {}) {
  const publisher = new ZonePublisher({
    origin: 'privatelink.rpz',
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' },
    journal: { maxChanges: 10, maxRecords: 1000 },
    serials: undefined,
    logger: createLogger('silent'),
    onNewSerial: () => {},
    nowMs: () => 1_800_000_000_000,
  });
  publisher.update([state('ep-a', options.zones ?? 2)], { fetchedAtMs: 1_800_000_000_000 });
  const served: string[] = [];
  const server = new ZoneServer({
    publisher,
    acl: new TransferAcl({ networks: ['10.20.0.0/16'], keys: ['fleet'] }),
    authenticate: tsigAuthenticator([key]),
    observer: { served: (k, r) => served.push(`${k} ${r}`) },
    logger: createLogger('silent'),
    ...(options.nsid ? { nsid: options.nsid.toString('latin1') } : {}),
    ...(options.notifyReceiver ? { notifyReceiver: options.notifyReceiver } : {}),
  });
  return { server, served };
}

interface EdnsRequest {
  readonly udpSize?: number;
  readonly version?: number;
  readonly dnssecOk?: boolean;
  /** Raw option bytes (code, length, data...). */
  readonly options?: Buffer;
  /** Extra Z flag bits (RFC 6891 says: ignore them). */
  readonly zFlags?: number;
}

function opt(e: EdnsRequest): WireRecord {
  const flags = (e.dnssecOk ? 0x8000 : 0) | (e.zFlags ?? 0);
  return { name: '', type: RRType.OPT, class: e.udpSize ?? 1232, ttl: ((e.version ?? 0) << 16) | flags, rdata: e.options ?? Buffer.alloc(0) };
}

const NSID_OPTION = Buffer.from([0, 3, 0, 0]);
const UNKNOWN_OPTION = Buffer.from([0, 100, 0, 2, 0xab, 0xcd]);

function request(name: string, type: number, o: { edns?: EdnsRequest | EdnsRequest[]; flags?: number; opcode?: number; sign?: boolean } = {}): { message: Buffer; mac?: Buffer } {
  const edns = o.edns === undefined ? [] : Array.isArray(o.edns) ? o.edns : [o.edns];
  const msg = encodeMessage({ id: 4242, flags: ((o.opcode ?? 0) << 11) | (o.flags ?? 0), question: { name, type, class: CLASS_IN }, additionals: edns.map(opt) });
  if (!o.sign) return { message: msg };
  const signed = signRequest(msg, key);
  return { message: signed.message, mac: signed.mac };
}

function messages(reply: unknown): Buffer[] {
  if (reply === null || reply === undefined) return [];
  if (Buffer.isBuffer(reply)) return [reply];
  return [...(reply as Iterable<Buffer>)];
}

function one(reply: unknown): DnsMessage {
  const ms = messages(reply);
  if (ms.length !== 1) throw new Error(`expected one message, got ${ms.length}`);
  return parseMessage(ms[0] as Buffer);
}

function optOf(m: DnsMessage) {
  const opts = m.additionals.filter((r) => r.type === RRType.OPT);
  if (opts.length === 0) return undefined;
  const o = opts[0]!;
  const options: { code: number; data: Buffer }[] = [];
  for (let i = 0; i + 4 <= o.rdata.length; i += 4 + o.rdata.readUInt16BE(i + 2)) {
    options.push({ code: o.rdata.readUInt16BE(i), data: o.rdata.subarray(i + 4, i + 4 + o.rdata.readUInt16BE(i + 2)) });
  }
  return { count: opts.length, payload: o.class, version: (o.ttl >>> 16) & 0xff, dnssecOk: (o.ttl & 0x8000) !== 0, zFlags: o.ttl & 0x7fff, options };
}

t.test('SOA: OPT echoed with our payload, DO copied, unknown options and flags ignored; none without EDNS', async (t) => {
  const { server } = setup();
  for (const protocol of ['udp', 'tcp'] as const) {
    const plain = one(server.handle(request('privatelink.rpz', RRType.SOA).message, inside, protocol));
    t.equal(plain.rcode, 0);
    t.equal(optOf(plain), undefined, `${protocol}: no EDNS in, no OPT out`);
    const cases: [string, EdnsRequest, boolean][] = [
      ['EDNS', { udpSize: 4096 }, false],
      ['DO', { udpSize: 1232, dnssecOk: true }, true],
      ['unknown option', { options: UNKNOWN_OPTION }, false],
      ['unknown flag', { zFlags: 0x4000 }, false],
      ['payload 512', { udpSize: 512 }, false],
    ];
    for (const [label, edns, dnssecOk] of cases) {
      const m = one(server.handle(request('privatelink.rpz', RRType.SOA, { edns }).message, inside, protocol));
      t.equal(m.rcode, 0, `${protocol} ${label}: NOERROR`);
      t.equal(m.answers.length, 1, `${protocol} ${label}: the SOA`);
      t.ok((m.flags & FLAG_AA) !== 0, `${protocol} ${label}: AA`);
      t.same(optOf(m), { count: 1, payload: 1232, version: 0, dnssecOk, zFlags: 0, options: [] }, `${protocol} ${label}: our OPT`);
    }
  }
});

t.test('EDNS version 1: BADVERS with our OPT (version 0), no AA, no records, RD and CD echoed', async (t) => {
  const { server, served } = setup();
  for (const protocol of ['udp', 'tcp'] as const) {
    const m = one(server.handle(request('privatelink.rpz', RRType.SOA, { edns: { version: 1, dnssecOk: true }, flags: FLAG_RD | FLAG_CD }).message, inside, protocol));
    t.equal(m.rcode, 16, `${protocol}: BADVERS (extended rcode)`);
    t.equal(m.flags & 0x0f, 0, 'the header carries the low 4 bits: 0');
    t.equal(m.flags & FLAG_AA, 0, 'no AA');
    t.equal(m.flags & (FLAG_RD | FLAG_CD), FLAG_RD | FLAG_CD, 'RD and CD echoed');
    t.equal(m.answers.length + m.authorities.length, 0);
    t.match(optOf(m), { payload: 1232, version: 0, dnssecOk: true });
  }
  const axfr = one(server.handle(request('privatelink.rpz', RRType.AXFR, { edns: { version: 2 } }).message, inside, 'tcp'));
  t.equal(axfr.rcode, 16, 'a transfer request with version 2: BADVERS, no transfer');
  t.ok(served.every((s) => s.endsWith('formerr')), `counted as formerr: ${served.join(', ')}`);
});

t.test('two OPT records: FORMERR without OPT', async (t) => {
  const { server } = setup();
  const m = one(server.handle(request('privatelink.rpz', RRType.SOA, { edns: [{}, {}] }).message, inside, 'udp'));
  t.equal(m.rcode, 1);
  t.equal(optOf(m), undefined);
});

t.test('refusals and NXDOMAIN carry the OPT too; AA only on data', async (t) => {
  const { server } = setup();
  const outside = { address: '192.0.2.9', port: 53 };
  const refused = one(server.handle(request('privatelink.rpz', RRType.SOA, { edns: { dnssecOk: true } }).message, outside, 'udp'));
  t.equal(refused.rcode, 5);
  t.equal(refused.flags & FLAG_AA, 0, 'REFUSED: no AA');
  t.match(optOf(refused), { payload: 1232, dnssecOk: true });
  const nx = one(server.handle(request('nope.privatelink.rpz', RRType.A, { edns: {} }).message, inside, 'udp'));
  t.equal(nx.rcode, 3);
  t.ok((nx.flags & FLAG_AA) !== 0, 'NXDOMAIN in our zone: AA');
  t.ok(optOf(nx));
  const udpAxfr = one(server.handle(request('privatelink.rpz', RRType.AXFR, { edns: {} }).message, inside, 'udp'));
  t.equal(udpAxfr.rcode, 5, 'AXFR over UDP: REFUSED');
  t.ok(optOf(udpAxfr), 'with OPT');
});

t.test('a signed AXFR with EDNS: OPT in every message (as BIND), before the TSIG; every MAC verifies', async (t) => {
  const { server } = setup({ nsid: NSID, zones: 2500 });
  const req = request('privatelink.rpz', RRType.AXFR, { edns: { dnssecOk: true, options: NSID_OPTION }, sign: true });
  const ms = messages(server.handle(req.message, inside, 'tcp'));
  t.ok(ms.length >= 2, `${ms.length} messages`);
  const unsigned = messages(server.handle(request('privatelink.rpz', RRType.AXFR).message, inside, 'tcp'));
  t.equal(unsigned.length, ms.length);
  for (const bytes of unsigned) t.equal(parseMessage(bytes).additionals.length, 0, 'without EDNS in the request: no OPT in any message');
  const verifier = new TsigStreamVerifier(key, req.mac as Buffer);
  ms.forEach((bytes, i) => {
    const m = parseMessage(bytes);
    t.same(verifier.verify(bytes, m), { ok: true, signed: true }, `message ${i}: signed, MACs chained`);
    t.same(m.additionals.map((r) => r.type), [RRType.OPT, TYPE_TSIG], `message ${i}: OPT then TSIG`);
    t.same(optOf(m)?.options, [{ code: 3, data: NSID }], `message ${i}: with the NSID asked for`);
    t.equal(optOf(m)?.dnssecOk, true, `message ${i}: DO copied`);
  });
});

t.test('IXFR up to date over UDP and its OPT; BADVERS signed when the request was', async (t) => {
  const { server } = setup();
  const req = request('privatelink.rpz', RRType.SOA, { edns: { version: 1 }, sign: true });
  const bytes = messages(server.handle(req.message, inside, 'udp'))[0] as Buffer;
  const m = parseMessage(bytes);
  t.equal(m.rcode, 16);
  t.same(m.additionals.map((r) => r.type), [RRType.OPT, TYPE_TSIG], 'OPT, then the TSIG over it');
  t.same(new TsigStreamVerifier(key, req.mac as Buffer).verify(bytes, m), { ok: true, signed: true });
});

t.test('NSID: the identity when asked and configured; nothing otherwise', async (t) => {
  const withId = setup({ nsid: NSID }).server;
  const asked = one(withId.handle(request('privatelink.rpz', RRType.SOA, { edns: { options: NSID_OPTION } }).message, inside, 'udp'));
  t.same(optOf(asked)?.options, [{ code: 3, data: NSID }]);
  const notAsked = one(withId.handle(request('privatelink.rpz', RRType.SOA, { edns: {} }).message, inside, 'udp'));
  t.same(optOf(notAsked)?.options, [], 'not asked: no NSID');
  const withOthers = one(withId.handle(request('privatelink.rpz', RRType.SOA, { edns: { options: Buffer.concat([UNKNOWN_OPTION, NSID_OPTION]) } }).message, inside, 'tcp'));
  t.same(optOf(withOthers)?.options, [{ code: 3, data: NSID }], 'among other options');
  const noId = setup().server;
  const unset = one(noId.handle(request('privatelink.rpz', RRType.SOA, { edns: { options: NSID_OPTION } }).message, inside, 'udp'));
  t.same(optOf(unset)?.options, [], 'no identity configured: no NSID');
});

t.test('UDP: an answer larger than the client takes becomes TC=1 with its OPT; TCP carries it whole', async (t) => {
  const { server } = setup({ zones: 120 });
  const name = 'ep-a.example.com.privatelink.rpz';
  const udp = one(server.handle(request(name, RRType.A).message, inside, 'udp'));
  t.ok((udp.flags & FLAG_TC) !== 0, 'no EDNS (512 bytes): TC');
  t.equal(udp.answers.length, 0);
  const small = one(server.handle(request(name, RRType.A, { edns: { udpSize: 512 } }).message, inside, 'udp'));
  t.ok((small.flags & FLAG_TC) !== 0, 'payload 512: TC');
  t.ok(optOf(small), 'with OPT');
  const tcp = one(server.handle(request(name, RRType.A).message, inside, 'tcp'));
  t.equal(tcp.flags & FLAG_TC, 0);
  t.equal(tcp.answers.length, 120, 'over TCP: every record');
});

t.test('NOTIFY on an edge: the response carries the OPT; version 1 gets BADVERS with opcode NOTIFY', async (t) => {
  const receiver: NotifyReceiver = { notified: () => 'accepted', isPrimary: () => true };
  const { server } = setup({ notifyReceiver: receiver, nsid: NSID });
  const ok = one(server.handle(request('privatelink.rpz', RRType.SOA, { opcode: OPCODE_NOTIFY, edns: { options: NSID_OPTION } }).message, inside, 'udp'));
  t.equal(ok.opcode, OPCODE_NOTIFY);
  t.equal(ok.rcode, 0);
  t.same(optOf(ok)?.options, [{ code: 3, data: NSID }]);
  const plain = one(server.handle(request('privatelink.rpz', RRType.SOA, { opcode: OPCODE_NOTIFY }).message, inside, 'udp'));
  t.equal(optOf(plain), undefined, 'without EDNS: no OPT');
  const bad = one(server.handle(request('privatelink.rpz', RRType.SOA, { opcode: OPCODE_NOTIFY, edns: { version: 1 } }).message, inside, 'udp'));
  t.equal(bad.opcode, OPCODE_NOTIFY);
  t.equal(bad.rcode, 16);
});
