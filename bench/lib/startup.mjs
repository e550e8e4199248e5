// exec → first answer: start `node dist/cli.js serve --config CFG` and query a managed name over UDP
// every millisecond until it answers; `node -e 0` (spawn → exit) is timed alternately beside it.
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import YAML from 'yaml';
import { sleep, startProc, stopChild } from './children.mjs';
import { encodeQuery, freePort } from './dns-probe.mjs';
import { MANAGED, privatelinkConf } from './servers.mjs';

const SNAPSHOT_NAME = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com'; // an entry of config/simulator.yaml

export function stats(list) {
  const ok = list.filter(Number.isFinite).sort((a, b) => a - b);
  if (!ok.length) return { n: 0, failed: list.length };
  const mid = ok.length >> 1;
  const median = ok.length % 2 ? ok[mid] : (ok[mid - 1] + ok[mid]) / 2;
  return { n: ok.length, failed: list.length - ok.length, median, min: ok[0], max: ok[ok.length - 1], runs: list };
}

/** ms from spawn until `name` is answered (A, NOERROR, ≥ 1 record) on 127.0.0.1:port; NaN after limitMs. */
async function timeToAnswer({ root, work }, label, args, port, name, limitMs = 10000) {
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  let id = 0;
  let answered;
  const got = new Promise((r) => { answered = r; });
  sock.on('message', (m) => {
    if (m.length >= 12 && (m[2] & 0x80) && (m[3] & 15) === 0 && m.readUInt16BE(6) > 0) answered(performance.now());
  });
  sock.on('error', () => { /* nothing listens yet: keep polling */ });
  const t0 = performance.now();
  const child = startProc(label, process.execPath, args, { logDir: work, cwd: root });
  const send = () => { id = (id + 1) & 0xffff; sock.send(encodeQuery(name, id), port, '127.0.0.1'); };
  const timer = setInterval(send, 1);
  send();
  const exited = new Promise((r) => child.once('exit', () => r(NaN)));
  const t1 = await Promise.race([got, exited, sleep(limitMs).then(() => NaN)]);
  clearInterval(timer);
  sock.close();
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  return t1 - t0;
}

/** ms from spawn to exit of `node -e 0`. */
async function nodeNoop(work) {
  const t0 = performance.now();
  const child = startProc('node-e-0', process.execPath, ['-e', '0'], { logDir: work });
  await new Promise((r) => child.once('exit', r));
  return performance.now() - t0;
}

async function waitFor(test, limitMs, what) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const v = await test();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`startup bench: ${what} within ${limitMs} ms`);
}

/**
 * A config with a `privatelink` section (config/simulator.yaml's entries) whose state_dir holds a
 * snapshot written by the daemon itself after a sync against `privatelink-dns simulate`; the
 * returned config points the API at a closed loopback port, so only the snapshot can answer.
 */
async function snapshotConfig({ root, work, cli, port, httpPort }) {
  const stateDir = path.join(work, 'startup-state');
  fs.mkdirSync(stateDir, { recursive: true });
  const sim = startProc('startup-simulator', process.execPath, [cli, 'simulate', '--listen', '127.0.0.1:0'], { logDir: work, cwd: root });
  try {
    const endpoint = await waitFor(() => {
      const first = fs.readFileSync(sim.logPath, 'utf8').split('\n')[0];
      try { return JSON.parse(first).endpoint; } catch { return undefined; }
    }, 15000, 'the simulator did not print its endpoint');
    const doc = YAML.parse(fs.readFileSync(path.join(root, 'config', 'simulator.yaml'), 'utf8'));
    doc.listen = { dns: [`127.0.0.1:${port}`], http: `127.0.0.1:${httpPort}` };
    doc.privatelink.endpoint = endpoint;
    doc.state_dir = stateDir;
    doc.limits = { ...(doc.limits ?? {}), shutdown_grace: '0s' };
    const write = (name) => { const f = path.join(work, name); fs.writeFileSync(f, YAML.stringify(doc)); return f; };
    const sync = startProc('startup-sync', process.execPath, [cli, 'serve', '--config', write('startup-sync.yaml')], { logDir: work, cwd: root });
    await waitFor(() => fs.existsSync(path.join(stateDir, 'snapshot.json')), 20000, 'no snapshot.json was written');
    await stopChild(sync);
    doc.privatelink.endpoint = `127.0.0.1:${await freePort()}`; // nothing listens there
    return write('startup-snapshot.yaml');
  } finally {
    await stopChild(sim);
  }
}

/**
 * `runs` alternations of node -e 0, serve from a static config, serve from a snapshot.
 * Returns { nodeNoop, static, snapshot } (each stats(): median/min/max ms) and the command lines.
 */
export async function measureStartup({ root, work, runs, nodeFlags = [], log = console.log }) {
  const cli = path.join(root, 'dist', 'cli.js');
  const port = await freePort();
  const httpPort = await freePort();
  const staticCfg = path.join(work, 'startup-static.yaml');
  fs.writeFileSync(staticCfg, privatelinkConf({ port, httpPort, upPort: await freePort() }));
  const snapCfg = await snapshotConfig({ root, work, cli, port, httpPort });
  const serve = (cfg) => [...nodeFlags, cli, 'serve', '--config', cfg];
  const t = { nodeNoop: [], static: [], snapshot: [] };
  for (let i = 0; i < runs; i++) {
    t.nodeNoop.push(await nodeNoop(work));
    t.static.push(await timeToAnswer({ root, work }, 'startup-static', serve(staticCfg), port, MANAGED[0].name));
    t.snapshot.push(await timeToAnswer({ root, work }, 'startup-snapshot', serve(snapCfg), port, SNAPSHOT_NAME));
    log(`  run ${i + 1}: node -e 0 ${t.nodeNoop[i].toFixed(0)} ms, static ${t.static[i].toFixed(0)} ms, snapshot ${t.snapshot[i].toFixed(0)} ms`);
  }
  const shell = (args) => ['node', ...args.map((a) => a.replace(`${root}/`, ''))].join(' ');
  return {
    runs,
    nodeNoop: stats(t.nodeNoop),
    static: stats(t.static),
    snapshot: stats(t.snapshot),
    commands: { nodeNoop: 'node -e 0', static: shell(serve(staticCfg)), snapshot: shell(serve(snapCfg)) },
  };
}

export const fmtStartup = (s) => (s?.n ? `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)}, n=${s.n}${s.failed ? `, ${s.failed} failed` : ''})` : 'n/a');
