import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { DEFAULT_HTTP_LIMITS, HttpServer, type HttpSources, type Readiness } from '../../src/http/http-server';
import { Metrics } from '../../src/metrics';
import { isPldnsError } from '../../src/errors';
import { captureLogger } from '../helpers/log-capture';

const LOOPBACK = { host: '127.0.0.1', port: 0, family: 4 } as const;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, path: string, options: { agent?: http.Agent; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // GET requests get no chunked framing from node's client, so a body needs its length declared.
    const headers = options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}


function sources(overrides: Partial<HttpSources> = {}): HttpSources {
  return {
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({ version: '0.0.0-test' }),
    registry: new Registry(),
    ...overrides,
  };
}

async function started(t: Test, src: HttpSources): Promise<{ server: HttpServer; port: number; lines: Record<string, unknown>[] }> {
  const { logger, lines } = captureLogger();
  const server = new HttpServer({ address: LOOPBACK, sources: src, logger });
  const port = await server.start();
  t.teardown(() => server.close());
  return { server, port, lines };
}

const JSON_TYPE = 'application/json; charset=utf-8';

t.test('GET /healthz answers ok as text', async (t) => {
  const { port } = await started(t, sources({ readiness: () => ({ ready: false, reasons: ['not bound'] }) }));
  const r = await request(port, 'GET', '/healthz');
  t.equal(r.status, 200, 'healthy even while not ready');
  t.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(r.headers['cache-control'], 'no-store');
  t.equal(r.body, 'ok\n');
  const q = await request(port, 'GET', '/healthz?verbose=1');
  t.equal(q.status, 200, 'query string ignored');
});

t.test('/readyz flips from 503 with reasons to 200', async (t) => {
  let readiness: Readiness = { ready: false, reasons: ['dns listeners not bound', 'no usable IPs for ep-1'] };
  const { port } = await started(t, sources({ readiness: () => readiness }));

  const down = await request(port, 'GET', '/readyz');
  t.equal(down.status, 503);
  t.equal(down.headers['content-type'], JSON_TYPE);
  t.equal(down.headers['cache-control'], 'no-store');
  t.same(JSON.parse(down.body), { ready: false, reasons: ['dns listeners not bound', 'no usable IPs for ep-1'] });

  readiness = { ready: true, reasons: [] };
  const up = await request(port, 'GET', '/readyz');
  t.equal(up.status, 200);
  t.equal(up.headers['content-type'], JSON_TYPE);
  t.same(JSON.parse(up.body), { ready: true }, 'exactly {"ready":true}, no reasons key');

  readiness = { ready: false, reasons: ['lameduck'] };
  const lame = await request(port, 'GET', '/readyz');
  t.equal(lame.status, 503);
  t.same(JSON.parse(lame.body), { ready: false, reasons: ['lameduck'] });
});

t.test('GET /status renders the document with 2-space indentation', async (t) => {
  const doc = { version: '1.2.3', uptimeSeconds: 42, endpoints: [{ id: 'ep-1', source: 'sync' }] };
  const { port } = await started(t, sources({ status: () => doc }));
  const r = await request(port, 'GET', '/status');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], JSON_TYPE);
  t.equal(r.headers['cache-control'], 'no-store');
  t.same(JSON.parse(r.body), doc);
  t.equal(r.body, `${JSON.stringify(doc, null, 2)}\n`);
  t.match(r.body, /\n {2}"version": "1\.2\.3"/);
});

t.test('GET /metrics serves the registry after refreshing gauges', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  let refreshes = 0;
  const { port } = await started(
    t,
    sources({
      registry: metrics.registry,
      beforeMetrics: () => {
        refreshes++;
        metrics.eventLoopDelay.set({ quantile: '0.99' }, 0.0125 * refreshes);
      },
    }),
  );
  metrics.requests.inc({ protocol: 'udp', type: 'A', source: 'local' }, 3);
  const r = await request(port, 'GET', '/metrics');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], metrics.registry.contentType);
  t.equal(r.headers['cache-control'], 'no-store');
  t.match(r.body, /^privatelink_dns_requests_total\{protocol="udp",type="A",source="local"\} 3$/m);
  t.match(r.body, /^privatelink_dns_event_loop_delay_seconds\{quantile="0\.99"\} 0\.0125$/m, 'beforeMetrics ran before rendering');

  metrics.requests.inc({ protocol: 'udp', type: 'A', source: 'local' });
  const again = await request(port, 'GET', '/metrics');
  t.match(again.body, /^privatelink_dns_requests_total\{protocol="udp",type="A",source="local"\} 4$/m, 'each scrape is fresh');
  t.match(again.body, /^privatelink_dns_event_loop_delay_seconds\{quantile="0\.99"\} 0\.025$/m);
  t.equal(refreshes, 2);
});

