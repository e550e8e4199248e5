// A UDP latency probe in its own process (the bench's own work must not show up as server
// latency). Usage: node latency-probe.cjs PORT NAME INTERVAL_MS MAX_QUERIES
// Asks A NAME every INTERVAL_MS from one socket; prints "ok SENT_AT_MS LATENCY_MS" per answer
// and "lost SENT_AT_MS" per query unanswered after 2 s (SENT_AT_MS: Date.now() at send, so the
// bench can tell which queries fell inside a transfer). Stops on stdin end or after MAX_QUERIES.
'use strict';
const dgram = require('node:dgram');

const [portArg, name, intervalArg, maxArg] = process.argv.slice(2);
const port = Number(portArg);
const intervalMs = Number(intervalArg);
const maxQueries = Number(maxArg);
const LOST_AFTER_MS = 2000;

function query(id) {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2);
  head.writeUInt16BE(1, 4);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([head, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

const pending = new Map(); // id -> { sentAt, t0, timer }
const socket = dgram.createSocket('udp4');
let sent = 0;
let running = true;
socket.on('message', (m) => {
  const p = pending.get(m.readUInt16BE(0));
  if (!p) return;
  pending.delete(m.readUInt16BE(0));
  clearTimeout(p.timer);
  process.stdout.write(`ok ${p.sentAt} ${(Number(process.hrtime.bigint() - p.t0) / 1e6).toFixed(3)}\n`);
});
process.stdin.on('end', () => (running = false));
process.stdin.resume();

function tick() {
  if (!running || sent >= maxQueries) {
    const wait = setInterval(() => {
      if (pending.size === 0) {
        clearInterval(wait);
        socket.close();
        process.stdout.write('end\n', () => process.exit(0));
      }
    }, 20);
    return;
  }
  const id = sent++ & 0xffff;
  const sentAt = Date.now();
  const timer = setTimeout(() => {
    pending.delete(id);
    process.stdout.write(`lost ${sentAt}\n`);
  }, LOST_AFTER_MS);
  pending.set(id, { sentAt, t0: process.hrtime.bigint(), timer });
  socket.send(query(id), port, '127.0.0.1');
  setTimeout(tick, intervalMs);
}
socket.bind(0, '127.0.0.1', tick);
