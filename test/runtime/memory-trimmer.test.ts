import t from 'tap';
import { MemoryTrimmer } from '../../src/runtime/memory-trimmer';
import { loadNativeAddon } from '../../src/native/addon';

/** When the daemon gives freed heap memory back: after growth, never while busy, not again without new growth. */

t.test('trims after the process grew, not while busy, and not again until it grows again', async (t) => {
  const MB = 1024 * 1024;
  let rss = 60 * MB;
  let busy = false;
  let trimmed = 0;
  const trimmer = new MemoryTrimmer({ trim: () => { trimmed++; rss -= 10 * MB; }, busy: () => busy, rss: () => rss, delayMs: 3_600_000 });
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

t.test('checks only after a garbage collection: one timer per delay, none without collections', async (t) => {
  let checks = 0;
  const trimmer = new MemoryTrimmer({ trim: () => undefined, busy: () => { checks++; return true; }, rss: () => 0, delayMs: 30 });
  t.teardown(() => trimmer.stop());
  await new Promise((r) => setTimeout(r, 100));
  t.equal(checks, 0, 'no collection: no check, no timer');
  t.equal(trimmer.pending, false);
  for (let i = 0; i < 100; i++) trimmer.gcSeen();
  t.equal(trimmer.pending, true, 'a collection arms one check');
  for (let i = 0; i < 50 && trimmer.pending; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(checks, 1, 'a hundred collections within the delay: one check');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(checks, 1, 'and nothing after it until the next collection');
  t.equal(trimmer.pending, false);
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

t.test('the addon holds glibc\'s trim threshold (mallopt M_TRIM_THRESHOLD)', async (t) => {
  const addon = loadNativeAddon();
  t.ok(addon.ok, addon.ok ? 'loaded' : addon.reason);
  if (!addon.ok) return;
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;
  t.equal(addon.binding.holdTrimThreshold(1 << 20), glibc, glibc ? 'set (glibc)' : 'nothing to set without glibc');
  t.equal(addon.binding.holdTrimThreshold(0), false, 'a threshold of 0 is refused, not set');
  t.throws(() => (addon.binding.holdTrimThreshold as unknown as () => boolean)(), 'the size is required');
});
