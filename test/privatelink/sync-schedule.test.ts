/**
 * Issue 22 item 6: schedules that keep their promise. The sync loop runs on a fake clock with ticks
 * at the cron expression's real times, so an hour takes milliseconds and every count is exact:
 * jitter is capped below the interval, no tick is skipped for a pending jittered run, `check`'s
 * "syncs per hour" is what happens, and a reload applies a new schedule at once.
 */
import t from 'tap';
import { MAX_JITTER_SHARE, describeSchedule, nextCronRuns, syncSchedule } from '../../src/config/cron-schedule';
import type { EntryConfig, PrivateLinkConfig } from '../../src/config/schema';
import { estimateApiCalls } from '../../src/privatelink/quota';
import { Syncer, noSyncObserver, type Scheduler, type SyncerConfig } from '../../src/privatelink/sync';
import type { TableEntryInput } from '../../src/resolve/table';
import { FakeApi, FakeClock, captureLogger, endpoint, zone } from '../helpers/privatelink-fake';

const HOUR_MS = 3_600_000;
const entries: EntryConfig[] = [{ kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' }];

function config(pl: Partial<PrivateLinkConfig>): SyncerConfig {
  return {
    region: 'cn-hangzhou',
    privatelink: {
      endpoint: '127.0.0.1:1', protocol: 'http', connectTo: null, caPem: null, credentials: { type: 'default' }, bootstrap: [],
      refresh: '*/30 * * * * *', jitterMs: 120_000, timeoutMs: 1000, maxStaleMs: 86_400_000, maxBackoffMs: 8000, quotaPerMinute: 1000, ...pl,
    },
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries },
  };
}

/** Ticks at the expression's real times on the fake clock, as node-cron does on the real one. */
function cronOn(clock: FakeClock): { scheduler: Scheduler; ticks: () => number } {
  let ticks = 0;
  const scheduler: Scheduler = (expression, tick) => {
    let handle: unknown;
    let stopped = false;
    const arm = (): void => {
      const next = nextCronRuns(expression, 1, new Date(clock.now()))[0] as Date;
      handle = clock.setTimeout(() => {
        if (stopped) return;
        ticks++;
        tick();
        arm();
      }, next.getTime() - clock.now());
    };
    arm();
    return { stop: () => { stopped = true; clock.clearTimeout(handle); } };
  };
  return { scheduler, ticks: () => ticks };
}

function harness(pl: Partial<PrivateLinkConfig>, random: () => number) {
  const api = new FakeApi();
  api.endpoints = [endpoint('ep-a', [zone('k', '10.0.0.1')])];
  // On a whole hour, so ticks and counts line up with the clock's hours.
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 0, 0, 0));
  const cron = cronOn(clock);
  const syncs: number[] = [];
  const { logger, lines } = captureLogger();
  let ips: string[] = [];
  const syncer = new Syncer({
    api: () => api,
    config: config(pl),
    observer: noSyncObserver,
    logger,
    onState: (_state, inputs: TableEntryInput[], info) => {
      if (info.reason === 'sync') syncs.push(clock.now());
      ips = [...(inputs[0]?.ipv4 ?? [])];
    },
    clock,
    random,
    scheduler: cron.scheduler,
  });
  return { api, clock, cron, syncs, syncer, lines, ips: () => ips };
}

t.test('the effective schedule: jitter capped at half the shortest interval, syncs per hour from the expression', async (t) => {
  const cases: [string, number, { shortestIntervalMs: number; longestIntervalMs: number | undefined; jitterMs: number; syncsPerHour: number }][] = [
    ['*/30 * * * * *', 120_000, { shortestIntervalMs: 30_000, longestIntervalMs: 30_000, jitterMs: 15_000, syncsPerHour: 120 }],
    ['*/30 * * * * *', 3_000, { shortestIntervalMs: 30_000, longestIntervalMs: 30_000, jitterMs: 3_000, syncsPerHour: 120 }],
    ['0 */5 * * * *', 120_000, { shortestIntervalMs: 300_000, longestIntervalMs: 300_000, jitterMs: 120_000, syncsPerHour: 12 }],
    ['*/5 * * * *', 3_600_000, { shortestIntervalMs: 300_000, longestIntervalMs: 300_000, jitterMs: 150_000, syncsPerHour: 12 }],
    ['* * * * * *', 0, { shortestIntervalMs: 1000, longestIntervalMs: 1000, jitterMs: 0, syncsPerHour: 3600 }],
    ['0 0 9,17 * * *', 3_600_000, { shortestIntervalMs: 8 * HOUR_MS, longestIntervalMs: 16 * HOUR_MS, jitterMs: HOUR_MS, syncsPerHour: 1 }],
    ['0 0,30 9-17 * * 1-5', 3_600_000, { shortestIntervalMs: 1_800_000, longestIntervalMs: undefined, jitterMs: 900_000, syncsPerHour: 2 }],
  ];
  for (const [expression, jitterMs, want] of cases) {
    t.same(syncSchedule(expression, jitterMs), { ...want, configuredJitterMs: jitterMs }, `${expression}, jitter ${jitterMs}ms`);
  }
  t.equal(MAX_JITTER_SHARE, 0.5);
  t.equal(
    describeSchedule(syncSchedule('*/30 * * * * *', 120_000)),
    'privatelink schedule: a sync every 30s, 120 per hour, each within 15s of its tick (privatelink.jitter 2m is capped at 50% of the shortest interval); ' +
      'a change at the API is picked up by a sync that starts within 45s (longest interval + jitter), unless syncs are backing off after errors or one outlasts the interval',
  );
});

