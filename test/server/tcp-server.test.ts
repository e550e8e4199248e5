import net from 'node:net';
import t, { type Test } from 'tap';
import { TcpServer, type TcpLimits } from '../../src/server/tcp-server';
import { QueryPipeline } from '../../src/server/pipeline';
import { detachRequest, type DnsHandler, type PipelineCounters, type ZoneService } from '../../src/server/request';
import { createLogger } from '../../src/runtime/log';
import { finWait1, TcpDns } from '../helpers/hardening';
import { encodeQuery } from '../helpers/wire';

// The RFC 7766 server through real loopback sockets, with an in-process pipeline: pipelining,
// out-of-order answers, caps, slow readers, and multi-message streams.

const LIMITS: TcpLimits = { maxConnections: 50, maxConnectionsPerClient: 4, idleTimeoutMs: 2000, frameTimeoutMs: 2000, maxInFlight: 8, maxWriteBufferBytes: 64 * 1024, framesPerTick: 32 };

async function serve(t: Test, handler: DnsHandler, limits: Partial<TcpLimits> = {}, zone?: ZoneService): Promise<{ port: number; dropped: string[] }> {
  const dropped: string[] = [];
  const counters: PipelineCounters = { dropped: (r) => dropped.push(r), rejected: (r) => dropped.push(r), tcpConnections() {}, udpBatch() {} };
  const pipeline = new QueryPipeline({ handler, admit: () => 'pass', ...(zone ? { zone } : {}) }, counters, createLogger('silent'));
  const server = new TcpServer({ address: { host: '127.0.0.1', port: 0, family: 4 }, pipeline, logger: createLogger('silent'), limits: { ...LIMITS, ...limits } });
  const port = await server.start();
  t.teardown(() => server.close());
  return { port, dropped };
}

const echo = (raw: Buffer): Buffer => {
  const r = Buffer.from(raw);
  r[2] |= 0x80;
  return r;
};
const idOf = (b: Buffer): number => b.readUInt16BE(0);

t.test('pipelined queries are all answered, out of order when the handler is', async (t) => {
  const { port } = await serve(t, (req) => {
    const delay = req.query.id === 1 ? 60 : 0;
    if (delay === 0) return echo(req.query.raw);
    // The pipeline reuses the request for the next frame: an answer that comes later keeps a copy.
    const own = detachRequest(req);
    return new Promise((r) => setTimeout(() => r(echo(own.query.raw)), delay));
  });
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  for (let id = 1; id <= 5; id++) c.send(encodeQuery('example.com', { id }));
  await c.waitFrames(5, 3000);
  const ids = c.frames.map(idOf);
  t.same([...ids].sort(), [1, 2, 3, 4, 5], 'every query answered once');
  t.equal(ids[ids.length - 1], 1, 'the slow answer came last: answers are not held in order');
});

t.test('a frame split across reads and frames merged in one read are both taken', async (t) => {
  const { port } = await serve(t, (req) => echo(req.query.raw));
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  const one = encodeQuery('split.example', { id: 7 });
  const two = encodeQuery('merged.example', { id: 8 });
  const frame = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  const f1 = frame(one);
  c.socket.write(f1.subarray(0, 3));
  await new Promise((r) => setTimeout(r, 30));
  c.socket.write(Buffer.concat([f1.subarray(3), frame(two)]));
  await c.waitFrames(2, 3000);
  t.same(c.frames.map(idOf), [7, 8]);
});

t.test('per-client cap: a new connection sheds that client\'s oldest idle one (RFC 7766 §10)', async (t) => {
  const { port, dropped } = await serve(t, (req) => echo(req.query.raw), { maxConnectionsPerClient: 2 });
  const a = await TcpDns.connect(port);
  await new Promise((r) => setTimeout(r, 20));
  const b = await TcpDns.connect(port);
  await new Promise((r) => setTimeout(r, 20));
  const c = await TcpDns.connect(port);
  t.teardown(() => {
    for (const x of [a, b, c]) x.socket.destroy();
  });
  t.ok(await a.waitClosed(3000), 'the oldest idle connection of this client is closed');
  t.ok(dropped.includes('tcp_client_shed'), `counted: ${dropped.join(', ')}`);
  for (const [i, x] of [b, c].entries()) {
    x.send(encodeQuery('still.example', { id: 10 + i }));
    await x.waitFrames(1, 3000);
    t.equal(idOf(x.frames[0] as Buffer), 10 + i, 'the others serve');
  }
});

