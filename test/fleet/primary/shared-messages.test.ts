import t from 'tap';
import { SharedMessages } from '../../../src/fleet/primary/shared-messages';

// The AXFR messages of a serial: built as the first reader needs them, shared by every reader,
// and a build that fails fails for everyone (no zone handed out cut short).

function* source(count: number, built: number[], failAt?: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) {
    if (i === failAt) throw new RangeError(`record ${i} does not fit`);
    built.push(i);
    yield Buffer.from([i]);
  }
}

t.test('built one message at a time, as far as the furthest reader', async (t) => {
  const built: number[] = [];
  const shared = new SharedMessages(source(5, built));
  t.equal(shared.builtCount, 0, 'nothing built before a reader asks');
  const a = shared[Symbol.iterator]();
  t.same(a.next().value, Buffer.from([0]));
  t.same(built, [0], 'the first message alone for the first read');
  const b = shared[Symbol.iterator]();
  t.same(b.next().value, Buffer.from([0]), 'a second reader gets the same first message');
  t.same(built, [0], 'without building it again');
  t.same([...a].map((m) => m[0]), [1, 2, 3, 4], 'the first reader reads on to the end');
  t.same([...b].map((m) => m[0]), [1, 2, 3, 4], 'the second reader reads the shared rest');
  t.same(built, [0, 1, 2, 3, 4], 'every message built exactly once');
  t.equal(shared.at(5), undefined, 'past the last: undefined');
});


t.test('a failed build throws for every reader past the messages that were built', async (t) => {
  const shared = new SharedMessages(source(5, [], 2));
  t.throws(() => [...shared], /record 2 does not fit/, 'the first reader sees the failure');
  t.throws(() => [...shared], /record 2 does not fit/, 'a later reader sees it too, not a short zone');
  t.same(shared.at(1), Buffer.from([1]), 'the messages before it are still there');
});

t.test('onBuilt is called once, when the last message is built, and not for a build that failed', async (t) => {
  let built = 0;
  const shared = new SharedMessages([Buffer.from('a'), Buffer.from('b')], () => built++);
  shared.at(1);
  t.equal(built, 0, 'not while messages remain to build');
  t.equal([...shared].length, 2);
  t.equal(built, 1, 'once the source is exhausted');
  t.equal([...shared].length, 2);
  t.equal(built, 1, 'later readers reuse the messages: not again');
  let failedBuilt = 0;
  function* failing(): Generator<Buffer> {
    yield Buffer.from('a');
    throw new Error('record does not fit');
  }
  const failed = new SharedMessages(failing(), () => failedBuilt++);
  t.throws(() => [...failed]);
  t.equal(failedBuilt, 0);
});
