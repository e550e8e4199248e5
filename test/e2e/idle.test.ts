import t from 'tap';
import { readFileSync } from 'node:fs';
import { startDaemon } from '../helpers/daemon';
import { startUnbound } from '../helpers/unbound';
import { startSimulator } from '../../src/simulator';

/**
 * An idle daemon (no queries, no scrapes, a PrivateLink sync every few minutes) should cost
 * about what an idle Unbound costs. Measured from /proc over the same window for both, so a
 * busy machine slows both alike; CPU time of a process that sleeps barely depends on load.
 * Before the event-loop samplers were thinned (two at 100 Hz) the daemon used ~0.5% of a core.
 */

const WINDOW_MS = 30_000;
/** After start: the first sync, then V8's memory reducer runs a few GCs. */
const SETTLE_MS = 20_000;
const TICKS_PER_S = 100; // USER_HZ on Linux
/**
 * The daemon as the systemd unit runs it: without tap's loaders and coverage hooks (inherited
 * through NODE_OPTIONS and NODE_V8_COVERAGE, they cost CPU and memory of their own); like the
 * unit, no node flags (the daemon sets its own heap settings).
 */
const CLEAN_NODE_ENV = { NODE_OPTIONS: '', NODE_V8_COVERAGE: '' };

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of the full line)
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

t.test('idle CPU and RSS next to Unbound', async (t) => {
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
  const before = { ours: cpuTicks(pid), unbound: cpuTicks(unbound.pid), at: Date.now() };
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const seconds = (Date.now() - before.at) / 1000;
  const percent = (ticks: number): number => (ticks / TICKS_PER_S / seconds) * 100;
  const ours = percent(cpuTicks(pid) - before.ours);
  const theirs = percent(cpuTicks(unbound.pid) - before.unbound);
  const figures = `idle over ${seconds.toFixed(0)} s: privatelink-dns ${ours.toFixed(3)}% of a core, RSS ${rssMb(pid).toFixed(1)} MB; unbound ${theirs.toFixed(3)}%, RSS ${rssMb(unbound.pid).toFixed(1)} MB`;
  t.comment(figures);
  t.ok(ours < 0.2, `idle CPU under 0.2% of a core (${figures})`);
});