t.test('a frame header announcing more than a query can be: hang up', async (t) => {
  const { port, dropped } = await serve(t, (req) => echo(req.query.raw));
  const c = await TcpDns.connect(port);
  c.socket.write(Buffer.from([0xff, 0xff, 0, 0]));
  await Promise.race([c.closedAt, new Promise((r) => setTimeout(r, 3000))]);
  t.ok(c.closed);
  t.ok(dropped.includes('tcp_frame_too_large'));
});

t.test('a multi-message zone reply is written in order, whole, for a reader that reads', async (t) => {
  const zone: ZoneService = {
    claims: (q) => q.qname === 'zone.example',
    handle: (msg) => {
      const id = msg.readUInt16BE(0);
      return Array.from({ length: 40 }, (_, i) => {
        const m = Buffer.alloc(4000, i);
        m.writeUInt16BE(id, 0);
        return m;
      });
    },
  };
  const { port } = await serve(t, () => null, {}, zone);
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  c.send(encodeQuery('zone.example', { id: 99 }));
  await c.waitFrames(40, 5000);
  t.equal(c.frames.length, 40, '40 messages of 4,000 bytes: more than the 64 KiB write buffer, delivered with backpressure');
  t.same(c.frames.map((f) => f[2]), Array.from({ length: 40 }, (_, i) => i), 'in order');
});

/** An endless zone stream of 4,000-byte messages (a zone far larger than any socket buffer). */
function endlessZone(made: { count: number }): ZoneService {
  return {
    claims: (q) => q.qname === 'zone.example',
    handle: (msg) => {
      const id = msg.readUInt16BE(0);
      return (function* () {
        for (let i = 0; i < 1_000_000; i++) {
          made.count++;
          const m = Buffer.alloc(4000, i & 0xff);
          m.writeUInt16BE(id, 0);
          yield m;
        }
      })();
    },
  };
}

async function serveCounting(t: Test, limits: Partial<TcpLimits>, zone: ZoneService): Promise<{ port: number; dropped: string[]; open: () => number }> {
  const dropped: string[] = [];
  let open = 0;
  const counters: PipelineCounters = { dropped: (r) => dropped.push(r), rejected: (r) => dropped.push(r), tcpConnections: (d) => (open += d), udpBatch() {} };
  const pipeline = new QueryPipeline({ handler: () => null, admit: () => 'pass', zone }, counters, createLogger('silent'));
  const server = new TcpServer({ address: { host: '127.0.0.1', port: 0, family: 4 }, pipeline, logger: createLogger('silent'), limits: { ...LIMITS, ...limits } });
  const port = await server.start();
  t.teardown(() => server.close());
  return { port, dropped, open: () => open };
}