t.test('unknown paths are 404 JSON', async (t) => {
  const { port } = await started(t, sources());
  for (const path of ['/', '/nope', '/healthz/', '/metricsx']) {
    const r = await request(port, 'GET', path);
    t.equal(r.status, 404, path);
    t.equal(r.headers['content-type'], JSON_TYPE, path);
    t.equal(r.headers['cache-control'], 'no-store', path);
    t.same(JSON.parse(r.body), { error: 'not found' }, path);
  }
});

t.test('wrong methods are 405 with Allow', async (t) => {
  const { port } = await started(t, sources());
  const cases: [string, string, string][] = [
    ['POST', '/healthz', 'GET, HEAD'],
    ['PUT', '/readyz', 'GET, HEAD'],
    ['DELETE', '/metrics', 'GET'],
    ['POST', '/status', 'GET'],
    ['HEAD', '/status', 'GET'],
  ];
  for (const [method, path, allow] of cases) {
    const r = await request(port, method, path, { body: method === 'HEAD' ? undefined : 'x'.repeat(1000) });
    t.equal(r.status, 405, `${method} ${path}`);
    t.equal(r.headers.allow, allow, `${method} ${path}`);
    t.equal(r.headers['cache-control'], 'no-store', `${method} ${path}`);
    if (method !== 'HEAD') t.same(JSON.parse(r.body), { error: 'method not allowed' }, `${method} ${path}`);
  }
});

t.test('HEAD on /healthz and /readyz: headers of the GET, no body', async (t) => {
  let ready = true;
  const { port } = await started(t, sources({ readiness: () => ({ ready, reasons: ready ? [] : ['starting'] }) }));
  const h = await request(port, 'HEAD', '/healthz');
  t.equal(h.status, 200);
  t.equal(h.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(h.headers['content-length'], '3');
  t.equal(h.body, '');
  const r = await request(port, 'HEAD', '/readyz');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], JSON_TYPE);
  t.equal(r.body, '');
  ready = false;
  const d = await request(port, 'HEAD', '/readyz');
  t.equal(d.status, 503);
  t.equal(d.body, '');
});

t.test('a throwing source is a logged 500 and the server keeps serving', async (t) => {
  let fail = true;
  const { port, lines } = await started(
    t,
    sources({
      status: () => {
        if (fail) throw new Error('status exploded');
        return { fine: true };
      },
      readiness: () => {
        throw new Error('readiness exploded');
      },
      beforeMetrics: () => {
        throw new Error('gauges exploded');
      },
    }),
  );
  for (const [path, message] of [['/status', 'status exploded'], ['/readyz', 'readiness exploded'], ['/metrics', 'gauges exploded']]) {
    const r = await request(port, 'GET', path);
    t.equal(r.status, 500, path);
    t.equal(r.headers['content-type'], JSON_TYPE, path);
    t.equal(r.headers['cache-control'], 'no-store', path);
    t.same(JSON.parse(r.body), { error: 'internal error' }, path);
    t.ok(lines.some((l) => l.level === 50 && l.err === message && l.path === path), `"${message}" logged at error level`);
  }
  const h = await request(port, 'GET', '/healthz');
  t.equal(h.status, 200);
  t.equal(h.body, 'ok\n');
  fail = false;
  const s = await request(port, 'GET', '/status');
  t.equal(s.status, 200);
  t.same(JSON.parse(s.body), { fine: true });
});

t.test('a request body is ignored, not required to be read', async (t) => {
  const { port } = await started(t, sources());
  const r = await request(port, 'GET', '/readyz', { body: 'y'.repeat(256 * 1024) });
  t.equal(r.status, 200);
  t.equal(r.headers.connection, 'close', 'connection with a body is not kept alive');
  t.same(JSON.parse(r.body), { ready: true });
});

t.test('a port already in use fails with LISTEN_FAILED', async (t) => {
  const { port } = await started(t, sources());
  const second = new HttpServer({ address: { host: '127.0.0.1', port, family: 4 }, sources: sources(), logger: captureLogger().logger });
  const err = await second.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(isPldnsError(err, 'LISTEN_FAILED'), 'PldnsError with code LISTEN_FAILED');
  t.match(String((err as Error).message), /127\.0\.0\.1:\d+.*EADDRINUSE/);
});

