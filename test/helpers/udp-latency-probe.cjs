// A UDP latency probe in its own process, so the load the test itself generates (thousands of
// sockets, TSIG checks of 33 MB of transfers) does not show up as DNS server latency.
// Usage: node udp-latency-probe.cjs PORT NAME_COUNT INTERVAL_MS MAX_QUERIES MAX_MS
// Asks A n00001.bulk.example … in turn, one fresh socket per query; prints one line per query:
// "ok I MS IP,IP" or "lost I" (no answer in 5 s). Stops on stdin end, then waits for answers.
'use strict';
const dgram = require('node:dgram');

const [port, names, intervalMs, maxQueries, maxMs] = process.argv.slice(2).map(Number);
const LOST_AFTER_MS = 5000;

function query(id, name) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2);
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The A records of an answer (names compressed or not), as dotted quads. */
function addresses(msg) {
  const an = msg.readUInt16BE(6);
  let off = 12;
  const skipName = () => {
    while (off < msg.length) {
      const b = msg[off];
      if (b === 0) return void (off += 1);
      if (b >= 0xc0) return void (off += 2);
      off += 1 + b;
    }
  };
  skipName();
  off += 4;
  const ips = [];
  for (let i = 0; i < an && off < msg.length; i++) {
    skipName();
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    if (type === 1 && rdlen === 4) ips.push([...msg.subarray(off + 10, off + 14)].join('.'));
    off += 10 + rdlen;
  }
  return ips.sort().join(',');
}

let running = true;
let pending = 0;
let sent = 0;
const started = Date.now();
process.stdin.on('end', () => (running = false));
process.stdin.resume();

function ask(i) {
  const name = `n${String(i).padStart(5, '0')}.bulk.example`;
  const id = (sent * 7919) & 0xffff;
  const s = dgram.createSocket('udp4');
  const t0 = process.hrtime.bigint();
  pending++;
  let done = false;
  const finish = (line) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    s.close();
    pending--;
    process.stdout.write(`${line}\n`);
  };
  const timer = setTimeout(() => finish(`lost ${i}`), LOST_AFTER_MS);
  s.on('error', () => finish(`lost ${i}`));
  s.on('message', (m) => {
    if (m.readUInt16BE(0) !== id) return;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    finish(`ok ${i} ${ms.toFixed(3)} ${(m[3] & 0x0f) === 0 ? addresses(m) : 'rcode' + (m[3] & 0x0f)}`);
  });
  s.bind(0, '127.0.0.1', () => s.send(query(id, name), port, '127.0.0.1'));
}

function tick() {
  if (!running || sent >= maxQueries || Date.now() - started > maxMs) {
    const wait = setInterval(() => {
      if (pending === 0) {
        clearInterval(wait);
        process.stdout.write('end\n', () => process.exit(0));
      }
    }, 20);
    return;
  }
  ask(1 + (sent % names));
  sent++;
  setTimeout(tick, intervalMs);
}
tick();
