// TCP slowloris against a built daemon (issue 13 item 2): CONNECTIONS connections from 20 loopback
// addresses trickle one byte a second (reconnecting when cut) while `dig +tcp` asks a managed name
// once a second. Prints dig's latency and failures. Usage:
//   node bench/slowloris.mjs [path/to/dist/cli.js | unbound] [connections=1000] [digs=20]
// "unbound" runs the same attack against Unbound (local-data, default TCP settings) for parity.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';

const cli = process.argv[2] === 'unbound' ? 'unbound' : resolve(process.argv[2] ?? 'dist/cli.js');
const CONNECTIONS = Number(process.argv[3] ?? 1000);
const DIGS = Number(process.argv[4] ?? 20);
const ADDRESSES = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'pldns-slowloris-'));
let daemon;
let port;
if (process.argv[2] === 'unbound') {
  port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(join(dir, 'unbound.conf'), [
    'server:', `  interface: 127.0.0.1@${port}`, '  do-daemonize: no', '  chroot: ""', '  username: ""', '  pidfile: ""', '  use-syslog: no',
    '  logfile: ""', '  access-control: 127.0.0.0/8 allow', '  num-threads: 1', '  module-config: "iterator"',
    '  local-zone: "internal.example." static', '  local-data: "ntp.internal.example. 300 IN A 10.0.0.123"', '',
  ].join('\n'));
  daemon = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 50 && spawnSync('dig', ['+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', 'ntp.internal.example']).status !== 0; i++) await sleep(100);
} else {
  writeFileSync(join(dir, 'config.yaml'), `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: false }
access: { allow: ["127.0.0.0/8"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  daemon = spawn(process.execPath, [cli, 'serve', '--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise((res, rej) => {
    let out = '';
    daemon.stdout.on('data', (d) => {
      out += d;
      const m = /"udp":(\d+)/.exec(out);
      if (m) res(Number(m[1]));
    });
    daemon.once('exit', () => rej(new Error(out)));
  });
}

let stop = false;
let open = 0;
let cut = 0;
async function attacker(address) {
  while (!stop) {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: address });
    s.on('error', () => {});
    const ok = await new Promise((r) => { s.once('connect', () => r(true)); s.once('error', () => r(false)); });
    if (!ok) { await sleep(200); continue; }
    open++;
    const closed = new Promise((r) => s.once('close', r));
    s.write(Buffer.from([0, 60]));
    while (!stop && !s.destroyed) {
      await Promise.race([sleep(1000), closed]);
      if (!s.destroyed) s.write('x');
    }
    if (!stop) cut++;
    open--;
    s.destroy();
  }
}
const runs = [];
for (let i = 0; i < CONNECTIONS; i++) runs.push(attacker(`127.0.9.${1 + (i % ADDRESSES)}`));
await sleep(3000);
const latencies = [];
let failed = 0;
for (let i = 0; i < DIGS; i++) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('dig', ['+tcp', '+tries=1', '+timeout=2', '-p', String(port), '@127.0.0.1', 'ntp.internal.example', 'A'], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status === 0 && /10\.0\.0\.123/.test(r.stdout)) latencies.push(ms);
  else failed++;
  await sleep(1000);
}
stop = true;
const openAtEnd = open;
await Promise.all(runs);
daemon.kill('SIGTERM');
latencies.sort((a, b) => a - b);
const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : '-');
console.log(JSON.stringify({ cli, attackers: CONNECTIONS, digs: DIGS, answered: latencies.length, failed, p50Ms: q(0.5), p90Ms: q(0.9), maxMs: q(1), attackerConnectionsCut: cut, attackerConnectionsOpenAtEnd: openAtEnd }));