t.test('a stalled transfer reader is reset after the idle time: no connection, no FIN stuck behind unread data', async (t) => {
  const made = { count: 0 };
  const { port, dropped, open } = await serveCounting(t, { idleTimeoutMs: 500 }, endlessZone(made));
  const c = await TcpDns.connect(port);
  t.teardown(() => c.destroy());
  c.send(encodeQuery('zone.example', { id: 5 }));
  for (let i = 0; i < 100 && c.frames.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  c.socket.pause(); // reads nothing more: the kernel buffers fill, then the server waits on drain
  const startedAt = Date.now();
  for (let i = 0; i < 100 && open() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(open(), 0, `the server let go of the connection (${Date.now() - startedAt} ms; idle time 500 ms)`);
  // What fills the socket buffers first depends on the kernel's buffer tuning: the bound is "stopped", not a size.
  t.ok(made.count < 20_000, `the stream stopped (${made.count} messages built, not a million)`);
  t.ok(dropped.includes('tcp_transfer_timeout'), 'counted as tcp_transfer_timeout');
  t.equal(finWait1(port), 0, 'reset, not closed behind the unread data (no FIN-WAIT-1 socket lingers)');
  c.socket.resume();
  t.ok(await c.waitClosed(5000), 'the client sees the connection end');
});

t.test('a slow transfer reader (it takes a little now and then) is reset at the whole-transfer deadline', async (t) => {
  const made = { count: 0 };
  const { port, dropped, open } = await serveCounting(t, { idleTimeoutMs: 1000, transferTimeoutMs: 1500 }, endlessZone(made));
  const c = await TcpDns.connect(port);
  t.teardown(() => c.destroy());
  c.send(encodeQuery('zone.example', { id: 6 }));
  // Read in short bursts: never idle for the idle time, always far behind.
  const drip = setInterval(() => {
    c.socket.resume();
    setTimeout(() => c.socket.pause(), 5);
  }, 200);
  t.teardown(() => clearInterval(drip));
  for (let i = 0; i < 200 && open() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  clearInterval(drip);
  t.equal(open(), 0, 'the server let go of the connection');
  t.ok(c.frames.length > 10, `the reader did make progress (${c.frames.length} messages)`);
  t.ok(dropped.includes('tcp_transfer_timeout'), 'counted as tcp_transfer_timeout');
  t.equal(finWait1(port), 0, 'nothing lingers');
});

/** A finite zone of `count` 4,000-byte messages: small enough to sit whole in the kernel's buffers. */
function smallZone(count: number): ZoneService {
  return {
    claims: (q) => q.qname === 'zone.example',
    handle: (msg) => Array.from({ length: count }, (_, i) => {
      const m = Buffer.alloc(4000, i & 0xff);
      m.writeUInt16BE(msg.readUInt16BE(0), 0);
      return m;
    }),
  };
}

t.test('a transfer handed whole to the kernel: a reader that comes back late still gets all of it; one that never does is reset', async (t) => {
  const IDLE_MS = 2000;
  const { port, dropped, open } = await serveCounting(t, { idleTimeoutMs: IDLE_MS }, smallZone(40));
  const late = await TcpDns.connect(port);
  const never = await TcpDns.connect(port);
  t.teardown(() => {
    late.destroy();
    never.destroy();
  });
  for (const c of [late, never]) {
    c.socket.pause();
    c.send(encodeQuery('zone.example', { id: 3 }));
  }
  // Past the idle time the server ends both (its FIN queued behind the zone); the late reader then reads.
  await new Promise((r) => setTimeout(r, IDLE_MS + 500));
  late.socket.resume();
  await late.waitFrames(40, 10_000);
  t.equal(late.frames.length, 40, 'the late reader got every message');
  t.ok(await late.waitClosed(5000), 'and then the end of the connection');
  for (let i = 0; i < 200 && open() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(open(), 0, 'the reader that never reads is let go too');
  t.equal(finWait1(port), 0, 'reset: nothing lingers behind its unread zone');
  t.ok(dropped.includes('tcp_transfer_timeout'), 'counted as tcp_transfer_timeout');
});

/**
 * Counts, on the server's side of connections to `port`, the reads that delivered bytes and the
 * write() calls, through the net.Socket methods every accepted socket uses.
 */
function countServerIo(t: Test, port: number): { reads: number; writes: number } {
  const seen = { reads: 0, writes: 0 };
  const proto = net.Socket.prototype;
  const { write, emit } = proto;
  proto.write = function (this: net.Socket, ...args: unknown[]) {
    if (this.localPort === port) seen.writes++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof proto.write;
  proto.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'data' && this.localPort === port) seen.reads++;
    return (emit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
  } as typeof proto.emit;
  t.teardown(() => {
    proto.write = write;
    proto.emit = emit;
  });
  return seen;
}

/** `count` framed queries with ids 1..count, as one buffer (one client write). */
function pipelined(count: number): Buffer {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) => {
      const q = encodeQuery(`q${i + 1}.example`, { id: i + 1 });
      return Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    }),
  );
}

t.test('the answers to the queries of one read go out in one write, in order, each from its own bytes', async (t) => {
  // The handler builds every answer in one reused buffer, as the resolver does when the transport
  // copies answers out (replyCopied): an answer not copied at once would be overwritten by the next.
  const shared = Buffer.alloc(512);
  let copied = 0;
  const { port } = await serve(
    t,
    (req) => {
      if (req.replyCopied === true) copied++;
      const raw = req.query.raw;
      raw.copy(shared);
      shared[2] |= 0x80;
      return shared.subarray(0, raw.length);
    },
    { maxInFlight: 64, framesPerTick: 64 },
  );
  const io = countServerIo(t, port);
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  c.socket.write(pipelined(40));
  await c.waitFrames(40, 3000);
  t.same(c.frames.map(idOf), Array.from({ length: 40 }, (_, i) => i + 1), 'every answer, in query order, each its own');
  const wrong = c.frames.filter((f, i) => !f.equals(echo(encodeQuery(`q${i + 1}.example`, { id: i + 1 }))));
  t.equal(wrong.length, 0, 'each answer is its own query\'s, byte for byte');
  t.equal(copied, 40, 'the handler was told the transport copies its answers');
  t.ok(io.reads >= 1, `${io.reads} read(s)`);
  t.equal(io.writes, io.reads, `one write per read that carried queries, not one per answer (${io.writes} writes for 40 answers)`);
});

t.test('answers that come later in the same turn share a write too', async (t) => {
  const { port } = await serve(t, (req) => Promise.resolve(echo(Buffer.from(req.query.raw))), { maxInFlight: 64, framesPerTick: 64 });
  const io = countServerIo(t, port);
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  c.socket.write(pipelined(30));
  await c.waitFrames(30, 3000);
  t.same([...c.frames.map(idOf)].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1), 'every query answered once');
  t.equal(io.writes, io.reads, `answers resolved in one turn go out together (${io.writes} writes for 30 answers, ${io.reads} reads)`);
});

