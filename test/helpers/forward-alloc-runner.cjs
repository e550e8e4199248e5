'use strict';
// Forwards N queries (unique names, `concurrency` out at once) through the built UpstreamForwarder
// (dist/) and its native UDP exchanger to an upstream in a child process, and prints one JSON line:
// JS heap bytes allocated per forward (heapUsed delta over a window with no GC: run it with
// --expose-gc and a fixed young generation large enough for the window), young-generation GCs
// in the window, timers alive before and with the exchanges out, forwards that failed.
const { fork } = require('node:child_process');
const { join } = require('node:path');
const { PerformanceObserver } = require('node:perf_hooks');
const dist = join(__dirname, '..', '..', 'dist');
const { UpstreamForwarder } = require(join(dist, 'upstream', 'upstream-forwarder.js'));
const { NativeUdpExchanger } = require(join(dist, 'upstream', 'native-udp-exchanger.js'));
const { loadNativeAddon } = require(join(dist, 'native', 'addon.js'));
const { parseQuery } = require(join(dist, 'wire', 'query.js'));
const { createLogger } = require(join(dist, 'runtime', 'log.js'));

const [forwards, concurrency] = process.argv.slice(2).map(Number);
const UPSTREAM = `const s = require('node:dgram').createSocket('udp4');
s.on('message', (q, r) => {
  let off = 12; while (off < q.length && q[off] !== 0) off += q[off] + 1; off += 5;
  const a = Buffer.alloc(off + 16); q.copy(a, 0, 0, off);
  a.writeUInt16BE(0x8180, 2); a.writeUInt16BE(1, 6); a.writeUInt16BE(0, 10);
  a.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1], off);
  s.send(a, r.port, r.address);
});
s.bind(0, '127.0.0.1', () => process.send(s.address().port));
process.on('disconnect', () => process.exit(0));`;

function query(name, id) {
  const labels = name.split('.');
  const q = Buffer.alloc(12 + labels.reduce((n, l) => n + l.length + 1, 0) + 5);
  q.writeUInt16BE(id, 0);
  q.writeUInt16BE(0x0100, 2);
  q.writeUInt16BE(1, 4);
  let off = 12;
  for (const l of labels) {
    q[off++] = l.length;
    off += q.write(l, off, 'latin1');
  }
  q.writeUInt16BE(1, off + 1);
  q.writeUInt16BE(1, off + 3);
  return parseQuery(q);
}

const child = fork('-e', [UPSTREAM], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const killTimer = setTimeout(() => { child.kill('SIGKILL'); process.exit(3); }, 60_000);
child.once('message', async (port) => {
  const addon = loadNativeAddon();
  if (!addon.ok) {
    console.error(`addon: ${addon.reason}`);
    process.exit(2);
  }
  const config = { servers: [{ host: '127.0.0.1', port, family: 4 }], policy: 'sequential', maxFails: 3, timeoutMs: 5000, healthCheckIntervalMs: 5000 };
  const forwarder = new UpstreamForwarder(config, { exchange() {}, health() {} }, createLogger('silent'), 2000, new NativeUdpExchanger(addon.binding));
  let gcs = 0;
  new PerformanceObserver((list) => { gcs += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
  let serial = 0;
  const build = (n) => Array.from({ length: n }, () => query(`f${serial++}.alloc.example`, serial & 0xffff));
  const run = (queries, onHalf) => new Promise((resolve) => {
    const n = queries.length;
    let next = 0;
    let answered = 0;
    let failed = 0;
    const settle = () => {
      answered++;
      if (answered === n >> 1 && onHalf) onHalf();
      if (answered === n) resolve(failed);
      else if (next < n) send(queries[next++]);
    };
    const sink = { forwarded: settle, forwardFailed: () => { failed++; settle(); } };
    // forwardTo: the sink API; forward: the promise one (a build from before it, for comparison).
    const send = forwarder.forwardTo ? (q) => forwarder.forwardTo(q, 'udp', sink) : (q) => forwarder.forward(q, 'udp').then(sink.forwarded, sink.forwardFailed);
    while (next < Math.min(concurrency, n)) send(queries[next++]);
  });
  await run(build(forwards));
  // The window's queries are built before it starts: only the forwards' own bytes count.
  const queries = build(forwards);
  let timersMid = 0;
  const timersIdle = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  global.gc();
  // GC entries arrive asynchronously: let the forced one's come in before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  gcs = 0;
  const before = process.memoryUsage().heapUsed;
  const failed = await run(queries, () => { timersMid = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length; });
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ forwards, concurrency, bytesPerForward: (after - before) / forwards, gcs, timersIdle, timersMid, failed }));
  forwarder.close();
  clearTimeout(killTimer);
  child.disconnect();
});
