import t from 'tap';
import { parseQuery } from '../../src/wire/query';
import { encodeQuery } from '../helpers/wire';

t.test('parses a plain query with EDNS', async (t) => {
  const q = parseQuery(encodeQuery('CS-Anony-VPC.cn-hangzhou.aliyuncs.com', { id: 7, type: 28, edns: { size: 4096, do: true } }));
  if (q.kind !== 'query') throw new Error(`expected a query, got ${JSON.stringify(q)}`);
  t.equal(q.id, 7);
  t.equal(q.qname, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'lower-cased, no trailing dot');
  t.equal(q.qtype, 28);
  t.equal(q.qclass, 1);
  t.ok(q.rd);
  t.same(q.edns, { udpSize: 4096, dnssecOk: true, version: 0, nsid: false });
});

t.test('query without EDNS', async (t) => {
  const q = parseQuery(encodeQuery('example.com', { edns: false }));
  t.equal(q.kind, 'query');
  if (q.kind === 'query') t.equal(q.edns, null);
});

t.test('root name', async (t) => {
  const buf = Buffer.from('000100000001000000000000' + '00' + '00020001', 'hex');
  const q = parseQuery(buf);
  t.equal(q.kind, 'query');
  if (q.kind === 'query') t.equal(q.qname, '');
});

t.test('guards', async (t) => {
  const good = encodeQuery('example.com');
  t.same(parseQuery(good.subarray(0, 11)), { kind: 'drop', reason: 'short' }, 'short header is dropped');
  const response = Buffer.from(good);
  response[2] |= 0x80;
  t.same(parseQuery(response), { kind: 'drop', reason: 'response' }, 'QR=1 is dropped (no reflection, no ping-pong)');
  t.same(parseQuery(Buffer.concat([good, Buffer.alloc(5000)])), { kind: 'drop', reason: 'oversize' });

  const notify = Buffer.from(good);
  notify[2] = (notify[2] & 0x87) | (4 << 3);
  t.match(parseQuery(notify), { kind: 'reject', reason: 'notimp' }, 'opcode NOTIFY → NOTIMP');

  const twoQ = Buffer.from(good);
  twoQ.writeUInt16BE(2, 4);
  t.match(parseQuery(twoQ), { kind: 'reject', reason: 'formerr' }, 'QDCOUNT 2 → FORMERR');
  const withAnswer = Buffer.from(good);
  withAnswer.writeUInt16BE(1, 6);
  t.match(parseQuery(withAnswer), { kind: 'reject', reason: 'formerr' }, 'ANCOUNT 1 → FORMERR');

  const pointer = Buffer.from('000100000001000000000000' + 'c00c' + '00010001', 'hex');
  t.match(parseQuery(pointer), { kind: 'reject', reason: 'formerr' }, 'compression pointer in the question → FORMERR');

  const longLabel = Buffer.from('000100000001000000000000' + '40', 'hex');
  t.match(parseQuery(longLabel), { kind: 'reject', reason: 'formerr' }, 'label length 64 → FORMERR');

  const cut = good.subarray(0, good.length - 13);
  t.match(parseQuery(cut), { kind: 'reject', reason: 'formerr' }, 'question cut short → FORMERR');

  const badvers = parseQuery(encodeQuery('example.com', { edns: { version: 1 } }));
  t.match(badvers, { kind: 'reject', reason: 'badvers' }, 'EDNS version 1 → BADVERS');

  const optTruncated = Buffer.from(good);
  optTruncated.writeUInt16BE(8, optTruncated.length - 2); // rdlen beyond the end
  t.match(parseQuery(optTruncated), { kind: 'reject', reason: 'formerr' });
});

t.test('name longer than 255 bytes is rejected', async (t) => {
  const labels = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
  const parts = labels.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const buf = Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), ...parts, Buffer.from('0000010001', 'hex')]);
  t.match(parseQuery(buf), { kind: 'reject', reason: 'formerr' });
});

t.test('a dot inside a label is escaped, so it cannot pose as a managed name', async (t) => {
  const label = Buffer.from('cs-anony-vpc.cn-hangzhou');
  const buf = Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), Buffer.from([label.length]), label, Buffer.from('00', 'hex'), Buffer.from('00010001', 'hex')]);
  const q = parseQuery(buf);
  t.equal(q.kind, 'query');
  if (q.kind === 'query') t.equal(q.qname, 'cs-anony-vpc\\.cn-hangzhou');
});
