import t from 'tap';
import { MemoryTrimmer } from '../../src/runtime/memory-trimmer';
import { loadNativeAddon } from '../../src/native/addon';

/** When the daemon gives freed heap memory back: after growth, never while busy, not again without new growth. */

t.test('trims after the process grew, not while busy, and not again until it grows again', async (t) => {
  const MB = 1024 * 1024;
  let rss = 60 * MB;
  let busy = false;
  let trimmed = 0;
  const trimmer = new MemoryTrimmer({ trim: () => { trimmed++; rss -= 10 * MB; }, busy: () => busy, rss: () => rss, intervalMs: 3_600_000 });
  t.teardown(() => trimmer.stop());
  trimmer.tick();
  t.equal(trimmed, 1, 'the first quiet tick trims what start-up freed');
  trimmer.tick();
  t.equal(trimmed, 1, 'no growth since: nothing to do');
  rss += 30 * MB;
  busy = true;
  trimmer.tick();
  t.equal(trimmed, 1, 'grown, but busy forwarding: left alone');
  busy = false;
  trimmer.tick();
  t.equal(trimmed, 2, 'the flood is over: trimmed');
  rss += 3 * MB;
  trimmer.tick();
  t.equal(trimmed, 2, 'less than 4 MB of growth: left alone');
  t.equal(trimmer.trims, 2);
});

t.test('the addon trims (glibc malloc_trim)', async (t) => {
  const addon = loadNativeAddon();
  t.ok(addon.ok, addon.ok ? 'loaded' : addon.reason);
  if (!addon.ok) return;
  // Free something sizeable first so there is memory to give back.
  let junk: Buffer[] | undefined = Array.from({ length: 2000 }, () => Buffer.allocUnsafeSlow(8192));
  t.equal(junk.length, 2000);
  junk = undefined;
  t.type(addon.binding.trimMemory(), 'boolean');
});
