import t from 'tap';
import { Packet } from 'dns2';
import { CLASS_IN, RRType } from '../../../src/wire/constants';
import { encodeMessage, MessageBuilder, parseMessage, type WireRecord } from '../../../src/fleet/codec/message';
import { nameToWire, readName, wireToName } from '../../../src/wire/name-codec';
import { zoneRecordToWire, wireToZoneRecord } from '../../../src/fleet/codec/zone-record-wire';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { isPldnsError } from '../../../src/errors';
import { encodeResponse } from '../../helpers/wire';

const ZONE: ZoneRecord[] = [
  { name: 'privatelink.rpz', type: RRType.SOA, ttl: 60, data: 'ns.privatelink.rpz hostmaster.privatelink.rpz 42 30 10 86400 60' },
  { name: 'privatelink.rpz', type: RRType.NS, ttl: 60, data: 'ns.privatelink.rpz' },
  { name: 'oss-cn-hangzhou.aliyuncs.com.privatelink.rpz', type: RRType.A, ttl: 30, data: '10.0.0.7' },
  { name: 'oss-cn-hangzhou.aliyuncs.com.privatelink.rpz', type: RRType.AAAA, ttl: 30, data: '2001:db8::7' },
  { name: '*.oss-cn-hangzhou.aliyuncs.com.privatelink.rpz', type: RRType.A, ttl: 30, data: '10.0.0.8' },
  { name: 'down.example.com.privatelink.rpz', type: RRType.CNAME, ttl: 30, data: 'rpz-drop' },
  { name: 'fwd.example.com.privatelink.rpz', type: RRType.CNAME, ttl: 30, data: 'rpz-passthru' },
  { name: 'info.privatelink.rpz', type: RRType.TXT, ttl: 30, data: 'hub h1 serial 42 — ok' },
  { name: 'a\\.b.privatelink.rpz', type: RRType.A, ttl: 5, data: '192.0.2.1' },
];

function expectMalformed(t: Pick<typeof tap, 'ok' | 'fail'>, buf: Buffer, what: string): void {
  try {
    parseMessage(buf);
    t.fail(`${what}: parsed`);
  } catch (err) {
    t.ok(isPldnsError(err, 'WIRE_MALFORMED'), `${what}: WIRE_MALFORMED (${String(err)})`);
  }
}
const tap = t;

t.test('names: presentation ↔ wire, escapes and limits', async (t) => {
  t.same(nameToWire('Ab.C'), Buffer.from([2, 0x61, 0x62, 1, 0x63, 0]));
  t.same(nameToWire('ab.c.'), nameToWire('ab.c'));
  t.same(nameToWire(''), Buffer.from([0]));
  t.same(nameToWire('a\\.b.c'), Buffer.from([3, 0x61, 0x2e, 0x62, 1, 0x63, 0]));
  t.equal(wireToName(nameToWire('a\\.b.c\\\\d')), 'a\\.b.c\\\\d');
  t.throws(() => nameToWire('a..b'), { code: 'WIRE_MALFORMED' });
  t.throws(() => nameToWire(`${'x'.repeat(64)}.c`), { code: 'WIRE_MALFORMED' });
  t.throws(() => nameToWire(Array(130).fill('ab').join('.')), { code: 'WIRE_MALFORMED' });
  const n = readName(Buffer.concat([Buffer.alloc(12), Buffer.from([1, 0x41, 0])]), 12);
  t.equal(n.name, 'a');
  t.same(n.wire, Buffer.from([1, 0x41, 0]), 'decompressed wire keeps the case as sent');
});

