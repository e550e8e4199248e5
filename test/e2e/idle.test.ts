import t from 'tap';
import { readFileSync } from 'node:fs';
import { startDaemon } from '../helpers/daemon';
import { startUnbound } from '../helpers/unbound';
import { startSimulator } from '../../src/simulator';

/**
 * An idle daemon (no queries, no scrapes, a PrivateLink sync every few minutes) has no timer of
 * its own to run: the event-loop sampler runs only while scrapes come, the memory policy acts
 * after garbage collections, the HTTP and TCP deadline checks only while connections are open.
 * Its main thread sleeps. Counted as voluntary context switches of that thread (each is a sleep
 * that ended), which is what the code schedules, not how busy the machine is, so the bound holds
 * beside other load. (V8's worker threads wake in bursts for the settling GCs after start; they
 * are not the daemon's timers and are left out.) The positive control: one scrape starts the
 * sampler (10 a second), and the same count sees it. Before this, the sampler (10 Hz) and
 * node:http's deadline check (4 Hz) woke it ~14 times a second.
 * The CPU and RSS figures beside an idle Unbound are a measurement, not a test:
 * `node bench/idle.mjs` (bench/README.md).
 */

/** Wakeups a second allowed while idle (0.4–0.6 measured: V8's own delayed tasks after start, the memory reducer's collections and the trim check after them). */
const MAX_IDLE_WAKEUPS_PER_S = 2;
/** While scraped the sampler wakes the loop 10 times a second; well under that still proves the count sees a timer. */
const MIN_WATCHED_WAKEUPS_PER_S = 5;
const WINDOW_MS = 5_000;
const WATCHED_WINDOW_MS = 2_000;
/** After the first sync, so its sockets and timers are done. */
const SETTLE_MS = 2_000;
/**
 * The daemon as the systemd unit runs it: without tap's loaders and coverage hooks (inherited
 * through NODE_OPTIONS and NODE_V8_COVERAGE, they run code of their own); like the unit, no node
 * flags (the daemon sets its own heap settings).
 */
const CLEAN_NODE_ENV = { NODE_OPTIONS: '', NODE_V8_COVERAGE: '' };

/** Voluntary context switches of a process's main thread (its tid is the pid). */
function wakeups(pid: number): number {
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1]);
}

/** Main-thread wakeups a second of `pid` over `ms`, and of Unbound's beside it. */
async function rate(pid: number, unboundPid: number, ms: number): Promise<{ ours: number; theirs: number; seconds: number }> {
  const before = { ours: wakeups(pid), unbound: wakeups(unboundPid), at: process.hrtime.bigint() };
  await new Promise((r) => setTimeout(r, ms));
  const seconds = Number(process.hrtime.bigint() - before.at) / 1e9;
  return { ours: (wakeups(pid) - before.ours) / seconds, theirs: (wakeups(unboundPid) - before.unbound) / seconds, seconds };
}

t.test('an idle daemon does not wake; a scraped one runs its sampler', async (t) => {
  const unbound = await startUnbound([]);
  t.teardown(() => unbound.stop());
  const sim = await startSimulator({
    port: 0,
    data: {
      endpoints: [{
        EndpointId: 'ep-idle',
        EndpointName: 'idle',
        ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-idle',
        EndpointDomain: 'ep-idle.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com',
        EndpointStatus: 'Active',
        ConnectionStatus: 'Connected',
        Zones: [{ ZoneId: 'cn-hangzhou-j', ZoneDomain: 'ep-idle-j.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com', EniId: 'eni-j', EniIp: '10.40.1.10', VSwitchId: 'vsw-j', ZoneStatus: 'Connected' }],
      }],
    },
  });
  t.teardown(() => sim.close());
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: ["127.0.0.1:${unbound.port}"] }
privatelink:
  endpoint: "${sim.endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "0 */5 * * * *"
records:
  entries:
    - names: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com"]
      endpoint: ep-idle
state_dir: false
`, { env: CLEAN_NODE_ENV });
  t.teardown(() => daemon.stop());
  await daemon.waitForLog((l) => l.msg === 'addresses changed' || l.msg === 'entry added', 15_000);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const pid = daemon.proc.pid as number;
  const idle = await rate(pid, unbound.pid, WINDOW_MS);
  const figures = `over ${idle.seconds.toFixed(1)} s: privatelink-dns ${idle.ours.toFixed(2)} wakeups/s; unbound ${idle.theirs.toFixed(2)}/s`;
  t.comment(`idle ${figures}`);
  t.ok(idle.ours <= MAX_IDLE_WAKEUPS_PER_S, `idle: at most ${MAX_IDLE_WAKEUPS_PER_S} wakeups a second (${figures})`);

  const scrape = await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`);
  t.equal(scrape.status, 200, 'a scrape');
  await scrape.text();
  const watched = await rate(pid, unbound.pid, WATCHED_WINDOW_MS);
  t.comment(`after a scrape: privatelink-dns ${watched.ours.toFixed(2)} wakeups/s`);
  t.ok(watched.ours >= MIN_WATCHED_WAKEUPS_PER_S, `after a scrape the sampler runs and the count sees it (${watched.ours.toFixed(1)}/s)`);
  t.equal(daemon.proc.exitCode, null, 'still running');
});
