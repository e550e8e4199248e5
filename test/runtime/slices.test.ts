import t from 'tap';
import { type SliceBudget, Slicer, runNow, sortInSlices, unlimitedBudget, type Sliced } from '../../src/runtime/slices';

// Sliced work: the budget's unit bound, one slice per event-loop turn, the first slice before
// run() returns, and a sort that gives exactly what a stable Array.prototype.sort gives.

const NO_CLOCK = { maxUnits: 100, maxMs: Number.POSITIVE_INFINITY };

function* countTo(n: number, budget: SliceBudget): Sliced<number> {
  let done = 0;
  for (let i = 0; i < n; i++) {
    done++;
    if (budget.spend()) yield;
  }
  return done;
}

t.test('a slice ends at maxUnits; each slice is one turn of the event loop', async (t) => {
  const units: number[] = [];
  const slicer = new Slicer(NO_CLOCK, (u) => units.push(u));
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running && turns < 10_000) setImmediate(tick);
  };
  setImmediate(tick);
  const result = await slicer.run((b) => countTo(1050, b));
  running = false;
  t.equal(result, 1050);
  t.same(units, [...Array(10).fill(100), 50], 'ten full slices and the rest');
  t.ok(turns >= 10, `the event loop turned between slices (${turns} turns)`);
});

t.test('work that fits in one slice is done before run() returns', async (t) => {
  const slicer = new Slicer(NO_CLOCK);
  let done = false;
  const p = slicer.run(function* (b) {
    yield* countTo(99, b);
    done = true;
  });
  t.ok(done, 'no turn was waited for');
  await p;
});

t.test('the time limit ends a slice early; the unit limit still holds', async (t) => {
  const units: number[] = [];
  const slicer = new Slicer({ maxUnits: 1000, maxMs: 0 }, (u) => units.push(u));
  t.equal(await slicer.run((b) => countTo(1000, b)), 1000);
  t.ok(units.length > 1, 'cut at the first clock read');
  t.ok(units.every((u) => u <= 64), `no slice past the first clock read: ${units.slice(0, 3)}`);
});

t.test('runNow and an unlimited budget never yield', async (t) => {
  t.equal(runNow(countTo(100_000, unlimitedBudget())), 100_000);
});

t.test('sortInSlices: the same order as a stable native sort, ties kept in input order', async (t) => {
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (const n of [0, 1, 2, 3, 17, 64, 1000, 4097]) {
    const items = Array.from({ length: n }, (_, i) => ({ key: Math.floor(random() * (n / 3 + 1)), i }));
    const compare = (a: { key: number }, b: { key: number }): number => a.key - b.key;
    const expected = [...items].sort(compare);
    const units: number[] = [];
    const got = await new Slicer(NO_CLOCK, (u) => units.push(u)).run((b) => sortInSlices(items, compare, b));
    t.same(got.map((x) => x.i), expected.map((x) => x.i), `${n} items`);
    t.ok(units.every((u) => u <= NO_CLOCK.maxUnits), `${n} items: slices within the bound`);
    t.not(got, items, 'a new array');
  }
  const inOrder = Array.from({ length: 1000 }, (_, i) => i);
  const units: number[] = [];
  const same = await new Slicer(NO_CLOCK, (u) => units.push(u)).run((b) => sortInSlices(inOrder, (a, b) => a - b, b));
  t.same(same, inOrder);
  t.ok(units.reduce((a, b) => a + b, 0) < 1000, 'input in order: one pass, no merging');
});
