import t from 'tap';
import fc from 'fast-check';
import { Packet } from 'dns2';
import { scanResponse, skipName, type ResponseScan } from '../../src/wire/message-scan';
import { encodeResponse as build, ednsRecord, type ResponseRecord } from '../helpers/wire';

const A = Packet.TYPE.A;
const AAAA = Packet.TYPE.AAAA;
const CNAME = Packet.TYPE.CNAME;
const SOA = Packet.TYPE.SOA;
const NS = Packet.TYPE.NS;
const IN = Packet.CLASS.IN;

type RR = ResponseRecord;

const soa = (name: string, ttl: number, minimum: number): RR => ({
  name, type: SOA, ttl, primary: `ns1.${name}`, admin: `hostmaster.${name}`, serial: 2024010101, refresh: 7200, retry: 900, expiration: 1209600, minimum,
});

function mustScan(buf: Buffer): ResponseScan {
  const s = scanResponse(buf);
  if (s === undefined) throw new Error('scan returned undefined for a valid message');
  return s;
}

/** Invariants any non-undefined result must satisfy, whatever the input. */
function checkConsistent(buf: Buffer, s: ResponseScan): void {
  if (s.questionEnd > s.end || s.end > buf.length) throw new Error(`offsets out of order: ${s.questionEnd} ${s.end} ${buf.length}`);
  let prev = s.questionEnd;
  for (const o of s.ttlOffsets) {
    if (o < prev || o + 6 > s.end) throw new Error(`ttl offset ${o} out of range`);
    prev = o + 4;
  }
  if (s.answerTtlCount > s.ttlOffsets.length) throw new Error('answerTtlCount too big');
  if (s.hasOpt !== (s.optOffset >= 0)) throw new Error('hasOpt inconsistent');
  if (s.hasOpt && (s.optOffset < s.questionEnd || s.optOffset + s.optLength > s.end || buf[s.optOffset] !== 0 || buf.readUInt16BE(s.optOffset + 1) !== 41)) throw new Error('bad opt range');
  if (s.minTtl !== undefined && !(s.minTtl >= 0 && s.minTtl <= 0x7fffffff)) throw new Error(`bad minTtl ${s.minTtl}`);
  if (!s.complete && !s.truncated) throw new Error('incomplete without TC');
  if (s.qdcount !== 1 || (s.flags & 0x8000) === 0) throw new Error('accepted a non-response');
}

t.test('A answers with OPT: header, question, TTL offsets, OPT range, compression', async t => {
  const buf = build({
    id: 0xbeef, qname: 'WWW.Example.COM', qtype: A, opt: { doFlag: true },
    answers: [
      { name: 'WWW.Example.COM', type: A, ttl: 300, address: '192.0.2.1' },
      { name: 'WWW.Example.COM', type: A, ttl: 120, address: '192.0.2.2' },
    ],
    authorities: [{ name: 'example.com', type: NS, ttl: 7200, ns: 'ns1.example.com' }],
  });
  const s = mustScan(buf);
  t.equal(s.id, 0xbeef);
  t.equal(s.qname, 'www.example.com');
  t.equal(s.qtype, A);
  t.equal(s.qclass, IN);
  t.equal(s.qdcount, 1);
  t.equal(s.ancount, 2);
  t.equal(s.nscount, 1);
  t.equal(s.arcount, 1);
  t.equal(s.rcode, 0);
  t.equal(s.questionEnd, 12 + 17 + 4, 'question ends after name + type + class');
  t.same(s.ttlOffsets.map(o => buf.readUInt32BE(o)), [300, 120, 7200], 'every non-OPT TTL, in order');
  t.equal(s.answerTtlCount, 2);
  t.equal(s.minTtl, 120, 'smallest answer TTL (the larger authority TTL does not count)');
  t.equal(s.negative, false);
  t.equal(s.hasOpt, true);
  t.equal(buf[s.optOffset], 0, 'OPT owner is the root');
  t.equal(buf.readUInt16BE(s.optOffset + 1), 41);
  t.equal(s.optLength, 11, 'an OPT with no options is 11 bytes');
  t.equal(s.optOffset + s.optLength, buf.length, 'OPT is the last record here');
  t.equal(s.dnssecOk, true);
  t.equal(s.truncated, false);
  t.equal(s.complete, true);
  t.equal(s.end, buf.length);
  // The answer owner names are compression pointers to the question (0xc00c).
  t.equal(buf.readUInt16BE(s.questionEnd), 0xc00c, 'dns2 compressed the owner name');
  t.equal(s.ttlOffsets[0], s.questionEnd + 2 + 4, 'TTL found behind a compressed owner');
});

