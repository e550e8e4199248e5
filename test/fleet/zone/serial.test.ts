import t from 'tap';
import fc from 'fast-check';
import { nextSerial, serialAdd, serialCompare, serialForData, serialGt, toSerial } from '../../../src/fleet/zone/serial';

const MAX = 2 ** 32 - 1;

t.test('RFC 1982 comparison across the wrap', async (t) => {
  t.equal(serialCompare(5, 5), 0);
  t.equal(serialCompare(6, 5), 1);
  t.equal(serialCompare(5, 6), -1);
  t.equal(serialCompare(0, MAX), 1, '0 follows 2^32-1');
  t.equal(serialCompare(MAX, 0), -1);
  t.equal(serialCompare(10, MAX - 10), 1, 'a short way past the wrap is newer');
  t.equal(serialCompare(2 ** 31 - 1, 0), 1, 'just under half the space ahead is newer');
  t.equal(serialCompare(2 ** 31 + 1, 0), -1, 'just over half the space ahead is older');
  t.equal(serialCompare(2 ** 31, 0), undefined, 'exactly half apart is undefined');
  t.notOk(serialGt(2 ** 31, 0), 'undefined is not newer');
  t.notOk(serialGt(0, 2 ** 31));
  t.ok(serialGt(1, MAX));
});

t.test('serialAdd wraps and refuses increments RFC 1982 leaves undefined', async (t) => {
  t.equal(serialAdd(MAX, 1), 0);
  t.equal(serialAdd(MAX - 1, 5), 3);
  t.equal(serialAdd(7, 0), 7);
  t.throws(() => serialAdd(1, 2 ** 31), RangeError);
  t.throws(() => serialAdd(1, -1), RangeError);
  t.equal(toSerial(-1), MAX);
  t.equal(toSerial(2 ** 32 + 3), 3);
});

t.test('a + n follows a for every n in 1..2^31-1 (property)', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (a, n) => {
      const b = serialAdd(a, n);
      return serialGt(b, a) && !serialGt(a, b) && serialCompare(a, b) === -1;
    }),
    { numRuns: 2000, seed: 1982 },
  );
  t.pass('held for 2000 pairs');
});

t.test('nextSerial (export): unchanged content keeps its serial, a change takes the clock and never goes back', async (t) => {
  const now = 1_800_000_000;
  t.equal(nextSerial(undefined, 'd1', now), now, 'first publication: the time');
  t.equal(nextSerial({ serial: 1234, digest: 'd1' }, 'd1', now), 1234, 'same digest: same serial, whatever the clock');
  t.equal(nextSerial({ serial: now - 100, digest: 'd1' }, 'd2', now), now, 'a change: the time of the change');
  t.equal(nextSerial({ serial: now, digest: 'd1' }, 'd2', now), now + 1, 'two changes in one second: +1');
  t.equal(nextSerial({ serial: now + 500, digest: 'd1' }, 'd2', now), now + 501, 'clock stepped back: still forward');
  t.equal(nextSerial({ serial: MAX, digest: 'd1' }, 'd2', 5), 5, 'past the wrap the clock is ahead again (RFC 1982)');
  t.equal(nextSerial({ serial: MAX, digest: 'd1' }, 'd2', MAX - 10), 0, 'wraps to 0 when the clock is behind');
  t.ok(serialGt(nextSerial({ serial: MAX, digest: 'd1' }, 'd2', MAX - 10), MAX), 'and 0 is newer than 2^32-1');
});

t.test('a chain of changes under any clock only moves forward (property)', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX }), fc.array(fc.integer({ min: -100_000, max: 100_000 }), { minLength: 1, maxLength: 50 }), (start, steps) => {
      let prev = { serial: start, digest: 'd0' };
      let clock = start;
      for (const [i, step] of steps.entries()) {
        clock += step;
        const s = nextSerial(prev, `d${i + 1}`, clock);
        if (!serialGt(s, prev.serial)) return false;
        prev = { serial: s, digest: `d${i + 1}` };
      }
      return true;
    }),
    { numRuns: 1000, seed: 7 },
  );
  t.pass('serials strictly increase');
});

t.test('serialForData: the data time, never the clock; unchanged content keeps its serial', async (t) => {
  const data = 1_800_000_000;
  t.equal(serialForData(undefined, 'd1', data), data, 'nothing remembered (first start, lost or corrupt store): the data time itself');
  t.equal(serialForData({ serial: data - 3600, digest: 'd1' }, 'd1', data), data - 3600, 'same content: same serial, however fresh the fetch');
  t.equal(serialForData({ serial: data - 100, digest: 'd1' }, 'd2', data), data, 'newer data: its fetch time');
  t.equal(serialForData({ serial: data, digest: 'd1' }, 'd2', data), data + 1, 'two changes fetched in one second: +1 so secondaries see the second');
  t.equal(serialForData({ serial: data + 500, digest: 'd1' }, 'd2', data), data, 'older data than the last serial (restored backup): its own, lower time');
});

t.test('across hubs: older data never gets a higher serial than newer data, whatever each remembers (property)', async (t) => {
  // Hub X last fetched its content at x (seconds), hub Y fetched different, newer content at y > x + 1.
  // Whatever serial memory X holds for its own content (none, or a serial its older data got), its
  // serial for that content is at most x + 1; Y's for new content is at least y.
  fc.assert(
    fc.property(
      fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }),
      fc.integer({ min: 2, max: 10_000_000 }),
      fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
      fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
      (x, gap, xMemoryAge, yMemoryAge) => {
        const y = x + gap;
        // X's memory: a serial it gave this same content at or before x (or none).
        const xs = serialForData(xMemoryAge === undefined ? undefined : { serial: x - xMemoryAge, digest: 'old' }, 'old', x);
        // Y's memory: the serial of some earlier content, no later than its data (or none).
        const ys = serialForData(yMemoryAge === undefined ? undefined : { serial: y - 1 - Math.min(yMemoryAge, gap - 1), digest: 'older' }, 'new', y);
        return serialGt(ys, xs);
      },
    ),
    { numRuns: 2000, seed: 22 },
  );
  t.pass('held');
});
