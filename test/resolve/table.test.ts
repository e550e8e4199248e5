import t from 'tap';
import { AnswerTable } from '../../src/resolve/table';

const table = AnswerTable.build([
  { id: 'ep-1', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], ipv4: ['192.168.1.1', '192.168.1.2'], ipv6: [] },
  { id: 'ep-2', names: ['oss-cn-hangzhou-internal.aliyuncs.com', '*.oss-cn-hangzhou-internal.aliyuncs.com'], ipv4: ['192.168.2.1'], ipv6: ['fd00::1'] },
  { id: 'static:x', names: ['*.a.example.internal', 'exact.b.a.example.internal'], ipv4: ['10.9.9.9'], ipv6: [] },
  { id: 'static:y', names: ['*.b.a.example.internal'], ipv4: ['10.8.8.8'], ipv6: [] },
]);

t.test('exact names', async (t) => {
  const m = table.lookup('cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.equal(m?.record.id, 'ep-1');
  t.equal(m?.labelsAboveApex, 0);
  t.equal(m?.record.aRdata.toString('hex'), 'c0a80101c0a80102', 'A rdata pre-encoded in order');
  t.equal(table.lookup('cn-hangzhou.aliyuncs.com'), undefined, 'a parent is not managed');
  t.equal(table.lookup('x.cs-anony-vpc.cn-hangzhou.aliyuncs.com'), undefined, 'a child of an exact name is not managed');
});

t.test('wildcards', async (t) => {
  t.equal(table.lookup('oss-cn-hangzhou-internal.aliyuncs.com')?.labelsAboveApex, 0, 'apex matched by its exact entry');
  const m = table.lookup('bucket.oss-cn-hangzhou-internal.aliyuncs.com');
  t.equal(m?.record.id, 'ep-2');
  t.equal(m?.labelsAboveApex, 1);
  t.equal(table.lookup('deep.bucket.oss-cn-hangzhou-internal.aliyuncs.com')?.labelsAboveApex, 2, 'any depth below the wildcard');
  t.equal(m?.record.aaaaRdata.length, 16);
  t.equal(table.lookup('x.b.a.example.internal')?.record.id, 'static:y', 'the longest wildcard suffix wins');
  t.equal(table.lookup('exact.b.a.example.internal')?.record.id, 'static:x', 'an exact name beats a wildcard');
  t.equal(table.lookup('x.a.example.internal')?.record.id, 'static:x');
  t.equal(table.lookup('a.example.internal'), undefined, 'the wildcard does not match its own parent');
});

t.test('matches are shared objects; wildcard walks of names asked before are remembered', async (t) => {
  const exact = table.lookup('cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.equal(table.lookup('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), exact, 'the same match object every time');
  const name = 'remembered.oss-cn-hangzhou-internal.aliyuncs.com';
  const first = table.lookup(name, true);
  t.equal(first?.record.id, 'ep-2');
  t.equal(first?.labelsAboveApex, 1);
  t.equal(table.lookup(name, true), first, 'remembered: the same match');
  t.not(table.lookup(name), first, 'without `remember` the walk is made again');
  t.equal(table.lookup('nothing.example', true), undefined);
  t.equal(table.lookup('nothing.example', true), undefined, 'a remembered miss stays a miss');
});

t.test('size', async (t) => {
  t.equal(table.size, 6);
  t.equal(AnswerTable.empty().lookup('anything.example'), undefined);
});