t.test('without OPT', async t => {
  const s = mustScan(build({ qname: 'a.example', qtype: A, answers: [{ name: 'a.example', type: A, ttl: 5, address: '192.0.2.9' }] }));
  t.equal(s.hasOpt, false);
  t.equal(s.optOffset, -1);
  t.equal(s.optLength, 0);
  t.equal(s.dnssecOk, false);
  t.equal(s.minTtl, 5);
});

t.test('OPT followed by another additional record', async t => {
  const p = new Packet();
  Object.assign(p.header, { id: 1, qr: 1, rcode: 0 });
  p.questions.push({ name: 'x.example', type: A, class: IN } as Packet.Question);
  p.answers.push({ name: 'x.example', type: A, class: IN, ttl: 60, address: '192.0.2.1' } as Packet.Resource);
  p.additionals.push(ednsRecord({ udpPayloadSize: 4096 }));
  p.additionals.push({ name: 'ns.example', type: A, class: IN, ttl: 99, address: '192.0.2.53' } as Packet.Resource);
  const buf = p.toBuffer();
  const s = mustScan(buf);
  t.ok(s.optOffset + s.optLength < buf.length, 'OPT is not last');
  t.same(s.ttlOffsets.map(o => buf.readUInt32BE(o)), [60, 99], 'the record after the OPT is still found');
});

t.test('CNAME chain: minTtl over the whole answer section', async t => {
  const buf = build({
    qname: 'alias.example.com', qtype: A, opt: {},
    answers: [
      { name: 'alias.example.com', type: CNAME, ttl: 600, domain: 'mid.example.net' },
      { name: 'mid.example.net', type: CNAME, ttl: 45, domain: 'target.example.org' },
      { name: 'target.example.org', type: A, ttl: 300, address: '198.51.100.7' },
    ],
  });
  const s = mustScan(buf);
  t.equal(s.answerTtlCount, 3);
  t.same(s.ttlOffsets.map(o => buf.readUInt32BE(o)), [600, 45, 300]);
  t.equal(s.minTtl, 45);
  t.equal(s.negative, false, 'the chain ends in a record of the asked type');
});

t.test('NXDOMAIN with SOA: negative TTL = min(SOA TTL, SOA MINIMUM)', async t => {
  const minimumSmaller = mustScan(build({ qname: 'nope.example.com', qtype: A, rcode: 3, authorities: [soa('example.com', 900, 60)], opt: {} }));
  t.equal(minimumSmaller.rcode, 3);
  t.equal(minimumSmaller.negative, true);
  t.equal(minimumSmaller.minTtl, 60);
  t.equal(minimumSmaller.answerTtlCount, 0);
  t.equal(minimumSmaller.ttlOffsets.length, 1, 'the SOA TTL is rewritable');

  const ttlSmaller = mustScan(build({ qname: 'nope.example.com', qtype: A, rcode: 3, authorities: [soa('example.com', 30, 600)] }));
  t.equal(ttlSmaller.minTtl, 30);

  const cnameIntoNx = mustScan(build({
    qname: 'a.example.com', qtype: A, rcode: 3,
    answers: [{ name: 'a.example.com', type: CNAME, ttl: 20, domain: 'gone.example.com' }],
    authorities: [soa('example.com', 900, 300)],
  }));
  t.equal(cnameIntoNx.minTtl, 20, 'a CNAME in front of the NXDOMAIN caps it too');
  t.equal(cnameIntoNx.negative, true);
});