t.test('a 30 s schedule with the default 2 m jitter syncs as often as check says: every tick, none skipped', async (t) => {
  // The worst draw every time: each run waits the whole (capped) jitter.
  const h = harness({ refresh: '*/30 * * * * *', jitterMs: 120_000 }, () => 0.999);
  h.syncer.start();
  await h.clock.advance(0);
  t.equal(h.syncs.length, 1, 'the first sync at start');
  await h.clock.advance(HOUR_MS);
  t.equal(h.cron.ticks(), 120, 'ticks in the hour');
  await h.clock.advance(15_000); // the last tick's run, still in its jitter
  const scheduled = h.syncs.length - 1;
  const promised = estimateApiCalls(config({ refresh: '*/30 * * * * *', jitterMs: 120_000 }))?.syncsPerHour;
  t.equal(promised, 120, "check's figure");
  t.equal(scheduled, promised, 'one sync per tick: what check prints is what happens');
  const lateness = h.syncs.slice(1).map((at) => at % 30_000);
  t.ok(lateness.every((ms) => ms < 15_000), `every sync within the capped jitter of its tick (max ${Math.max(...lateness)}ms)`);
  t.match(h.lines.filter((l) => /capped/.test(String(l.msg))), [{ level: 30, jitterMs: 120_000, effectiveJitterMs: 15_000 }], 'the cap is logged once, at info');
  await h.syncer.stop();
});

t.test('a change at the API reaches the table within the interval plus the capped jitter, wherever it falls', async (t) => {
  const h = harness({ refresh: '*/30 * * * * *', jitterMs: 120_000 }, () => 0.999);
  h.syncer.start();
  await h.clock.advance(0);
  const bound = 30_000 + syncSchedule('*/30 * * * * *', 120_000).jitterMs;
  let worst = 0;
  // Changes at 97 offsets across a few intervals (co-prime step, so every phase of the cycle is hit).
  for (let i = 0; i < 97; i++) {
    await h.clock.advance(7_919);
    const ip = `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    h.api.endpoints = [endpoint('ep-a', [zone('k', ip)])];
    const changedAt = h.clock.now();
    let waited = 0;
    for (let step = 0; step < 1000 && h.ips()[0] !== ip; step++) {
      await h.clock.advance(250);
      waited += 250;
    }
    t.equal(h.ips()[0], ip, `change ${i} arrived`);
    worst = Math.max(worst, h.clock.now() - changedAt);
    if (waited > bound) t.fail(`change ${i} took ${waited}ms`);
  }
  t.ok(worst <= bound, `worst ${worst}ms <= ${bound}ms (30 s + 15 s)`);
  await h.syncer.stop();
});

t.test('a reload that shortens the schedule applies at once, not after the pending jittered run', async (t) => {
  const h = harness({ refresh: '0 * * * * *', jitterMs: 120_000 }, () => 0.999);
  h.syncer.start();
  await h.clock.advance(0);
  await h.clock.advance(60_000); // the minute's tick: a run pending for just under 30 s (the capped jitter)
  t.equal(h.syncs.length, 1, 'the tick run is still waiting out its jitter');
  const pending = h.clock.pending.map((p) => p.at - h.clock.now()).filter((ms) => ms > 1000 && ms < 30_000);
  t.equal(pending.length, 1, `a jittered run ${pending[0]}ms away`);
  h.syncer.reconfigure(config({ refresh: '*/2 * * * * *', jitterMs: 120_000 }));
  const reloadedAt = h.clock.now();
  await h.clock.advance(1000);
  t.equal(h.syncs.length, 2, 'the pending run now waits at most the new cap (1 s)');
  t.ok((h.syncs[1] as number) - reloadedAt <= 1000, 'within the new jitter');
  await h.clock.advance(20_000);
  t.equal(h.syncs.length, 12, 'then one sync per 2 s tick');
  await h.syncer.stop();
});

t.test('a reload that only lowers the jitter also shortens the pending wait; a longer one leaves it', async (t) => {
  const h = harness({ refresh: '0 * * * * *', jitterMs: 20_000 }, () => 0.999);
  h.syncer.start();
  await h.clock.advance(0);
  await h.clock.advance(60_000);
  h.syncer.reconfigure(config({ refresh: '0 * * * * *', jitterMs: 25_000 }));
  t.same(h.clock.pending.map((p) => p.at - h.clock.now()).filter((ms) => ms > 1000 && ms < 59_000), [19_980], 'a longer jitter does not postpone the run');
  h.syncer.reconfigure(config({ refresh: '0 * * * * *', jitterMs: 2_000 }));
  t.same(h.clock.pending.map((p) => p.at - h.clock.now()).filter((ms) => ms < 59_000), [1998], 'redrawn within the new 2 s');
  await h.clock.advance(2000);
  t.equal(h.syncs.length, 2);
  await h.syncer.stop();
});

t.test('the default 5-minute schedule keeps its 2-minute spread (the fleet quota arithmetic holds)', async (t) => {
  const h = harness({ refresh: '0 */5 * * * *', jitterMs: 120_000 }, () => 0.999);
  h.syncer.start();
  await h.clock.advance(0);
  await h.clock.advance(HOUR_MS + 120_000);
  t.equal(h.syncs.length - 1, 12, '12 syncs for the hour');
  const lateness = h.syncs.slice(1).map((at) => at % 300_000);
  t.ok(lateness.every((ms) => ms > 110_000 && ms < 120_000), 'each spread by up to the whole 2 minutes');
  await h.syncer.stop();
});
