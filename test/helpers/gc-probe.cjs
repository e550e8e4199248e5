// Preloaded into a daemon under test (`node --expose-gc --require gc-probe.cjs dist/cli.js serve …`):
// counts the daemon's own garbage collections by kind and answers a tiny line protocol on a
// loopback TCP port (written to the file named by PLDNS_GC_PROBE_PORT_FILE):
//   "reset\n"  a synchronous minor GC (the young generation starts the window empty), counts zeroed
//   "read\n"   the counts since the last reset, as one JSON line, after pending GC entries are delivered,
//              with the turns of the event loop since the reset (`loops`)
// The daemon's code is untouched; only this probe and its socket run beside it.
'use strict';
const { isMainThread } = require('node:worker_threads');
const net = require('node:net');
const fs = require('node:fs');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');

const KIND = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
// Worker threads inherit --require (a log transport runs in one): only the main thread, which
// serves DNS, is probed.
if (isMainThread) start();

function start() {
  let counts = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
  // Turns of the event loop since the reset (Node allocates an object on each: see the test).
  const loops = () => performance.nodeTiming.uvMetricsInfo.loopCount;
  let loopsAtReset = 0;
  const observer = new PerformanceObserver((list) => {
    // Every entry: several collections can be delivered in one callback.
    for (const entry of list.getEntries()) {
      const kind = KIND[entry.detail ? entry.detail.kind : entry.kind] || 'other';
      counts[kind] = (counts[kind] || 0) + 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  const server = net.createServer((conn) => {
    let text = '';
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    conn.on('data', (chunk) => {
      text += chunk;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
        const command = text.slice(0, nl).trim();
        text = text.slice(nl + 1);
        if (command === 'reset') {
          // Entries of collections before the reset are delivered on a later turn (the daemon is idle
          // meanwhile): wait for them, then collect the young generation and count from zero.
          setTimeout(() => {
            globalThis.gc({ type: 'minor', execution: 'sync' });
            // The forced collection's own entry is delivered on a later turn too.
            setTimeout(() => {
              counts = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
              loopsAtReset = loops();
              conn.write('ok\n');
            }, 20);
          }, 20);
        } else if (command === 'read') {
          setTimeout(() => conn.write(`${JSON.stringify({ ...counts, loops: loops() - loopsAtReset })}\n`), 20);
        } else {
          conn.write('unknown\n');
        }
      }
    });
  });
  server.unref();
  server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(process.env.PLDNS_GC_PROBE_PORT_FILE, String(server.address().port));
  });
}
