import t, { type Test } from 'tap';
import { RecencyList, type RecencyLinks } from '../../src/resolve/recency-list';

class Item implements RecencyLinks<Item> {
  older: Item | null = null;
  newer: Item | null = null;
  constructor(readonly name: string) {}
}

/** Names from oldest to newest, walking `newer`, checked against the walk back along `older`. */
function order(t: Test, list: RecencyList<Item>): string[] {
  const forward: string[] = [];
  for (let i = list.oldest; i !== null && forward.length < 100; i = i.newer) forward.push(i.name);
  const back: string[] = [];
  for (let i = list.newest; i !== null && back.length < 100; i = i.older) back.push(i.name);
  t.same(back.reverse(), forward, 'both directions agree');
  return forward;
}

t.test('push appends as the newest; touch moves to the newest end', async (t) => {
  const list = new RecencyList<Item>();
  t.equal(list.oldest, null);
  t.equal(list.newest, null);
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new Item(n));
  list.push(a);
  list.push(b);
  list.push(c);
  t.same(order(t, list), ['a', 'b', 'c']);
  list.touch(a);
  t.same(order(t, list), ['b', 'c', 'a'], 'the oldest touched');
  list.touch(c);
  t.same(order(t, list), ['b', 'a', 'c'], 'a middle item touched');
  list.touch(c);
  t.same(order(t, list), ['b', 'a', 'c'], 'touching the newest changes nothing');
  t.equal(list.oldest, b);
  t.equal(list.newest, c);
});

t.test('remove unlinks from either end or the middle and clears the links', async (t) => {
  const list = new RecencyList<Item>();
  const items = ['a', 'b', 'c', 'd'].map((n) => new Item(n));
  for (const i of items) list.push(i);
  const [a, b, c, d] = items;
  list.remove(b);
  t.same(order(t, list), ['a', 'c', 'd']);
  t.equal(b.older, null);
  t.equal(b.newer, null);
  list.remove(a);
  t.same(order(t, list), ['c', 'd']);
  list.remove(d);
  t.same(order(t, list), ['c']);
  t.equal(list.oldest, c);
  t.equal(list.newest, c);
  list.remove(c);
  t.same(order(t, list), []);
  t.equal(list.oldest, null);
  t.equal(list.newest, null);
  list.push(b);
  t.same(order(t, list), ['b'], 'a removed item can be pushed again');
});

t.test('clear empties the list', async (t) => {
  const list = new RecencyList<Item>();
  list.push(new Item('a'));
  list.push(new Item('b'));
  list.clear();
  t.equal(list.oldest, null);
  t.equal(list.newest, null);
  list.push(new Item('c'));
  t.same(order(t, list), ['c']);
});

t.test('eviction order under a mixed workload matches a reference model', async (t) => {
  const list = new RecencyList<Item>();
  const byName = new Map<string, Item>();
  let model: string[] = [];
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let step = 0; step < 2000; step++) {
    const name = `k${rand(20)}`;
    const op = rand(3);
    const item = byName.get(name);
    if (item === undefined) {
      const fresh = new Item(name);
      byName.set(name, fresh);
      list.push(fresh);
      model.push(name);
    } else if (op === 0) {
      list.remove(item);
      byName.delete(name);
      model = model.filter((n) => n !== name);
    } else {
      list.touch(item);
      model = [...model.filter((n) => n !== name), name];
    }
  }
  t.same(order(t, list), model);
});
