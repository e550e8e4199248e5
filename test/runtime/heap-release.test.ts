import t from 'tap';
import { getHeapSpaceStatistics } from 'node:v8';
import { HeapRelease, fullCollection } from '../../src/runtime/heap-release';

/** A hub gives back the heap a publish grew into: once, soon after the last of a burst of calls. */

t.test('soon() after a burst of calls collects once, and not again without another call', async (t) => {
  let collections = 0;
  const release = new HeapRelease(() => collections++, 20);
  t.teardown(() => release.stop());
  for (let i = 0; i < 5; i++) release.soon();
  t.equal(collections, 0, 'nothing while the burst goes on');
  for (let i = 0; i < 200 && release.releases === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(release.releases, 1, 'one release for the burst');
  t.equal(collections, 1, 'one full collection (compacting: the pages it empties go back at once)');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(release.releases, 1, 'no call, no release');
});

t.test('stop() drops a pending release', async (t) => {
  let collections = 0;
  const release = new HeapRelease(() => collections++, 20);
  release.soon();
  release.stop();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(collections, 0);
});

/** The old generation (where a publish's data and garbage end up): committed and used bytes. */
function oldSpace(): { size: number; used: number } {
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  if (!old) throw new Error('no old_space in the heap statistics');
  return { size: old.space_size, used: old.space_used_size };
}

t.test('a release gives the pages of a burst back: the heap ends near its live data', async (t) => {
  const gc = fullCollection();
  t.equal(typeof gc, 'function', 'a full collection is available without --expose-gc');
  t.equal(typeof (globalThis as { gc?: unknown }).gc === 'function', process.execArgv.includes('--expose-gc'), 'gc is not left exposed to this context');
  // A burst as a publish makes it: many objects, one in four kept, spread over every page.
  const MB = 1024 * 1024;
  let burst: { i: number; s: string }[] | undefined = [];
  for (let i = 0; i < 600_000; i++) burst.push({ i, s: `name-${i}.bulk.example` });
  const kept = burst.filter((_, i) => i % 4 === 0);
  burst = undefined;
  const grown = oldSpace();
  new HeapRelease(gc).release();
  const after = oldSpace();
  t.ok(kept.length === 150_000, 'the survivors are alive');
  t.ok(grown.size > after.size + 20 * MB, `the old generation shrank (${(grown.size / MB).toFixed(1)} -> ${(after.size / MB).toFixed(1)} MB)`);
  // The survivors were spread over every page: compacted, the pages hold little besides them.
  t.ok(after.size <= after.used * 1.15 + 2 * MB, `old generation ${(after.size / MB).toFixed(1)} MB for ${(after.used / MB).toFixed(1)} MB live`);
});