t.test('close() is quick with idle keep-alive and half-sent requests open', async (t) => {
  const { logger } = captureLogger();
  const server = new HttpServer({ address: LOOPBACK, sources: sources(), logger });
  const port = await server.start();

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const first = await request(port, 'GET', '/healthz', { agent });
  t.equal(first.status, 200);
  t.not(first.headers.connection, 'close', 'the connection is kept alive');
  const idleSockets = Object.values(agent.freeSockets).flat();
  t.equal(idleSockets.length, 1, 'one idle keep-alive socket held by the client');
  const idleClosed = new Promise<void>((r) => idleSockets[0]?.once('close', () => r()));

  // Headers never finished: not idle to node, so only closeAllConnections ends it before the timeouts.
  const half = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => half.once('connect', () => r()));
  half.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const halfClosed = new Promise<void>((r) => half.once('close', () => r()));
  half.on('error', () => {});
  await new Promise((r) => setTimeout(r, 50));

  const began = Date.now();
  // Without the fix close() waits ~30 s (node's header-timeout sweep): fail fast instead of hanging.
  const outcome = await Promise.race([server.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 1500))]);
  const tookMs = Date.now() - began;
  t.equal(outcome, 'closed', `close() finished (${tookMs} ms)`);
  if (outcome !== 'closed') half.destroy();
  await Promise.all([idleClosed, halfClosed]);
  t.pass('both client sockets were closed by the server');
  await t.rejects(request(port, 'GET', '/healthz'), 'no longer listening');
});

t.test('close() lets a scrape already in progress finish', async (t) => {
  const registry = new Registry();
  // A collect that takes a while, as a slow gauge refresh would.
  new Gauge({
    name: 'slow_gauge',
    help: 'slow',
    registers: [registry],
    async collect() {
      await new Promise((r) => setTimeout(r, 200));
      this.set(7);
    },
  });
  const server = new HttpServer({ address: LOOPBACK, sources: sources({ registry }), logger: captureLogger().logger });
  const port = await server.start();
  const scrape = request(port, 'GET', '/metrics');
  await new Promise((r) => setTimeout(r, 50));
  const began = Date.now();
  await server.close();
  const r = await scrape;
  t.equal(r.status, 200);
  t.match(r.body, /^slow_gauge 7$/m);
  t.ok(Date.now() - began < 1500, 'and close() still finished promptly');
});

t.test('limits are settings: header size and per-client connections follow limits.http_*', async (t) => {
  const { logger } = captureLogger();
  const limits = { ...DEFAULT_HTTP_LIMITS, maxHeaderBytes: 1024, maxConnectionsPerClient: 2 };
  const server = new HttpServer({ address: LOOPBACK, sources: sources(), logger, limits });
  const port = await server.start();
  t.teardown(() => server.close());
  const big = (bytes: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/healthz', headers: { 'x-pad': 'a'.repeat(bytes) }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  t.equal(await big(200), 200, 'headers under the setting: served');
  t.equal(await big(2000), 431, 'headers over http_max_header_bytes (1024): 431');
  // Two idle connections held by one client, then a third: the oldest idle one is closed.
  const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => {
    const s = net.connect(port, '127.0.0.1', () => r(s));
    s.on('error', () => undefined);
  })));
  const closed = held.map((s) => new Promise<boolean>((r) => s.once('close', () => r(true))));
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await request(port, 'GET', '/healthz')).status, 200, 'a third connection from the client is served');
  t.ok(await Promise.race([closed[0], new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]), 'the longest-idle of the two was shed (cap 2 per client)');
  for (const s of held) s.destroy();
  // The defaults are today's values.
  t.same(DEFAULT_HTTP_LIMITS, { maxConnections: 256, maxConnectionsPerClient: 16, requestTimeoutMs: 5000, headersTimeoutMs: 2000, keepAliveTimeoutMs: 2000, maxHeaderBytes: 8192, maxHeaders: 50 });
});

t.test('the header deadline is checked only while a connection is open, and then cuts a slow client', async (t) => {
  const { logger } = captureLogger();
  const limits = { ...DEFAULT_HTTP_LIMITS, headersTimeoutMs: 300, requestTimeoutMs: 600 };
  const server = new HttpServer({ address: LOOPBACK, sources: sources(), logger, limits });
  const port = await server.start();
  t.teardown(() => server.close());
  t.equal(server.checkingDeadlines, false, 'no connection: no check timer (an idle daemon is not woken 4 times a second)');
  const slow = await new Promise<net.Socket>((r) => {
    const s = net.connect(port, '127.0.0.1', () => r(s));
    s.on('error', () => undefined);
  });
  const cut = new Promise<boolean>((r) => slow.once('close', () => r(true)));
  slow.resume(); // reads the 408, then the end
  slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // headers never finished
  await new Promise((r) => setTimeout(r, 50));
  t.equal(server.checkingDeadlines, true, 'a connection is open: the check runs');
  t.ok(await Promise.race([cut, new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]), 'the client that never finished its headers is cut');
  for (let i = 0; i < 100 && server.checkingDeadlines; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(server.checkingDeadlines, false, 'the last connection closed: the check stops');
  t.equal((await request(port, 'GET', '/healthz')).status, 200, 'still serving');
});