t.test('round trip: builder → parser, with compression of owners and rdata names', async (t) => {
  const records: WireRecord[] = ZONE.map(zoneRecordToWire);
  const mxRdata = Buffer.concat([Buffer.from([0, 10]), nameToWire('mail.privatelink.rpz')]);
  const mx: WireRecord = { name: 'privatelink.rpz', type: RRType.MX, class: CLASS_IN, ttl: 9, rdata: mxRdata };
  const srvRdata = Buffer.concat([Buffer.from([0, 1, 0, 2, 0, 53]), nameToWire('ns.privatelink.rpz')]);
  const srv: WireRecord = { name: '_x._tcp.privatelink.rpz', type: RRType.SRV, class: CLASS_IN, ttl: 9, rdata: srvRdata };
  const unknown: WireRecord = { name: 'x.privatelink.rpz', type: 65280, class: CLASS_IN, ttl: 1, rdata: Buffer.from([1, 2, 3]) };
  const msg = encodeMessage({
    id: 0xbeef, flags: 0x8400, question: { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN },
    answers: [...records, mx, srv], authorities: [unknown], additionals: [],
  });
  const uncompressed = records.reduce((n, r) => n + nameToWire(r.name).length + 10 + r.rdata.length, 0);
  t.ok(msg.length < uncompressed, `compressed (${msg.length} < ${uncompressed} bytes of records alone)`);
  const p = parseMessage(msg);
  t.equal(p.id, 0xbeef);
  t.equal(p.flags, 0x8400);
  t.equal(p.opcode, 0);
  t.equal(p.rcode, 0);
  t.same(p.questions, [{ name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN }]);
  t.equal(p.answers.length, records.length + 2);
  t.same(p.answers.slice(0, records.length).map((r) => wireToZoneRecord(r)), ZONE, 'zone records come back equal');
  t.same(p.answers[records.length].rdata, mx.rdata, 'MX exchange decompressed');
  t.same(p.answers[records.length + 1].rdata, srv.rdata, 'SRV target as written');
  t.same(p.authorities[0].rdata, unknown.rdata);
  t.equal(p.authorities[0].end, msg.length);
  // Offsets: each record starts where the previous ended.
  const all = [...p.answers, ...p.authorities];
  for (let i = 1; i < all.length; i++) t.equal(all[i].offset, all[i - 1].end, `record ${i} offset`);
  // The SOA rname shares "privatelink.rpz" with the question: its rdata on the wire is short.
  const soaRdLen = msg.readUInt16BE(p.answers[0].offset + 2 + 8);
  t.ok(soaRdLen < p.answers[0].rdata.length, `SOA rdata compressed on the wire (${soaRdLen} < ${p.answers[0].rdata.length})`);
});

t.test('dns2 decodes what we build, and we decode what dns2 builds', async (t) => {
  const question = { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN };
  const msg = encodeMessage({ id: 7, flags: 0x8400, question, answers: ZONE.map(zoneRecordToWire) });
  const d = Packet.parse(msg) as unknown as { answers: Record<string, unknown>[] };
  t.equal(d.answers.length, ZONE.length);
  t.match(d.answers[0], {
    name: 'privatelink.rpz', type: RRType.SOA, primary: 'ns.privatelink.rpz', admin: 'hostmaster.privatelink.rpz',
    serial: 42, refresh: 30, retry: 10, expiration: 86400, minimum: 60,
  });
  t.match(d.answers[1], { ns: 'ns.privatelink.rpz' });
  t.match(d.answers[2], { name: 'oss-cn-hangzhou.aliyuncs.com.privatelink.rpz', address: '10.0.0.7', ttl: 30 });
  t.match(d.answers[3], { address: '2001:db8::7' });
  t.match(d.answers[5], { domain: 'rpz-drop' });
  t.same(d.answers[7].data, ['hub h1 serial 42 — ok']);

  const theirs = encodeResponse({
    id: 99, qname: 'Example.COM', qtype: RRType.SOA,
    answers: [
      {
        name: 'example.com', type: RRType.SOA, ttl: 300, primary: 'ns1.example.com', admin: 'root.example.com',
        serial: 2026112901, refresh: 7200, retry: 900, expiration: 1209600, minimum: 60,
      } as never,
      { name: 'www.example.com', type: RRType.CNAME, ttl: 60, domain: 'example.com' } as never,
      { name: 'example.com', type: RRType.MX, ttl: 60, exchange: 'mx.example.com', priority: 5 } as never,
      { name: 'example.com', type: RRType.TXT, ttl: 60, data: 'v=spf1 -all' } as never,
    ],
    authorities: [{ name: 'example.com', type: RRType.NS, ttl: 60, ns: 'ns1.example.com' } as never],
    additionals: [{ name: 'ns1.example.com', type: RRType.A, ttl: 60, address: '192.0.2.53' } as never],
    opt: { udpPayloadSize: 1232 },
  });
  const p = parseMessage(theirs);
  t.equal(p.id, 99);
  t.same(p.questions[0], { name: 'example.com', type: RRType.SOA, class: CLASS_IN }, 'question name lower-cased');
  t.same(p.answers.map((r) => wireToZoneRecord(r)), [
    { name: 'example.com', type: RRType.SOA, ttl: 300, data: 'ns1.example.com root.example.com 2026112901 7200 900 1209600 60' },
    { name: 'www.example.com', type: RRType.CNAME, ttl: 60, data: 'example.com' },
    undefined, // MX: not a policy zone type
    { name: 'example.com', type: RRType.TXT, ttl: 60, data: 'v=spf1 -all' },
  ]);
  t.same(p.answers[2].rdata.subarray(0, 2), Buffer.from([0, 5]));
  t.equal(wireToName(p.answers[2].rdata.subarray(2)), 'mx.example.com', 'MX exchange decompressed (case as dns2 sent it)');
  t.same(wireToZoneRecord(p.authorities[0]), { name: 'example.com', type: RRType.NS, ttl: 60, data: 'ns1.example.com' });
  t.same(wireToZoneRecord(p.additionals[0]), { name: 'ns1.example.com', type: RRType.A, ttl: 60, data: '192.0.2.53' });
  t.equal(p.additionals[1].type, RRType.OPT);
  t.equal(p.additionals[1].class, 1232);
});

