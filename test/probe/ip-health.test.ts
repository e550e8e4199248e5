import t from 'tap';
import { IpHealth } from '../../src/probe/ip-health';

t.test('down after fail_after failures in a row, up after pass_after passes', async (t) => {
  const h = new IpHealth(2, 3, 0);
  t.equal(h.state, 'unknown');
  t.equal(h.record(false, 'timeout', 1), undefined, 'one failure is not enough');
  t.equal(h.record(true, 'ok', 2), 'up', 'a pass resets the failures');
  t.equal(h.record(false, 'timeout', 3), undefined);
  t.equal(h.record(false, 'timeout', 4), 'down');
  t.equal(h.sinceMs, 4);
  t.equal(h.record(true, 'ok', 5), undefined);
  t.equal(h.record(true, 'ok', 6), undefined);
  t.equal(h.record(false, 'refused', 7), undefined, 'still down; passes reset');
  t.equal(h.record(true, 'ok', 8), undefined);
  t.equal(h.record(true, 'ok', 9), undefined);
  t.equal(h.record(true, 'ok', 10), 'up');
  t.equal(h.lastResult, 'ok');
});

t.test('unknown goes down directly', async (t) => {
  const h = new IpHealth(1, 1, 0);
  t.equal(h.record(false, 'unreachable', 1), 'down');
});
