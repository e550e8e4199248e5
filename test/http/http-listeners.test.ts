import t from 'tap';
import http from 'node:http';
import { Registry } from 'prom-client';
import { HttpListeners } from '../../src/http/http-listeners';
import { DEFAULT_HTTP_LIMITS } from '../../src/http/http-server';
import { createLogger } from '../../src/runtime/log';

// The admin listeners follow limits.http_* on reload: kept when nothing changed, reopened with the new limits when they did.

const LOOPBACK = { host: '127.0.0.1', port: 0, family: 4 } as const;

function statusWithHeader(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/healthz', headers: { 'x-pad': 'a'.repeat(bytes) }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('a reload with other limits reopens the listener with them; an unchanged one keeps it', async (t) => {
  const sources = { readiness: () => ({ ready: true, reasons: [] }), status: () => ({}), registry: new Registry() };
  const listeners = new HttpListeners(sources, createLogger('silent'));
  t.teardown(() => listeners.close());
  await listeners.open({ http: LOOPBACK, metrics: null, httpLimits: DEFAULT_HTTP_LIMITS });
  const first = listeners.ports.http as number;
  t.equal(await statusWithHeader(first, 4000), 200, 'default limits: a 4,000-byte header is fine');
  await listeners.reconfigure({ http: LOOPBACK, metrics: null, httpLimits: { ...DEFAULT_HTTP_LIMITS } });
  t.equal(listeners.ports.http, first, 'same limits: the listener is kept');
  await listeners.reconfigure({ http: LOOPBACK, metrics: null, httpLimits: { ...DEFAULT_HTTP_LIMITS, maxHeaderBytes: 2048 } });
  const second = listeners.ports.http as number;
  t.not(second, undefined);
  t.equal(await statusWithHeader(second, 4000), 431, 'the new limit applies: 431');
});
