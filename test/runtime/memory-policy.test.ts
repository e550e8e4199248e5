import t from 'tap';
import { MemoryPolicy } from '../../src/runtime/memory-policy';
import { loadNativeAddon } from '../../src/native/addon';

/** One garbage-collection observer serves the young-generation cap and the trimmer; no timer before a collection. */

t.test('one observer for the cap and the trimmer; a collection arms the trim check; stop disconnects', async (t) => {
  const subscribers: (() => void)[] = [];
  let disconnected = 0;
  const observe = (onGc: () => void): (() => void) => {
    subscribers.push(onGc);
    return () => {
      disconnected++;
    };
  };
  const policy = new MemoryPolicy(() => 0, true, observe);
  t.equal(subscribers.length, 1, 'a single observer');
  t.equal(policy.trims, 0);
  if (loadNativeAddon().ok) {
    t.equal(policy.trimCheckPending, false, 'no collection yet: no trim timer');
    subscribers[0]();
    t.equal(policy.trimCheckPending, true, 'a collection arms the trim check');
  }
  policy.stop();
  t.equal(disconnected, 1, 'stop() disconnects it');
  t.equal(policy.trimCheckPending, false, 'and clears the check');
});
