'use strict';
// Runs the built Prober (dist/) against N TCP listeners on 127.1.x.y for a while and prints one
// JSON line: probes finished, results, and this process's CPU time over the measured wall time.
// A plain node process, so the test runner's instrumentation does not inflate the figure. The
// listeners run in a child process: their accept work is not counted (on loopback the kernel
// work of both ends of each handshake is, since the receive path runs in the sender's context).
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const dist = join(__dirname, '..', '..', 'dist');
const { Prober } = require(join(dist, 'probe', 'prober.js'));
const { probeSettingsFor } = require(join(dist, 'probe', 'probe-settings.js'));
const { AnswerTable } = require(join(dist, 'resolve', 'table.js'));
const { createLogger } = require(join(dist, 'runtime', 'log.js'));

const [ips, port, intervalMs, warmupMs, measureMs] = process.argv.slice(2).map(Number);
const ipOf = (i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const serve = `const net = require('node:net'); let n = 0;
  for (let i = 0; i < ${ips}; i++) net.createServer((s) => s.on('error', () => {}).destroy())
    .listen(${port}, '127.1.' + Math.floor(i / 250) + '.' + (i % 250 + 1), () => { if (++n === ${ips}) console.log('listening'); })
    .on('error', (e) => { console.error(String(e)); process.exit(1); });`;
const child = spawn(process.execPath, ['-e', serve], { stdio: ['ignore', 'pipe', 'inherit'] });
child.once('exit', (code) => { if (code) process.exit(2); });
const killTimer = setTimeout(() => { child.kill('SIGKILL'); process.exit(3); }, warmupMs + measureMs + 30_000);
child.stdout.once('data', async () => {
  const inputs = Array.from({ length: ips / 2 }, (_, i) => ({ id: `ep-${i}`, names: [`n${i}.example.com`], ipv4: [ipOf(2 * i), ipOf(2 * i + 1)], ipv6: [] }));
  const config = { port, intervalMs, timeoutMs: 1000, failAfter: 2, passAfter: 2, idleMs: 600_000, maxConcurrent: 64 };
  const results = {};
  let table = AnswerTable.build(inputs);
  const prober = new Prober({
    config,
    settingsFor: probeSettingsFor({ ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [], probe: config }),
    table: () => table,
    onChange: () => { table = AnswerTable.build(prober.apply(inputs), table.version + 1); },
    observer: { probed: (r) => { results[r] = (results[r] ?? 0) + 1; }, reachable() {}, degraded() {} },
    logger: createLogger('silent'),
  });
  table = AnswerTable.build(prober.apply(inputs), 1);
  for (const r of table.records) r.rotation++; // every name asked
  prober.start();
  await new Promise((r) => setTimeout(r, warmupMs));
  const ok0 = results.ok ?? 0;
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, measureMs));
  const cpu = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - wall0) / 1000;
  prober.stop();
  clearTimeout(killTimer);
  child.kill('SIGKILL');
  console.log(JSON.stringify({ probes: (results.ok ?? 0) - ok0, results, userUs: cpu.user, systemUs: cpu.system, wallUs }));
  process.exit(0);
});
