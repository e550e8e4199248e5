import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import { UdpServer, type UdpIoSetting } from '../../src/server/udp-server';
import { QueryPipeline } from '../../src/server/pipeline';
import type { DnsHandler, PipelineCounters } from '../../src/server/request';
import { loadNativeAddon } from '../../src/native/addon';
import { createLogger } from '../../src/runtime/log';
import { isPldnsError } from '../../src/errors';
import { encodeQuery } from '../helpers/wire';

// The UDP listener with both engines: the recvmmsg/sendmmsg addon and Node's dgram. Each test
// runs against both, through real sockets on loopback.

const batchLoad = loadNativeAddon();
t.test('the UDP batch addon is built and loads', async (t) => {
  // `npm run build` compiles it; without a C compiler the daemon falls back to dgram, but the
  // tests must exercise the addon, so its absence is a failure here (never a silent skip).
  t.ok(batchLoad.ok, batchLoad.ok ? 'loaded' : `not loadable: ${batchLoad.reason}`);
});

interface Harness {
  server: UdpServer;
  port: number;
  dropped: string[];
  batches: number[];
  seen: { address: string; port: number }[];
  logs: string[];
}

/** Answers by echoing the query with QR set; `delayMs` > 0 answers asynchronously. */
function echoHandler(seen: Harness['seen'], delayMs: number): DnsHandler {
  return (req) => {
    seen.push({ address: req.client.address, port: req.client.port });
    const reply = Buffer.from(req.query.raw);
    reply[2] |= 0x80;
    if (delayMs === 0) return reply;
    return new Promise((resolve) => setTimeout(() => resolve(reply), delayMs));
  };
}

async function startServer(t: Test, udpIo: UdpIoSetting, host = '127.0.0.1', delayMs = 0, extra: Partial<ConstructorParameters<typeof UdpServer>[0]> = {}): Promise<Harness> {
  const dropped: string[] = [];
  const batches: number[] = [];
  const seen: Harness['seen'] = [];
  const logs: string[] = [];
  const counters: PipelineCounters = {
    dropped: (reason) => dropped.push(reason),
    rejected: (reason) => dropped.push(reason),
    tcpConnections: () => {},
    udpBatch: (n) => batches.push(n),
  };
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const server = new UdpServer({
    address: { host, port: 0, family: host.includes(':') ? 6 : 4 },
    pipeline: new QueryPipeline({ handler: echoHandler(seen, delayMs), admit: () => 'pass' }, counters, createLogger('info', sink)),
    logger: createLogger('info', sink),
    udpIo,
    recvBufferBytes: 1 << 20,
    ...extra,
  });
  const port = await server.start();
  t.teardown(() => server.close());
  return { server, port, dropped, batches, seen, logs };
}

function quietPipeline(): QueryPipeline {
  return new QueryPipeline({ handler: echoHandler([], 0), admit: () => 'pass' }, { dropped() {}, rejected() {}, tcpConnections() {}, udpBatch() {} }, createLogger('silent'));
}

