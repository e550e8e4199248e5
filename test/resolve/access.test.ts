import t from 'tap';
import { AccessList, isLoopbackAddress } from '../../src/resolve/access';

t.test('CIDRs and single addresses, IPv4 and IPv6', async (t) => {
  const list = new AccessList(['10.0.0.0/8', '192.0.2.7', 'fd00::/64', '2001:db8::1']);
  for (const a of ['10.0.0.1', '10.255.255.255', '192.0.2.7', 'fd00::1', 'fd00::ffff:1', '2001:db8::1', '2001:db8:0:0:0:0:0:1']) t.ok(list.allows(a), `${a} allowed`);
  for (const a of ['11.0.0.1', '9.255.255.255', '192.0.2.8', 'fd00:0:0:1::1', '2001:db8::2', '::1', '127.0.0.1']) t.notOk(list.allows(a), `${a} not allowed`);
});

t.test('an IPv4-mapped IPv6 client is matched as IPv4 (dual-stack sockets)', async (t) => {
  const list = new AccessList(['10.0.0.0/8']);
  t.ok(list.allows('::ffff:10.1.2.3'));
  t.notOk(list.allows('::ffff:11.1.2.3'));
  t.notOk(new AccessList(['::ffff:0:0/96']).allows('10.1.2.3'), 'an IPv6 range never matches an IPv4 client');
});

t.test('nothing configured allows nothing; text that is not an address is refused', async (t) => {
  t.notOk(new AccessList([]).allows('10.0.0.1'));
  const list = new AccessList(['0.0.0.0/0', '::/0']);
  t.ok(list.allows('203.0.113.9'));
  t.ok(list.allows('2001:db8::9'));
  for (const a of ['', 'localhost', '10.0.0.256', 'not an address']) t.notOk(list.allows(a), `"${a}" refused`);
});

t.test('the remembered verdicts stay right past the memo bound', async (t) => {
  const list = new AccessList(['10.0.0.0/16']);
  // 70,000 distinct addresses: over the 65,536 remembered, so the memo is cleared once on the way.
  let wrong = 0;
  for (let i = 0; i < 70_000; i++) {
    const inside = i % 2 === 0;
    const address = `${inside ? 10 : 11}.0.${(i >> 8) & 0xff}.${i & 0xff}`;
    if (list.allows(address) !== inside) wrong++;
  }
  t.equal(wrong, 0, 'every verdict right, first time and remembered');
  t.ok(list.allows('10.0.1.1'), 'and again after the clear');
  t.notOk(list.allows('11.0.1.1'));
});

t.test('isLoopbackAddress: 127/8 and ::1, also IPv4-mapped', async (t) => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1']) t.ok(isLoopbackAddress(a), a);
  for (const a of ['10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', '1127.0.0.1']) t.notOk(isLoopbackAddress(a), a);
});
