import t from 'tap';
import { Registry } from 'prom-client';
import { EventLoopDelay } from '../../src/metrics/event-loop-delay';

/** The delay gauges report lateness, not the sampling interval, and see a real stall. */

const RESOLUTION_MS = 50;

async function scrape(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await registry.getMetricsAsJSON()) for (const v of m.values) out.set(`${m.name}${v.labels.quantile ? `{${v.labels.quantile}}` : ''}`, v.value);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('an idle loop shows (almost) no delay; a 200 ms stall shows as about 200 ms', async (t) => {
  const registry = new Registry();
  const loop = new EventLoopDelay(registry, { sample: true, standardNames: true, resolutionMs: RESOLUTION_MS });
  t.teardown(() => loop.close());
  await scrape(registry); // reset whatever the start-up cost
  await sleep(RESOLUTION_MS * 12);
  const idle = await scrape(registry);
  // Before the fix an idle loop reported the resolution itself (>= 50 ms) as its median delay.
  // Lateness on a loaded machine can be tens of ms; the interval itself is what the bug reported.
  t.ok((idle.get('privatelink_dns_event_loop_delay_seconds{0.5}') ?? 1) < (RESOLUTION_MS * 0.9) / 1000, `idle median ${idle.get('privatelink_dns_event_loop_delay_seconds{0.5}')} s is under the sampling interval`);
  t.equal(idle.get('nodejs_eventloop_lag_p50_seconds'), idle.get('privatelink_dns_event_loop_delay_seconds{0.5}'));

  await sleep(RESOLUTION_MS * 2); // Node drops the first interval after a reset
  const stallStart = Date.now();
  const until = stallStart + 200;
  while (Date.now() < until); // the stall
  await sleep(RESOLUTION_MS * 3);
  // No lateness can exceed the time since the stall began plus one interval, however busy the machine.
  const sinceStall = (Date.now() - stallStart + RESOLUTION_MS) / 1000;
  const stalled = await scrape(registry);
  const scraped = Date.now();
  const max = stalled.get('privatelink_dns_event_loop_delay_seconds{1}') ?? 0;
  t.ok(max >= 0.15 && max <= sinceStall, `the stall is seen as ${max} s (at most ${sinceStall} s could be)`);
  t.equal(stalled.get('nodejs_eventloop_lag_max_seconds'), max);

  const after = await scrape(registry);
  // Without the reset the stall would still be the maximum; after it, no lateness can exceed the
  // time since that scrape (plus one interval), a few ms here.
  const sinceScrape = (Date.now() - scraped + RESOLUTION_MS) / 1000;
  const afterMax = after.get('privatelink_dns_event_loop_delay_seconds{1}') ?? 1;
  t.ok(afterMax < max && afterMax <= sinceScrape, `reset at each scrape (${afterMax} s)`);
});

t.test('without sampling the gauge is registered and left to its owner; no standard names are added', async (t) => {
  const registry = new Registry();
  const loop = new EventLoopDelay(registry, { sample: false, standardNames: false });
  loop.gauge.set({ quantile: '1' }, 0.5);
  t.same([...(await scrape(registry)).entries()], [['privatelink_dns_event_loop_delay_seconds{1}', 0.5]]);
});

t.test('the sampler runs only while scrapes come: off at start, on from a scrape, off again after the watch window', async (t) => {
  const registry = new Registry();
  const loop = new EventLoopDelay(registry, { sample: true, standardNames: false, resolutionMs: 20, watchedForMs: 800 });
  t.teardown(() => loop.close());
  await sleep(100);
  t.equal(loop.isSampling, false, 'nobody scraped yet: no sampler timer');
  t.equal((await scrape(registry)).get('privatelink_dns_event_loop_delay_seconds{1}'), 0, 'the first scrape reads zeros (no samples yet)');
  t.equal(loop.isSampling, true, 'a scrape starts it');
  await sleep(300);
  await scrape(registry);
  await sleep(300);
  t.equal(loop.isSampling, true, 'each scrape extends the window (600 ms after the first)');
  const until = Date.now() + 60;
  while (Date.now() < until); // a stall while watched is seen
  await sleep(60);
  const seen = (await scrape(registry)).get('privatelink_dns_event_loop_delay_seconds{1}') ?? 0;
  t.ok(seen >= 0.03, `samples are taken while watched (a 60 ms stall read as ${seen} s)`);
  for (let i = 0; i < 50 && loop.isSampling; i++) await sleep(50);
  t.equal(loop.isSampling, false, 'no scrape for the window: it stops');
});
