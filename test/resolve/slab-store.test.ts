import t from 'tap';
import { SLAB_MAX_BYTES, SlabStore } from '../../src/resolve/slab-store';

/** Slots of the cache's slab store: sizes, no overlap between live slots, reuse after free. */

t.test('a blob gets the smallest class that holds it; larger than a slot is refused', async (t) => {
  const slab = new SlabStore();
  for (const [bytes, room] of [[1, 64], [64, 64], [65, 128], [1000, 1024], [4096, 4096]] as const) {
    const h = slab.allocate(bytes);
    // The next slot of the class starts `room` bytes later in the same chunk.
    const next = slab.allocate(bytes);
    t.equal(slab.bufferOf(next), slab.bufferOf(h), `${bytes} bytes: same chunk`);
    t.equal(Math.abs(slab.offsetOf(next) - slab.offsetOf(h)), room, `${bytes} bytes: a ${room}-byte slot`);
  }
  t.throws(() => slab.allocate(SLAB_MAX_BYTES + 1), RangeError);
});

t.test('live slots never overlap; freed slots are reused before a new chunk is taken', async (t) => {
  const slab = new SlabStore();
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const live = new Map<number, { bytes: number; fill: number }>();
  let reissued = 0;
  for (let i = 0; i < 5000; i++) {
    if (live.size > 0 && rand(3) === 0) {
      const victim = [...live.keys()][rand(live.size)];
      slab.free(victim);
      live.delete(victim);
      continue;
    }
    const bytes = 1 + rand(SLAB_MAX_BYTES);
    const h = slab.allocate(bytes);
    if (live.has(h)) reissued++;
    const fill = i & 0xff;
    slab.bufferOf(h).fill(fill, slab.offsetOf(h), slab.offsetOf(h) + bytes);
    live.set(h, { bytes, fill });
  }
  t.equal(reissued, 0, 'no handle was handed out twice while live');
  let intact = 0;
  for (const [h, { bytes, fill }] of live) {
    const b = slab.bufferOf(h);
    const o = slab.offsetOf(h);
    let ok = true;
    for (let i = 0; i < bytes; i++) if (b[o + i] !== fill) ok = false;
    if (ok) intact++;
  }
  t.equal(intact, live.size, `all ${live.size} live blobs hold what was written to them`);
  const reserved = slab.reservedBytes;
  for (const h of live.keys()) slab.free(h);
  for (let i = 0; i < live.size; i++) slab.allocate(1 + rand(64));
  t.ok(slab.reservedBytes <= reserved + 64 * 1024, 'refilling after freeing everything takes at most one new chunk');
});
