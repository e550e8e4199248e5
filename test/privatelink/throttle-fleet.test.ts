/**
 * Issue 25 item 7: a fleet throttled together does not retry together. Twenty sync loops, each
 * with the real client against the simulator, are all answered Throttling.User with an
 * x-acs-retry-after; their retries must all come after it and spread out (no one-second window
 * holds more than a quarter of them). Time is a shared fake clock stepped timer by timer (the
 * HTTP calls are real), so nothing depends on how fast this machine is.
 */
import t from 'tap';
import type { Config } from '../../src/config/schema';
import { createPrivateLinkClient, type PrivateLinkClient } from '../../src/privatelink/client';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { syncStatus } from '../../src/privatelink/sync-status';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { FakeClock, ManualScheduler, captureLogger, flush, simulatorApiConfig } from '../helpers/privatelink-fake';

const CLIENTS = 20;
const RETRY_AFTER_MS = 2000;

/** A small seeded generator: each client its own deterministic stream of [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('a throttled fleet of 20 spreads its retries after x-acs-retry-after', async (t) => {
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  sim.addFault({ action: 'ListVpcEndpoints', status: 400, code: 'Throttling.User', retryAfterMs: RETRY_AFTER_MS, remaining: CLIENTS });

  const clock = new FakeClock();
  const startMs = clock.now();
  const sched = new ManualScheduler();
  const { logger, lines } = captureLogger();
  const clients: PrivateLinkClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  const calls: number[][] = [];
  const syncers: Syncer[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const privatelink = simulatorApiConfig(sim.endpoint, { refresh: '0 */5 * * * *', jitterMs: 120_000 });
    const config: Pick<Config, 'region' | 'privatelink' | 'records'> = {
      region: 'cn-hangzhou',
      privatelink,
      records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [{ kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-bp1g7k2m9x4q8w3z5' }] },
    };
    const client = createPrivateLinkClient({ config: privatelink, region: 'cn-hangzhou' });
    clients.push(client);
    const mine: number[] = [];
    calls.push(mine);
    syncers.push(new Syncer({
      api: () => client,
      config,
      observer: { ...noSyncObserver, apiCall: (action) => { if (action === 'ListVpcEndpoints') mine.push(clock.now()); } },
      logger,
      onState: () => {},
      clock,
      random: mulberry32(1000 + i),
      scheduler: sched.scheduler,
    }));
  }
  t.teardown(() => Promise.all(syncers.map((s) => s.stop())));

  /** Fires the earliest timer, then lets every sync it started finish its real HTTP calls. */
  const step = async (): Promise<boolean> => {
    const next = clock.pending.map((p) => p.at).sort((a, b) => a - b)[0];
    if (next === undefined) return false;
    await clock.advance(next - clock.now());
    for (let k = 0; k < 50 && syncers.some((s) => s.busy); k++) {
      await Promise.all(syncers.map((s) => (s.busy ? s.syncOnce() : undefined)));
      await flush();
    }
    return true;
  };

  for (const s of syncers) s.start();
  for (let i = 0; i < 200 && calls.some((c) => c.length < 2); i++) {
    // Before the retries: every loop shows when its retry runs.
    if (i === 1) {
      const next = syncers.map((s) => s.backoff().nextAttemptMs);
      t.ok(next.every((ms) => ms !== undefined && ms >= startMs + RETRY_AFTER_MS), 'each loop has a retry scheduled after x-acs-retry-after');
      const status = syncStatus({
        state: syncers[0]?.current().state, table: { inputs: [], version: 0, size: 0, builtAt: 0 } as never,
        config: { ...(syncers[0] as unknown as { config: Config }).config, source: 'privatelink', cache: { size: 1 } } as Config,
        nowMs: clock.now(), backoff: syncers[0]?.backoff(), apiCalls: undefined,
      });
      t.match(status.backoff, { attempts: 1, nextAttempt: new Date(next[0] as number).toISOString(), reason: { code: 'PL_THROTTLED' } }, '/status shows the next attempt');
    }
    if (!(await step())) break;
  }

  t.ok(calls.every((c) => c[0] === startMs), 'all twenty were throttled together at the first sync');
  t.ok(calls.every((c) => c.length === 2), 'each retried once');
  const retries = calls.map((c) => c[1] as number).sort((a, b) => a - b);
  t.ok(retries.every((ms) => ms >= startMs + RETRY_AFTER_MS), 'no retry before x-acs-retry-after');
  let busiest = 0;
  for (const r of retries) busiest = Math.max(busiest, retries.filter((x) => x >= r && x < r + 1000).length);
  t.ok(busiest <= CLIENTS / 4, `at most a quarter of the fleet in any one second (busiest second: ${busiest})`);
  const spanMs = (retries.at(-1) as number) - (retries[0] as number);
  t.ok(spanMs >= 60_000, `the retries spread over minutes on a 5-minute schedule (span ${Math.round(spanMs / 1000)} s)`);
  t.equal(sim.calls().ListVpcEndpoints, CLIENTS * 2);
  t.ok(syncers.every((s) => s.backoff().attempts === 0), 'every loop recovered');
  t.ok(lines.some((l) => l.msg === 'PrivateLink API errors; backing off' && l.code === 'PL_THROTTLED' && l.retryAfterMs === RETRY_AFTER_MS), 'the retry-after is logged');
});
