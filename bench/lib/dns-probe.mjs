// Ports and a minimal UDP DNS client, to know when a server under test answers.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { sleep } from './children.mjs';

export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    });
    const udpOk = await new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind(port, '127.0.0.1', () => { s.close(); resolve(true); });
    });
    if (udpOk && !usedPorts.has(port)) { usedPorts.add(port); return port; }
  }
  throw new Error('no free port found');
}
const usedPorts = new Set();

export function encodeQuery(name, id = 0x1234, qtype = 1) {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 255, 0, 1]));
  return Buffer.concat(parts);
}

// One UDP query; resolves {rcode, ancount} or null on timeout.
export function udpQuery(port, name, timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const t = setTimeout(() => { s.close(); resolve(null); }, timeoutMs);
    s.on('error', () => { clearTimeout(t); try { s.close(); } catch { /* closed */ } resolve(null); });
    s.on('message', (m) => {
      if (m.length < 12 || m.readUInt16BE(0) !== id) return;
      clearTimeout(t);
      s.close();
      resolve({ rcode: m[3] & 15, ancount: m.readUInt16BE(6) });
    });
    s.send(encodeQuery(name, id), port, '127.0.0.1');
  });
}

export async function waitAnswering(label, child, port, name, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited early (code ${child.exitCode ?? child.signalCode}); see ${child.logPath}`);
    const r = await udpQuery(port, name, 300);
    if (r && r.rcode === 0 && r.ancount > 0) return;
    await sleep(100);
  }
  throw new Error(`${label} did not answer ${name} within ${timeoutMs} ms; see ${child.logPath}`);
}