t.test('NODATA with SOA, and after a CNAME', async t => {
  const nodata = mustScan(build({ qname: 'v4only.example.com', qtype: AAAA, authorities: [soa('example.com', 3600, 300)], opt: {} }));
  t.equal(nodata.rcode, 0);
  t.equal(nodata.negative, true);
  t.equal(nodata.minTtl, 300);

  const viaCname = mustScan(build({
    qname: 'www.example.com', qtype: AAAA,
    answers: [{ name: 'www.example.com', type: CNAME, ttl: 3000, domain: 'v4only.example.com' }],
    authorities: [soa('example.com', 3600, 100)],
  }));
  t.equal(viaCname.negative, true, 'a CNAME alone does not answer an AAAA question');
  t.equal(viaCname.minTtl, 100);
});

t.test('negative without SOA: minTtl undefined', async t => {
  const nx = mustScan(build({ qname: 'nope.example.com', qtype: A, rcode: 3 }));
  t.equal(nx.negative, true);
  t.equal(nx.minTtl, undefined);
  const nodata = mustScan(build({ qname: 'x.example.com', qtype: AAAA, authorities: [{ name: 'example.com', type: NS, ttl: 100, ns: 'ns.example.com' }] }));
  t.equal(nodata.negative, true);
  t.equal(nodata.minTtl, undefined);
});

t.test('extended rcode from the OPT', async t => {
  const p = new Packet();
  Object.assign(p.header, { id: 7, qr: 1, rcode: 16 });
  p.questions.push({ name: 'x.example', type: A, class: IN } as Packet.Question);
  p.additionals.push(ednsRecord({}));
  const buf = p.toBuffer();
  t.equal(buf[3] & 0x0f, 0, 'the header carries only the low nibble');
  t.equal(mustScan(buf).rcode, 16, 'BADVERS reassembled');
});

t.test('a TTL with the top bit set counts as 0 (RFC 2181 §8)', async t => {
  const buf = build({ qname: 'x.example', qtype: A, answers: [{ name: 'x.example', type: A, ttl: 100, address: '192.0.2.1' }] });
  const s = mustScan(buf);
  buf.writeUInt32BE(0x80000001, s.ttlOffsets[0]);
  t.equal(mustScan(buf).minTtl, 0);
});

t.test('TC: complete when the counts fit, partial when they run past the end', async t => {
  const tcEmpty = mustScan(build({ qname: 'big.example', qtype: A, tc: true }));
  t.equal(tcEmpty.truncated, true);
  t.equal(tcEmpty.complete, true);

  const full = build({ qname: 'big.example', qtype: A, tc: true, answers: [
    { name: 'big.example', type: A, ttl: 50, address: '192.0.2.1' },
    { name: 'big.example', type: A, ttl: 40, address: '192.0.2.2' },
  ] });
  const cut = full.subarray(0, full.length - 3);
  const partial = mustScan(cut);
  t.equal(partial.truncated, true);
  t.equal(partial.complete, false);
  t.equal(partial.ttlOffsets.length, 1, 'only the complete first record');
  t.equal(partial.end, mustScan(full).ttlOffsets[1] - 4 - 2, 'end is after the first record');

  const noTc = Buffer.from(cut);
  noTc[2] &= ~0x02;
  t.equal(scanResponse(noTc), undefined, 'the same cut without TC is malformed');
});

