import t from 'tap';
import { readFileSync } from 'node:fs';
import { startDaemon } from '../helpers/daemon';
import { startUnbound } from '../helpers/unbound';
import { startSimulator } from '../../src/simulator';

/**
 * An idle daemon (no queries, no scrapes, a PrivateLink sync every few minutes) sleeps between a
 * few slow timers: the event-loop delay sampler (every 100 ms) and the TCP idle sweep (every
 * 250 ms), about 14 wakeups a second in all. Counted as voluntary context switches of its main
 * thread (each is a sleep that ended), which is what the code schedules, not how busy the machine
 * is, so the bound holds beside other load. (V8's worker threads wake in bursts for the settling
 * GCs after start; they are not the daemon's timers and are left out.) A sampler at 100 Hz (before they were thinned
 * two ran at 100 Hz and the daemon used ~0.5% of a core) or any busy loop is far above it.
 * The CPU and RSS figures beside an idle Unbound are a measurement, not a test:
 * `node bench/idle.mjs` (bench/README.md).
 */

/** Wakeups a second allowed: about twice the ~14 the timers above cause. */
const MAX_WAKEUPS_PER_S = 30;
const WINDOW_MS = 5_000;
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

t.test('an idle daemon wakes a few times a second, not more', async (t) => {
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
  const before = { ours: wakeups(pid), unbound: wakeups(unbound.pid), at: process.hrtime.bigint() };
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const seconds = Number(process.hrtime.bigint() - before.at) / 1e9;
  const ours = (wakeups(pid) - before.ours) / seconds;
  const theirs = (wakeups(unbound.pid) - before.unbound) / seconds;
  const figures = `over ${seconds.toFixed(1)} s: privatelink-dns ${ours.toFixed(1)} wakeups/s; unbound ${theirs.toFixed(1)}/s`;
  t.comment(figures);
  t.ok(ours > 0, `the count moves (the timers run): ${figures}`);
  t.ok(ours <= MAX_WAKEUPS_PER_S, `at most ${MAX_WAKEUPS_PER_S} wakeups a second (${figures})`);
  t.equal(daemon.proc.exitCode, null, 'still running');
});
