import t from 'tap';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery, decode } from '../helpers/wire';
import { answerFor, startResponder, type Responder } from '../helpers/hardening';

/**
 * A TCP client that sends its queries and then shuts down its sending side
 * (shutdown(SHUT_WR), as `nc -N` or a one-shot script does) must still get every answer,
 * forwarded ones included (RFC 1035 §4.2.2). (Unbound 1.17 beside us was not a stable reference:
 * with the same client it answered all five in one run and two in the next, so it is not compared.)
 */
let daemon: RunningDaemon;
let upstream: Responder;

t.before(async () => {
  // Forwarded answers take 300 ms: they are still outstanding when the client's FIN arrives.
  upstream = await startResponder((q, send) => {
    setTimeout(() => send(answerFor(q, '192.0.2.55')), 300);
  }, 0, { tcp: true });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 2s }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

/** Writes every query in one go, half-closes, and collects the frames until the server closes. */
function askThenShutWr(port: number, queries: Buffer[], timeoutMs = 5000): Promise<{ frames: Buffer[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const frames: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ frames, closedByServer: false });
    }, timeoutMs);
    s.on('error', () => {});
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        frames.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    s.on('end', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ frames, closedByServer: true });
    });
    s.on('connect', () => {
      s.write(Buffer.concat(queries.map((q) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]))));
      s.end(); // FIN: nothing more from us
    });
  });
}

const queries = (): Buffer[] => [
  encodeQuery('ntp.internal.example', { id: 1 }),
  ...[2, 3, 4, 5].map((id) => encodeQuery(`n${id}.slow.example`, { id })),
];

for (const round of [1, 2]) {
  t.test(`round ${round}: every answer reaches a half-closed client, then the server closes`, async (t) => {
    const { frames, closedByServer } = await askThenShutWr(daemon.dnsPort, queries());
    const ids = frames.map((f) => decode(f).header.id).sort();
    t.same(ids, [1, 2, 3, 4, 5], `all 5 answers (1 local, 4 forwarded) arrived: ${ids.join(',')}`);
    const forwarded = frames.filter((f) => decode(f).header.id > 1);
    t.ok(forwarded.every((f) => decode(f).answers.some((a) => (a as { address?: string }).address === '192.0.2.55')), 'forwarded answers carry the data');
    t.ok(closedByServer, 'the server closed its side after answering');
  });
}
