import t from 'tap';
import { StreamScheduler } from '../../src/server/stream-scheduler';

// Transfer streams take turns in bounded slices and yield to the event loop between slices.

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('steps run in turn, never synchronously, and a slice ends when its time is up', async (t) => {
  let clock = 0;
  // Each step costs 1 ms on the fake clock; a slice is 4 ms.
  const s = new StreamScheduler(4, () => clock);
  const order: string[] = [];
  const stream = (name: string, messages: number) => {
    let left = messages;
    return (): boolean => {
      clock += 1;
      order.push(name);
      return --left > 0;
    };
  };
  s.add(stream('a', 10));
  s.add(stream('b', 10));
  t.same(order, [], 'nothing runs inside add');
  await turn();
  t.same(order, ['a', 'b', 'a', 'b'], 'one slice: round robin, 4 steps of 1 ms');
  t.equal(s.waiting, 2, 'both streams wait for the next slice');
  for (let i = 0; i < 10 && s.waiting > 0; i++) await turn();
  t.equal(order.length, 20, 'every message written in the end');
  t.equal(s.waiting, 0);
});

t.test('I/O and timers get the loop between slices', async (t) => {
  const s = new StreamScheduler(2);
  let steps = 0;
  const started = Date.now();
  // A stream that would take ~200 ms of busy work if run in one go.
  s.add(() => {
    const until = performance.now() + 1;
    while (performance.now() < until);
    steps++;
    return steps < 200 && Date.now() - started < 5000;
  });
  const seen: number[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      seen.push(steps);
      if (s.waiting === 0 || seen.length > 5000) resolve();
      else setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  });
  t.ok(seen.length >= 20, `a timer ran ${seen.length} times while the stream was written`);
  t.ok(Math.max(...seen.map((v, i) => v - (seen[i - 1] ?? 0))) <= 10, 'at most a few steps between two timer turns');
});

t.test('a step that throws is dropped; the others go on', async (t) => {
  const s = new StreamScheduler(4);
  let good = 0;
  s.add(() => {
    throw new Error('boom');
  });
  s.add(() => ++good < 3);
  for (let i = 0; i < 10 && s.waiting > 0; i++) await turn();
  t.equal(good, 3);
});
