import t from 'tap';
import { QueryParser, detachQuery, parseQuery, type Query } from '../../src/wire/query';
import { QuestionStrings, questionKey } from '../../src/wire/question-strings';
import { ScratchBuffer } from '../../src/wire/scratch-buffer';
import { encodeQuery } from '../helpers/wire';

function parsed(p: QueryParser, msg: Buffer): Query {
  const q = p.parse(msg);
  if (q.kind !== 'query') throw new Error(`expected a query, got ${JSON.stringify(q)}`);
  return q;
}

t.test('QueryParser: the same Query object each time, with what parseQuery would give', async (t) => {
  const p = new QueryParser();
  const msgs = [
    encodeQuery('CS-Anony-VPC.cn-hangzhou.aliyuncs.com', { id: 7, type: 28, edns: { size: 4096, do: true } }),
    encodeQuery('example.com', { id: 9, edns: false }),
    Buffer.from('000100000001000000000000' + '00' + '00020001', 'hex'),
  ];
  let first: Query | undefined;
  for (let round = 0; round < 3; round++) {
    for (const msg of msgs) {
      const q = parsed(p, msg);
      first ??= q;
      t.equal(q, first, 'one object');
      const fresh = parseQuery(msg) as Query;
      t.same({ ...q, cacheKey: undefined, detached: undefined, ownEdns: undefined }, { ...fresh, cacheKey: undefined, detached: undefined, ownEdns: undefined }, `round ${round}: same fields`);
      t.same(q.edns, fresh.edns);
    }
  }
});

t.test('QueryParser: the cache key is at hand from the second time a question is asked', async (t) => {
  const p = new QueryParser();
  const msg = encodeQuery('Www.Example.COM', { edns: { do: true } });
  t.equal(parsed(p, msg).cacheKey, '', 'first time: the caller builds it');
  const again = parsed(p, encodeQuery('www.example.com', { id: 99, edns: { do: true } }));
  t.equal(again.cacheKey, questionKey('www.example.com', 1, 1, true, false), 'second time (any letter case): held');
  t.equal(parsed(p, encodeQuery('www.example.com', { edns: false })).cacheKey, '', 'another DO bit is another question');
  t.equal(parsed(p, encodeQuery('www.example.com', { type: 28, edns: { do: true } })).cacheKey, '', 'another type too');
});

t.test('QuestionStrings: a set of four ways keeps four colliding questions; a fifth replaces one', async (t) => {
  const s = new QuestionStrings();
  const text = (name: string): Uint8Array => Buffer.from(name, 'latin1');
  // The same name hash for all: they land in one set.
  const names = ['a.test', 'b.test', 'c.test', 'd.test'];
  for (let round = 0; round < 2; round++) for (const n of names) s.find(text(n), n.length, 42, 1, 1, false, false);
  for (const n of names) {
    s.find(text(n), n.length, 42, 1, 1, false, false);
    t.equal(s.name, n, `${n} held`);
  }
  s.find(text('e.test'), 6, 42, 1, 1, false, false);
  t.equal(s.name, '', 'a new question: not held yet');
  const long = 'x'.repeat(200);
  s.find(text(long), long.length, 1, 1, 1, false, false);
  s.find(text(long), long.length, 1, 1, 1, false, false);
  t.equal(s.name, '', 'names longer than the text room are never held');
});

t.test('detachQuery: an own copy that later parses do not change, shared by every holder', async (t) => {
  const p = new QueryParser();
  const msg = encodeQuery('held.example', { id: 5, edns: { size: 1232 } });
  const q = parsed(p, msg);
  const own = detachQuery(q);
  t.equal(detachQuery(q), own, 'one copy per parse');
  t.not(own, q);
  t.not(own.raw, msg, 'its own bytes');
  t.not(own.edns, q.edns);
  parsed(p, encodeQuery('other.example', { id: 6, edns: false }));
  t.equal(own.qname, 'held.example');
  t.equal(own.id, 5);
  t.same(own.edns, { udpSize: 1232, dnssecOk: false, version: 0, nsid: false });
  msg.fill(0);
  t.equal(own.raw.readUInt16BE(0), 5, 'the copy does not follow the buffer it came from');
  const plain = parseQuery(encodeQuery('x.example')) as Query;
  t.equal(detachQuery(plain), plain, 'a query of its own already is returned as it is');
  t.not(detachQuery(parsed(p, msg.length ? encodeQuery('z.example') : msg)), own, 'the next parse gets its own copy');
});

t.test('ScratchBuffer: one view per length over the same memory', async (t) => {
  const s = new ScratchBuffer(64);
  const a = s.view(10);
  t.equal(a.length, 10);
  t.equal(s.view(10), a, 'the same object for the same length');
  a[0] = 0xab;
  t.equal(s.view(20)[0], 0xab, 'every view starts at the same byte');
});