/** Sends `count` queries back to back from one socket and collects the replies' IDs. */
async function burst(host: string, port: number, count: number, firstId = 1, waitMs = 3000): Promise<{ ids: Set<number>; clientPort: number }> {
  const client = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => client.bind(0, host, resolve));
  const ids = new Set<number>();
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    client.on('message', (msg) => {
      if ((msg[2] & 0x80) === 0) return;
      ids.add(msg.readUInt16BE(0));
      if (ids.size === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let i = 0; i < count; i++) client.send(encodeQuery(`n${i}.example.com`, { id: firstId + i }), port, host);
  await done;
  const clientPort = client.address().port;
  client.close();
  return { ids, clientPort };
}

/** The error a promise rejects with (a PldnsError is checked by its stable code). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return isPldnsError(err) ? err : { code: 'not a PldnsError', message: String(err) };
  }
  return { code: 'resolved', message: '' };
}

const engines: UdpIoSetting[] = ['batch', 'dgram'];

for (const engine of engines) {
  t.test(`${engine}: a burst of 200 queries gets 200 answers, each to its sender`, async (t) => {
    const h = await startServer(t, engine);
    t.equal(h.server.engine, engine);
    const { ids, clientPort } = await burst('127.0.0.1', h.port, 200, 1000);
    t.equal(ids.size, 200, 'every ID answered');
    t.ok([...ids].every((id) => id >= 1000 && id < 1200), 'only our IDs came back');
    t.equal(h.seen.length, 200);
    t.ok(h.seen.every((c) => c.address === '127.0.0.1' && c.port === clientPort), 'handler saw the real sender address and port');
    if (engine === 'batch') {
      // All 200 were queued before the listener's turn came: recvmmsg must have read several at once.
      t.ok(Math.max(...h.batches) > 1, `batches of more than one datagram (largest ${Math.max(...h.batches)})`);
      t.equal(h.batches.reduce((a, b) => a + b, 0), 200, 'batch sizes add up to the datagrams received');
    } else {
      t.same(h.batches, [], 'dgram reads one datagram at a time and reports no batches');
    }
  });

  t.test(`${engine}: asynchronous answers reach the right clients after later batches`, async (t) => {
    const h = await startServer(t, engine, '127.0.0.1', 20);
    const [a, b] = await Promise.all([burst('127.0.0.1', h.port, 100, 1), burst('127.0.0.1', h.port, 100, 5001)]);
    t.equal(a.ids.size, 100);
    t.equal(b.ids.size, 100);
    t.ok([...a.ids].every((id) => id < 5001), 'client A got only its own IDs');
    t.ok([...b.ids].every((id) => id >= 5001), 'client B got only its own IDs');
  });

  t.test(`${engine}: 300 answers released in one turn of the loop all reach their senders`, async (t) => {
    // Late replies of one turn leave together (batch: sendmmsg, 64 at a time); none may be lost
    // or sent to the wrong client when more than a batch is waiting.
    const release: (() => void)[] = [];
    const gate = new Promise<void>((resolve) => release.push(resolve));
    const h = await startServer(t, engine, '127.0.0.1', 0, {
      pipeline: new QueryPipeline({
        handler: async (req) => {
          const reply = Buffer.from(req.query.raw);
          reply[2] |= 0x80;
          await gate;
          return reply;
        },
        admit: () => 'pass',
      }, { dropped() {}, rejected() {}, tcpConnections() {}, udpBatch() {} }, createLogger('silent')),
    });
    const pending = [burst('127.0.0.1', h.port, 150, 1, 5000), burst('127.0.0.1', h.port, 150, 5001, 5000)];
    setTimeout(() => release[0](), 300);
    const [a, b] = await Promise.all(pending);
    t.equal(a.ids.size + b.ids.size, 300, 'every query answered');
    t.ok([...a.ids].every((id) => id < 5001) && [...b.ids].every((id) => id >= 5001), 'each client got only its own IDs');
  });

  t.test(`${engine}: IPv6 listener sees the IPv6 sender`, async (t) => {
    const h = await startServer(t, engine, '::1');
    const { ids, clientPort } = await burst('::1', h.port, 20);
    t.equal(ids.size, 20);
    t.same(h.seen[0], { address: '::1', port: clientPort });
  });

  t.test(`${engine}: an oversize datagram is dropped and counted; the listener goes on`, async (t) => {
    const h = await startServer(t, engine);
    const client = dgram.createSocket('udp4');
    t.teardown(() => client.close());
    const big = Buffer.alloc(6000);
    encodeQuery('big.example.com').copy(big);
    await new Promise<void>((resolve, reject) => client.send(big, h.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    const { ids } = await burst('127.0.0.1', h.port, 5);
    t.equal(ids.size, 5, 'later queries answered');
    t.same(h.dropped, ['oversize']);
  });

  t.test(`${engine}: close frees the port at once; a taken port is LISTEN_FAILED`, async (t) => {
    const h = await startServer(t, engine);
    const second = new UdpServer({ address: { host: '127.0.0.1', port: h.port, family: 4 }, pipeline: quietPipeline(), logger: createLogger('silent'), udpIo: engine });
    t.match(await failure(second.start()), { code: 'LISTEN_FAILED', message: /EADDRINUSE/ });
    await h.server.close();
    const again = await startServer(t, engine, '127.0.0.1', 0);
    const rebind = new UdpServer({ address: { host: '127.0.0.1', port: again.port, family: 4 }, pipeline: quietPipeline(), logger: createLogger('silent'), udpIo: engine });
    await again.server.close();
    t.equal(await rebind.start(), again.port, 'the same port binds right after close');
    await rebind.close();
  });
}

t.test('udp_io auto falls back to dgram with a warning; batch refuses to start without the addon', async (t) => {
  const missing = () => ({ ok: false as const, reason: 'test: no addon' });
  const auto = await startServer(t, 'auto', '127.0.0.1', 0, { loadBatch: missing });
  t.equal(auto.server.engine, 'dgram');
  t.match(auto.logs.join(""), /"reason":"test: no addon".*UDP batch I\/O unavailable/);
  const { ids } = await burst('127.0.0.1', auto.port, 10);
  t.equal(ids.size, 10, 'the fallback answers');
  t.match(await failure(startServer(t, 'batch', '127.0.0.1', 0, { loadBatch: missing })), { code: 'LISTEN_FAILED', message: /listen.udp_io "batch": test: no addon/ });
  if (batchLoad.ok) {
    const preferred = await startServer(t, 'auto');
    t.equal(preferred.server.engine, 'batch', 'auto takes the addon when it loads');
  }
});

t.test('batch: a worker thread that exits with its socket open releases the port', async (t) => {
  if (!batchLoad.ok) {
    t.fail(`addon not loadable: ${batchLoad.reason}`);
    return;
  }
  const { Worker } = await import('node:worker_threads');
  const addon = require.resolve('../../dist/native/pldns_native.node');
  // The worker opens a socket through the addon and exits without closing it: the addon's
  // environment cleanup hook must close the descriptor, or the port stays taken.
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const b = require(${JSON.stringify(addon)});
    const h = b.open(4, '127.0.0.1', 0, 0, Buffer.alloc(b.BATCH * b.SLOT), Buffer.alloc(b.BATCH * b.META), Buffer.alloc(b.BATCH * b.SLOT), Buffer.alloc(b.BATCH * 8), () => {});
    parentPort.postMessage(b.localPort(h));
    setTimeout(() => process.exit(0), 50);
  `, { eval: true });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((resolve) => worker.once('exit', resolve));
  const probe = dgram.createSocket('udp4');
  const bound = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(port, '127.0.0.1', () => resolve(true));
  });
  probe.close();
  t.ok(bound, `port ${port} is free after the worker exited`);
});

t.test('batch: a datagram whose handling throws costs only itself; the rest of the batch is answered', async (t) => {
  if (!batchLoad.ok) {
    t.fail(`addon not loadable: ${batchLoad.reason}`);
    return;
  }
  const { BatchTransport } = await import('../../src/server/udp-batch');
  const dropped: string[] = [];
  const counters: PipelineCounters = { dropped: (r) => dropped.push(r), rejected: () => {}, tcpConnections: () => {}, udpBatch: () => {} };
  const transport = new BatchTransport(batchLoad.binding, { address: { host: '127.0.0.1', port: 0, family: 4 }, label: 'udp://test', socketBufferBytes: 0, counters, logger: createLogger('silent') });
  const port = await transport.start((msg) => {
    if (msg.readUInt16BE(0) % 10 === 0) throw new Error('boom');
    const reply = Buffer.from(msg);
    reply[2] |= 0x80;
    transport.replyNow(reply);
  });
  t.teardown(() => transport.close());
  const { ids } = await burst('127.0.0.1', port, 50, 1, 1500);
  t.equal(ids.size, 45, 'the 45 IDs that did not throw were answered');
  t.ok([...ids].every((id) => id % 10 !== 0), 'none of the throwing ones');
  t.equal(dropped.filter((d) => d === 'handler_error').length, 5, 'each throw counted as handler_error');
});
