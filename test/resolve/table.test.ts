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

t.test('the inputs are held as given, and records share their address storage', async (t) => {
  const inputs = [
    { id: 'a', names: ['a.example'], ipv4: ['10.0.0.1', '10.0.0.2'], ipv6: [] },
    { id: 'b', names: ['b.example'], ipv4: ['10.0.0.3'], ipv6: ['fd00::3'] },
    { id: 'c', names: ['c.example'], ipv4: [], ipv6: [] },
  ];
  const built = AnswerTable.build(inputs);
  t.ok(built.inputs.every((input, i) => input === inputs[i]), 'no copy of an input');
  t.ok(Object.isFrozen(built.inputs), 'the list itself is the table\'s, frozen');
  const [a, b, c] = built.records;
  t.equal(a?.aRdata.toString('hex'), '0a0000010a000002');
  t.equal(b?.aRdata.toString('hex'), '0a000003');
  t.equal(b?.aaaaRdata.toString('hex'), 'fd000000000000000000000000000003');
  t.equal(a?.aRdata.buffer, b?.aaaaRdata.buffer, 'every record\'s addresses in one buffer');
  t.equal(a?.aaaaRdata, c?.aRdata, 'records without addresses of a family share one empty buffer');
  t.equal(c?.aaaaRdata.length, 0);
  t.equal(AnswerTable.build(inputs).records[0]?.aRdata.buffer === a?.aRdata.buffer, false, 'each table has its own buffer');
});
