import t from 'tap';
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery } from '../helpers/wire';
import { sleep, udpBurst } from '../helpers/hardening';

/**
 * Seen and fine, keep it that way: a flood of cache misses towards an upstream that
 * never answers opens a socket per exchange; once the exchanges time out, the daemon's open file
 * descriptors are back where they started (no leak per query).
 */
let daemon: RunningDaemon;
let blackhole: dgram.Socket;

t.before(async () => {
  blackhole = dgram.createSocket('udp4');
  blackhole.on('message', () => {}); // reads and never answers
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', () => r()));
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: false }
access: { allow: ["127.0.0.0/8"], rate_limit: false }
upstream: { servers: ["127.0.0.1:${blackhole.address().port}"], timeout: 300ms, max_fails: 1000 }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  blackhole?.close();
});

const fds = (): number => readdirSync(`/proc/${daemon.proc.pid}/fd`).length;

t.test('open descriptors come back down after a dead-upstream flood', async (t) => {
  const before = fds();
  let peak = before;
  const watch = setInterval(() => (peak = Math.max(peak, fds())), 20);
  await udpBurst(daemon.dnsPort, (i) => encodeQuery(`n${i}.flood.example`, { id: i & 0xffff }), 3000, '127.0.0.1', 300);
  // Each exchange times out after 300 ms (two tries at most), but on a busy machine the daemon may
  // still be working through the flood: wait for the count to come down (bounded; a leak never does).
  let after = fds();
  for (let i = 0; i < 300 && after > before + 2; i++) {
    await sleep(100);
    after = fds();
  }
  clearInterval(watch);
  t.ok(peak > before + 10, `the flood opened sockets (${before} → peak ${peak})`);
  t.ok(after <= before + 2, `back to ${after} descriptors (started with ${before})`);
});