t.test('a client that sends its queries and its FIN at once gets every later answer before the end', async (t) => {
  const { port } = await serve(t, (req) => {
    const own = detachRequest(req);
    // Answered after the FIN was read: the last answer is what lets the server end its side.
    return new Promise((r) => setTimeout(() => r(echo(own.query.raw)), 50));
  });
  const c = await TcpDns.connect(port);
  t.teardown(() => c.socket.destroy());
  c.socket.end(pipelined(6));
  t.ok(await c.waitClosed(3000), 'the server ends the connection');
  t.same([...c.frames.map(idOf)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], 'after writing every answer');
});

t.test('answers for two connections delivered in one turn, interleaved, each reach their own connection in order', async (t) => {
  // Every answer waits until all eight queries of both connections are in, then all are released
  // in one turn, alternating between the connections: the reply batch changes hands at each one.
  const waiting: { id: number; release: () => void }[] = [];
  const { port } = await serve(
    t,
    (req) => {
      const own = detachRequest(req);
      return new Promise<Buffer>((resolve) => {
        waiting.push({ id: own.query.id, release: () => resolve(echo(own.query.raw)) });
        if (waiting.length === 8) {
          const a = waiting.filter((w) => w.id < 100);
          const b = waiting.filter((w) => w.id > 100);
          for (let i = 0; i < 5; i++) {
            a[i]?.release();
            b[i]?.release();
          }
        }
      });
    },
    { maxInFlight: 64 },
  );
  const a = await TcpDns.connect(port);
  const b = await TcpDns.connect(port);
  t.teardown(() => {
    a.socket.destroy();
    b.socket.destroy();
  });
  const onlyB = Buffer.concat(
    [101, 102, 103].map((id) => {
      const q = encodeQuery('b.example', { id });
      return Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    }),
  );
  a.socket.write(pipelined(5));
  b.socket.write(onlyB);
  await Promise.all([a.waitFrames(5, 3000), b.waitFrames(3, 3000)]);
  await new Promise((r) => setTimeout(r, 50));
  t.same(a.frames.map(idOf), [1, 2, 3, 4, 5], 'the first connection: its own answers, in the order they came');
  t.same(b.frames.map(idOf), [101, 102, 103], 'the second: its own');
});