t.test('extended rcode from OPT', async (t) => {
  const opt: WireRecord = { name: '', type: RRType.OPT, class: 1232, ttl: 0x01000000, rdata: Buffer.alloc(0) };
  const p = parseMessage(encodeMessage({ id: 1, flags: 0x8000, question: null, additionals: [opt] }));
  t.equal(p.rcode, 16);
});

t.test('malformed messages throw WIRE_MALFORMED and nothing else', async (t) => {
  const header = (qd: number, an: number): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    return h;
  };
  const q = Buffer.from([1, 0x61, 0, 0, 1, 0, 1]);
  expectMalformed(t, Buffer.alloc(5), 'short header');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), 'pointer to itself');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([0xc0, 14, 0, 1, 0, 1, 1, 0x61, 0])]), 'forward pointer');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([0xc0, 2, 0, 1, 0, 1])]), 'pointer into the header');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([0xff, 0xff, 0, 1, 0, 1])]), 'pointer out of bounds');
  // Two names pointing at each other: a loop a forward-pointer check alone must also stop.
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 21, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 19])]), 'pointer loop');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([1, 0x61])]), 'name cut short');
  expectMalformed(t, Buffer.concat([header(1, 0), Buffer.from([0x41, 0, 0, 1, 0, 1])]), 'reserved label type');
  expectMalformed(t, Buffer.concat([header(1, 0), q.subarray(0, 5)]), 'question cut short');
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5])]), 'A rdata of 5 bytes');
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3])]), 'rdata past the end');
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 1, 0, 4, 0, 0, 0, 0])]), 'SOA rdata short of its fields');
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 1, 0, 3, 0xc0, 12, 0])]), 'NS rdata longer than its name');
  expectMalformed(t, Buffer.concat([header(1, 1), q, Buffer.from([0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 40])]), 'NS rdata pointer forward');
  expectMalformed(t, Buffer.concat([header(1, 0), q, Buffer.from([0])]), 'trailing byte');
  expectMalformed(t, Buffer.concat([header(1, 2), q, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4])]), 'fewer records than counted');
  // A chain of backward pointers (each at the one before) held in an unknown type's rdata, and a
  // second record whose owner is the chain's end: 100 hops are legal, 200 are more than any name needs.
  const chainMessage = (hops: number): Buffer => {
    const rd0 = 12 + 3 + 10;
    const rdata = Buffer.alloc(2 * hops);
    for (let i = 0; i < hops; i++) rdata.writeUInt16BE(0xc000 | (i === 0 ? 12 : rd0 + 2 * (i - 1)), 2 * i);
    const rec1 = Buffer.from([1, 0x61, 0, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    rec1.writeUInt16BE(rdata.length, 11);
    const rec2 = Buffer.from([0, 0, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    rec2.writeUInt16BE(0xc000 | (rd0 + 2 * (hops - 1)), 0);
    return Buffer.concat([header(0, 2), rec1, rdata, rec2]);
  };
  t.equal(parseMessage(chainMessage(100)).answers[1].name, 'a', '100 hops');
  expectMalformed(t, chainMessage(200), '200 hops');
});

t.test('builder: size bound, counts, section order', async (t) => {
  const soa = zoneRecordToWire(ZONE[0]);
  const a = (i: number): WireRecord =>
    zoneRecordToWire({ name: `n${i}.example.com.privatelink.rpz`, type: RRType.A, ttl: 30, data: `10.1.${i >> 8}.${i & 255}` });
  const b = new MessageBuilder({ id: 3, flags: 0x8400 }, { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN }, 1000);
  t.ok(b.add('answer', soa));
  let added = 1;
  while (b.add('answer', a(added))) added++;
  t.ok(added > 10 && added < 1000, `stopped at ${added} records`);
  const before = b.size;
  t.notOk(b.add('answer', a(added)), 'still does not fit');
  t.equal(b.size, before, 'a refused record leaves no bytes');
  const msg = b.finish();
  t.ok(msg.length <= 1000);
  const p = parseMessage(msg);
  t.equal(p.answers.length, added, 'ANCOUNT counts every added record');
  t.equal(p.answers[added - 1].name, `n${added - 1}.example.com.privatelink.rpz`);
  // A refused record's suffixes are not remembered: the message decodes cleanly (checked above)
  // and a new, bigger builder can take the record.
  const b2 = new MessageBuilder({ id: 3, flags: 0x8400 }, null, 200);
  t.ok(b2.add('authority', soa));
  t.throws(() => b2.add('answer', soa), /section order/);
  t.ok(b2.add('additional', a(1)));
  const p2 = parseMessage(b2.finish());
  t.equal(p2.questions.length, 0);
  t.equal(p2.authorities.length, 1);
  t.equal(p2.additionals.length, 1);
  t.throws(() => new MessageBuilder({ id: 0, flags: 0 }, { name: 'a'.repeat(60), type: 1, class: 1 }, 20), { code: 'WIRE_MALFORMED' });
  // Up to 64 KB: pointers only reach the first 16 KB, later names are written whole.
  const big = new MessageBuilder({ id: 4, flags: 0x8400 }, { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN }, 65535);
  let n = 0;
  while (big.add('answer', a(n))) n++;
  const bigMsg = big.finish();
  t.ok(bigMsg.length > 60000, `filled to ${bigMsg.length} bytes`);
  t.equal(parseMessage(bigMsg).answers.length, n);
});

t.test('zone records ↔ wire', async (t) => {
  for (const r of ZONE) t.same(wireToZoneRecord(zoneRecordToWire(r)), r, `${r.type} ${r.data}`);
  const mapped = zoneRecordToWire({ name: 'x', type: RRType.AAAA, ttl: 1, data: '::ffff:10.0.0.1' });
  t.same(wireToZoneRecord(mapped), { name: 'x', type: RRType.AAAA, ttl: 1, data: '::ffff:a00:1' }, 'AAAA canonical as ipaddr.js prints');
  const drop = zoneRecordToWire({ name: 'x', type: RRType.CNAME, ttl: 1, data: 'RPZ-Drop.' });
  t.same(wireToZoneRecord(drop), { name: 'x', type: RRType.CNAME, ttl: 1, data: 'rpz-drop' });
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.MX, class: CLASS_IN, ttl: 1, rdata: Buffer.from([0, 1, 0]) }), undefined, 'MX unsupported');
  t.equal(wireToZoneRecord({ name: 'x', type: 99, class: CLASS_IN, ttl: 1, rdata: Buffer.alloc(0) }), undefined, 'unknown type');
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.A, class: 3, ttl: 1, rdata: Buffer.from([1, 2, 3, 4]) }), undefined, 'class CH');
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.A, class: CLASS_IN, ttl: 1, rdata: Buffer.from([1, 2, 3]) }), undefined, 'short A');
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.TXT, class: CLASS_IN, ttl: 1, rdata: Buffer.from([1, 0x61, 1, 0x62]) }), undefined, 'two TXT strings');
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.TXT, class: CLASS_IN, ttl: 1, rdata: Buffer.from([1, 0xff]) }), undefined, 'TXT not UTF-8');
  t.equal(wireToZoneRecord({ name: 'x', type: RRType.SOA, class: CLASS_IN, ttl: 1, rdata: Buffer.from([0, 0, 1]) }), undefined, 'short SOA');
  const emptyTxt = { name: 'x', type: RRType.TXT, class: CLASS_IN, ttl: 1, rdata: Buffer.from([0]) };
  t.same(wireToZoneRecord(emptyTxt), { name: 'x', type: RRType.TXT, ttl: 1, data: '' });
  t.throws(() => zoneRecordToWire({ name: 'x', type: RRType.A, ttl: 1, data: '10.0.0' }), { code: 'WIRE_MALFORMED' });
  t.throws(() => zoneRecordToWire({ name: 'x', type: RRType.SOA, ttl: 1, data: 'a b 1 2 3' }), { code: 'WIRE_MALFORMED' });
  t.throws(() => zoneRecordToWire({ name: 'x', type: RRType.TXT, ttl: 1, data: 'x'.repeat(256) }), { code: 'WIRE_MALFORMED' });
  t.throws(() => zoneRecordToWire({ name: 'x', type: RRType.MX, ttl: 1, data: '1 a' }), { code: 'WIRE_MALFORMED' });
});