t.test('qname: ASCII lower-casing only, "." and "\\" inside a label escaped, root', async t => {
  const q = (labels: Buffer[]): Buffer => Buffer.concat([
    Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.map(l => Buffer.concat([Buffer.from([l.length]), l])),
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  t.equal(mustScan(q([Buffer.from('MiXeD'), Buffer.from('Example')])).qname, 'mixed.example');
  t.equal(mustScan(q([Buffer.from('www.bank'), Buffer.from('com')])).qname, 'www\\.bank.com', 'not the same string as www.bank.com');
  t.equal(mustScan(q([Buffer.from('a\\b'), Buffer.from('c')])).qname, 'a\\\\b.c');
  t.equal(mustScan(q([Buffer.from([0xc0, 0x41])])).qname, '\u00c0a', 'non-ASCII bytes kept as they are');
  t.equal(mustScan(q([])).qname, '', 'root');
});

t.test('malformed responses are undefined', async t => {
  const good = build({ qname: 'x.example', qtype: A, answers: [{ name: 'x.example', type: A, ttl: 60, address: '192.0.2.1' }], opt: {} });
  t.ok(scanResponse(good));
  t.equal(scanResponse(Buffer.alloc(0)), undefined);
  t.equal(scanResponse(good.subarray(0, 11)), undefined, 'short header');
  const query = Buffer.from(good);
  query[2] &= 0x7f;
  t.equal(scanResponse(query), undefined, 'QR=0');
  const twoQuestions = Buffer.from(good);
  twoQuestions[5] = 2;
  t.equal(scanResponse(twoQuestions), undefined, 'QDCOUNT 2');
  const noQuestion = Buffer.from(good);
  noQuestion[5] = 0;
  t.equal(scanResponse(noQuestion), undefined, 'QDCOUNT 0');
  t.equal(scanResponse(good.subarray(0, good.length - 1)), undefined, 'last record cut');
  const extraCount = Buffer.from(good);
  extraCount[7] = 2;
  t.equal(scanResponse(extraCount), undefined, 'ANCOUNT larger than the records present');

  // OPT placed in the answer section.
  const p = new Packet();
  Object.assign(p.header, { id: 1, qr: 1 });
  p.questions.push({ name: 'x.example', type: A, class: IN } as Packet.Question);
  p.answers.push(ednsRecord({}));
  t.equal(scanResponse(p.toBuffer()), undefined, 'OPT outside the additional section');

  const twoOpts = new Packet();
  Object.assign(twoOpts.header, { id: 1, qr: 1 });
  twoOpts.questions.push({ name: 'x.example', type: A, class: IN } as Packet.Question);
  twoOpts.additionals.push(ednsRecord({}), ednsRecord({}));
  t.equal(scanResponse(twoOpts.toBuffer()), undefined, 'two OPT records');

  const nx = build({ qname: 'n.example.com', qtype: A, rcode: 3, authorities: [soa('example.com', 60, 60)] });
  const nxScan = mustScan(nx);
  const rdlenAt = nxScan.ttlOffsets[0] + 4;
  const shortSoa = Buffer.from(nx);
  shortSoa.writeUInt16BE(shortSoa.readUInt16BE(rdlenAt) - 1, rdlenAt);
  t.equal(scanResponse(shortSoa.subarray(0, shortSoa.length - 1)), undefined, 'SOA RDATA one byte short of its 20 fixed bytes');
});

t.test('skipName: labels, pointers, and every way a name can be hostile', async t => {
  const header = Buffer.alloc(12);
  const withHeader = (...parts: number[]): Buffer => Buffer.concat([header, Buffer.from(parts)]);

  const plain = withHeader(3, 0x77, 0x77, 0x77, 1, 0x78, 0);
  t.equal(skipName(plain, 12), plain.length, 'plain name');
  t.equal(skipName(withHeader(0), 12), 13, 'root');

  // Name at 12, then a second name at 19 that is "a" + pointer to 12.
  const backward = withHeader(3, 0x77, 0x77, 0x77, 1, 0x78, 0, 1, 0x61, 0xc0, 12);
  t.equal(skipName(backward, 19), backward.length, 'backward pointer: the name ends after the pointer');

  t.equal(skipName(withHeader(0xc0, 12), 12), -1, 'pointer to itself');
  t.equal(skipName(withHeader(1, 0x61, 0xc0, 12), 12), -1, 'pointer back into its own labels (a loop)');
  t.equal(skipName(withHeader(0xc0, 14, 0), 12), -1, 'forward pointer');
  t.equal(skipName(withHeader(1, 0x61, 0, 0xc0, 5), 15), -1, 'pointer into the header');
  // 12: "a" then pointer to 16; 16: "b" then pointer to 12 — a cycle entered from 16.
  t.equal(skipName(withHeader(1, 0x61, 0xc0, 16, 1, 0x62, 0xc0, 12), 16), -1, 'pointer cycle');
  // Followed by enough bytes that reading the byte as a length would otherwise succeed.
  t.equal(skipName(withHeader(0x40, ...Buffer.alloc(0x40, 0x61), 0), 12), -1, 'reserved label type 01 (or a 64-byte label)');
  t.equal(skipName(withHeader(0x80, ...Buffer.alloc(0x80, 0x61), 0), 12), -1, 'reserved label type 10');
  t.equal(skipName(withHeader(3, 0x61, 0x62), 12), -1, 'label runs past the end');
  t.equal(skipName(withHeader(1, 0x61), 12), -1, 'no terminator');
  t.equal(skipName(withHeader(0xc0), 12), -1, 'half a pointer');
  t.equal(skipName(plain, plain.length), -1, 'offset at the end');
  t.equal(skipName(plain, -1), -1, 'negative offset');
  t.equal(skipName(plain, Number.NaN), -1, 'NaN offset');

  const label63 = [63, ...Buffer.alloc(63, 0x61)];
  const name255 = withHeader(...label63, ...label63, ...label63, 61, ...Buffer.alloc(61, 0x61), 0);
  t.equal(skipName(name255, 12), name255.length, '255 wire bytes is the limit and allowed');
  const name256 = withHeader(...label63, ...label63, ...label63, 62, ...Buffer.alloc(62, 0x61), 0);
  t.equal(skipName(name256, 12), -1, '256 wire bytes is too long');
  // Too long only once a pointer is followed.
  const longViaPointer = withHeader(...label63, ...label63, ...label63, 0, 62, ...Buffer.alloc(62, 0x61), 0xc0, 12);
  t.equal(skipName(longViaPointer, 12 + 3 * 64 + 1), -1, 'length counted across pointers');

  // A long chain of pointers, each one step further back.
  const chain: number[] = [0];
  for (let i = 1; i <= 80; i++) chain.push(0xc0, 12 + (i === 1 ? 0 : 1 + (i - 2) * 2));
  const chainBuf = withHeader(...chain);
  t.equal(skipName(chainBuf, 12 + 1 + 5 * 2), 12 + 1 + 6 * 2, 'a short chain is followed');
  t.equal(skipName(chainBuf, 12 + 1 + 79 * 2), -1, 'a chain beyond the hop cap is refused');
});

t.test('agrees with dns2 on well-formed messages (property)', async t => {
  const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map(ls => ls.join('.'));
  const ttl = fc.integer({ min: 0, max: 0x7fffffff });
  const msg = fc.record({
    qname: name,
    answers: fc.array(fc.record({ suffix: fc.option(name, { nil: undefined }), ttl, cname: fc.boolean() }), { maxLength: 6 }),
    soa: fc.option(fc.record({ ttl, minimum: ttl }), { nil: undefined }),
    rcode: fc.constantFrom(0, 2, 3, 5),
    opt: fc.boolean(),
  });
  fc.assert(fc.property(msg, m => {
    const answers: RR[] = m.answers.map(a => {
      const owner = a.suffix === undefined ? m.qname : `${a.suffix}.${m.qname}`;
      return a.cname ? { name: owner, type: CNAME, ttl: a.ttl, domain: `c.${m.qname}` } : { name: owner, type: A, ttl: a.ttl, address: '192.0.2.1' };
    });
    const authorities = m.soa === undefined ? [] : [soa(m.qname, m.soa.ttl, m.soa.minimum)];
    const buf = build({ qname: m.qname, qtype: A, rcode: m.rcode, answers, authorities, opt: m.opt ? {} : false });
    const s = mustScan(buf);
    checkConsistent(buf, s);
    const decoded = Packet.parse(buf);
    if (s.qname !== decoded.questions[0].name.toLowerCase()) throw new Error('qname differs from dns2');
    const ttls = [...decoded.answers, ...decoded.authorities, ...decoded.additionals.filter(r => r.type !== 41)].map(r => r.ttl);
    if (JSON.stringify(s.ttlOffsets.map(o => buf.readUInt32BE(o))) !== JSON.stringify(ttls)) throw new Error('TTL offsets do not match dns2');
    const answerMin = Math.min(...answers.map(a => a.ttl));
    const negative = m.rcode === 3 || (m.rcode === 0 && !answers.some(a => a.type === A));
    const expected = negative
      ? (m.soa === undefined ? undefined : Math.min(answerMin, m.soa.ttl, m.soa.minimum))
      : (answers.length === 0 ? undefined : answerMin);
    if (s.minTtl !== expected) throw new Error(`minTtl ${s.minTtl}, expected ${expected}`);
    if (s.hasOpt !== m.opt || s.end !== buf.length) throw new Error('OPT or end wrong');
  }), { numRuns: 300 });
  t.pass('300 generated messages agree');
});

t.test('never throws on random bytes (property)', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(700), (bytes, offset) => {
    const buf = Buffer.from(bytes);
    const s = scanResponse(buf);
    if (s !== undefined) checkConsistent(buf, s);
    const end = skipName(buf, offset);
    if (end !== -1 && (end <= offset || end > buf.length)) throw new Error(`skipName returned ${end}`);
  }), { numRuns: 3000 });
  // Random bytes behind a plausible header reach the record loops far more often.
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.integer({ min: 0, max: 0xffff }), (tail, counts) => {
    const head = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, counts & 0xf, 0, (counts >> 4) & 0xf, 0, (counts >> 8) & 0x3, 1, 0x61, 0, 0, 1, 0, 1]);
    const buf = Buffer.concat([head, Buffer.from(tail)]);
    const s = scanResponse(buf);
    if (s !== undefined) checkConsistent(buf, s);
  }), { numRuns: 3000 });
  t.pass('no exception');
});

t.test('never throws on mutated valid messages (property)', async t => {
  const seeds = [
    build({ qname: 'www.example.com', qtype: A, opt: { doFlag: true }, answers: [
      { name: 'www.example.com', type: CNAME, ttl: 60, domain: 'edge.example.net' },
      { name: 'edge.example.net', type: A, ttl: 30, address: '192.0.2.1' },
    ], authorities: [{ name: 'example.net', type: NS, ttl: 3600, ns: 'ns.example.net' }], additionals: [{ name: 'ns.example.net', type: A, ttl: 3600, address: '192.0.2.53' }] }),
    build({ qname: 'nope.example.com', qtype: A, rcode: 3, authorities: [soa('example.com', 900, 60)], opt: {} }),
  ];
  const mutation = fc.record({
    seed: fc.nat(seeds.length - 1),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  fc.assert(fc.property(mutation, m => {
    const buf = Buffer.from(seeds[m.seed]);
    for (const [at, value] of m.edits) buf[at % buf.length] = value;
    const input = m.cut === undefined ? buf : buf.subarray(0, m.cut % (buf.length + 1));
    const s = scanResponse(input);
    if (s !== undefined) checkConsistent(input, s);
  }), { numRuns: 5000 });
  t.pass('no exception');
});
