import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon';
import { NO_CREDENTIALS } from '../helpers/fleet';
import { FLAG_AA, FLAG_QR, RRType } from '../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../src/fleet/codec/message';
import { frameMessage, TcpFrameReader } from '../../src/wire/tcp-frames';
import { zoneRecordToWire } from '../../src/fleet/codec/zone-record-wire';
import type { ZoneRecord } from '../../src/fleet/codec/zone-record';

/**
 * Issue 23 item 4, the edge side: a primary answers the SOA check, then stalls the AXFR after its
 * first message. SIGTERM must not wait for the transfer's own deadline (primaries.timeout, 5 min
 * here): the edge abandons it and exits within lameduck + shutdown_grace, and an edge started right
 * after on the same port binds it.
 */
const ZONE = 'privatelink.rpz';
const SOA: ZoneRecord = { name: ZONE, type: RRType.SOA, ttl: 60, data: `localhost hostmaster.${ZONE} 5 60 10 600 30` };
const LAMEDUCK_MS = 500;
const GRACE_MS = 500;

/** A primary on loopback: SOA over UDP and TCP; an AXFR gets its first message, then nothing. */
async function stallingPrimary(t: Tap): Promise<{ port: number; axfrs: () => number; open: () => number }> {
  let axfrs = 0;
  const sockets = new Set<net.Socket>();
  const answer = (raw: Buffer): Buffer => {
    const q = parseMessage(raw);
    return encodeMessage({ id: q.id, flags: FLAG_QR | FLAG_AA, question: q.questions[0] ?? null, answers: [zoneRecordToWire(SOA)] });
  };
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new TcpFrameReader();
    socket.on('data', (chunk) => {
      for (const raw of reader.push(chunk)) {
        if (parseMessage(raw).questions[0]?.type === RRType.AXFR) axfrs++;
        socket.write(frameMessage(answer(raw))); // for an AXFR: the opening SOA, never the closing one
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  const port = (tcp.address() as net.AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  udp.on('message', (raw, rinfo) => udp.send(answer(raw), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    tcp.close();
    udp.close();
  });
  return { port, axfrs: () => axfrs, open: () => sockets.size };
}
type Tap = Pick<typeof t, 'teardown'>;

const edgeYaml = (dnsPort: number, primaryPort: number, stateDir: string): string => `listen:
  dns: ["127.0.0.1:${dnsPort}"]
  http: false
primaries:
  zone: ${ZONE}
  servers: ["127.0.0.1:${primaryPort}"]
  refresh: 1h
  timeout: 5m
  managed: ["svc.example.internal"]
limits:
  lameduck: ${LAMEDUCK_MS}ms
  shutdown_grace: ${GRACE_MS}ms
state_dir: ${stateDir}
`;

t.test('SIGTERM during a stalled inbound transfer: the edge abandons it, exits within lameduck + grace, and its port is free', async (t) => {
  const primary = await stallingPrimary(t);
  const dir = mkdtempSync(join(tmpdir(), 'pldns-shutdown-xfr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const edge = await startDaemon(edgeYaml(0, primary.port, dir), { dir: mkdtempSync(join(dir, 'a-')), env: NO_CREDENTIALS });
  t.teardown(() => edge.stop('SIGKILL'));
  for (let i = 0; i < 200 && primary.axfrs() === 0; i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(primary.axfrs(), 1, 'the edge asked for the zone and the primary stalled the transfer');
  t.equal(primary.open(), 1, 'the transfer connection is open');

  const sentAt = Date.now();
  const code = await edge.stop('SIGTERM');
  const tookMs = Date.now() - sentAt;
  t.equal(code, 0, 'a clean exit');
  // The property: the exit did not wait on the 5-minute transfer deadline (the helper would SIGKILL at 10 s).
  t.ok(tookMs < LAMEDUCK_MS + GRACE_MS + 5000, `exited ${tookMs} ms after SIGTERM (lameduck ${LAMEDUCK_MS} + grace ${GRACE_MS} ms)`);
  t.notOk(edge.logs().some((l) => l.msg === 'no primary answered; keeping the zone we have'), 'the abandoned transfer is not reported as a primary failure');
  for (let i = 0; i < 100 && primary.open() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(primary.open(), 0, 'the primary sees the transfer connection closed');

  // A restart right after binds the same port (UDP and TCP).
  const again = await startDaemon(edgeYaml(edge.dnsPort, primary.port, dir), { dir: mkdtempSync(join(dir, 'b-')), env: NO_CREDENTIALS });
  t.teardown(() => again.stop('SIGKILL'));
  t.equal(again.dnsPort, edge.dnsPort, `the restarted edge listens on ${edge.dnsPort} again`);
  t.equal(await again.stop('SIGTERM'), 0);
});
