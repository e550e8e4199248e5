import t, { type Test } from 'tap';
import { Resolver, type AnswerSource } from '../../src/resolve/resolver';
import { AnswerTable } from '../../src/resolve/table';
import { AnswerCache, cacheKey } from '../../src/resolve/cache';
import { UpstreamForwarder } from '../../src/upstream/upstream-forwarder';
import { parseQuery } from '../../src/wire/query';
import { createLogger } from '../../src/runtime/log';
import type { DnsRequest } from '../../src/server/request';
import type { RecordsConfig } from '../../src/config/schema';
import { answerFor, startResponder, type Responder, type ResponderReply } from '../helpers/responder';
import { decode, encodeQuery } from '../helpers/wire';
import { queryClock } from '../../src/server/query-clock';

/**
 * The answer pipeline with a real forwarder and cache, upstreams in process (test/helpers/responder):
 * table first, then cache, then upstream, serve-stale, and loop detection where the upstream
 * sends our own query back to us.
 */

const RECORDS: RecordsConfig = { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [] };
const TABLE = AnswerTable.build([
  { id: 'ep-1', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], ipv4: ['192.168.1.10'], ipv6: [] },
  { id: 'ep-empty', names: ['empty.example.internal'], ipv4: [], ipv6: [] },
]);
/** Never reached: only ever second in a list whose first server answers (nothing leaves loopback). */
const UNREACHABLE = { host: '10.255.255.1', port: 53, family: 4 as const };

interface Harness {
  readonly resolver: Resolver;
  readonly cache: AnswerCache;
  /** "source rcode" per answer. */
  readonly answers: string[];
  readonly loops: () => number;
  readonly stale: () => number;
  readonly warnings: string[];
}

function harness(t: Test, upstreams: readonly { host: string; port: number; family: 4 }[], records: Partial<RecordsConfig> = {}): Harness {
  const answers: string[] = [];
  const warnings: string[] = [];
  let loops = 0;
  let stale = 0;
  const logger = createLogger('warn', { write: (line: string) => warnings.push(String(JSON.parse(line).msg)) });
  const forwarder = new UpstreamForwarder({ servers: upstreams, timeoutMs: 1000, policy: 'sequential', maxFails: 1000, healthCheckIntervalMs: 60_000 }, { exchange: () => {}, health: () => {} }, logger);
  t.teardown(() => forwarder.close());
  const cache = new AnswerCache({ size: 100, maxTtlS: 3600, serveStaleMs: 60_000 });
  const resolver = new Resolver(TABLE, {
    records: { ...RECORDS, ...records },
    forwarder,
    cache,
    logger,
    logQueries: false,
    observer: {
      answered: (_protocol, _qtype, source: AnswerSource, rcode) => answers.push(`${source} ${rcode}`),
      loop: () => loops++,
      staleAnswer: () => stale++,
      cnameRewrite: () => {},
    },
  });
  return { resolver, cache, answers, loops: () => loops, stale: () => stale, warnings };
}

function request(name: string, options: { id?: number; type?: number; from?: string } = {}): DnsRequest {
  const query = parseQuery(encodeQuery(name, { id: options.id ?? 0x4242, type: options.type }));
  if (query.kind !== 'query') throw new Error('not a query');
  return { query, client: { address: options.from ?? '127.0.0.1', port: 5300 }, protocol: 'udp', receivedAt: queryClock.micros };
}

async function responder(t: Test, reply: ResponderReply): Promise<Responder> {
  const r = await startResponder(reply);
  t.teardown(() => r.close());
  return r;
}

const at = (r: Responder): { host: string; port: number; family: 4 } => ({ host: '127.0.0.1', port: r.port, family: 4 });
const addresses = (reply: Buffer): string[] => decode(reply).answers.map((a) => (a as { address?: string }).address ?? '');
const rcodeOf = (reply: Buffer): number => reply[3] & 0x0f;

t.test('managed names come from the table and are never forwarded', async (t) => {
  const up = await responder(t, (q, send) => send(answerFor(q, '6.6.6.6')));
  const h = harness(t, [at(up)]);
  const reply = h.resolver.handle(request('cs-anony-vpc.cn-hangzhou.aliyuncs.com', { id: 7 }));
  t.ok(Buffer.isBuffer(reply), 'answered synchronously');
  t.same(addresses(reply as Buffer), ['192.168.1.10']);
  t.equal((reply as Buffer).readUInt16BE(0), 7, 'client ID');
  t.equal(rcodeOf(await h.resolver.handle(request('empty.example.internal'))), 2, 'a managed name without IPs: SERVFAIL (on_unavailable: servfail)');
  t.same(h.answers, ['local 0', 'local 2']);
  t.equal(up.seen, 0, 'the upstream saw nothing');
});

t.test('on_unavailable: forward sends a managed name without IPs upstream', async (t) => {
  const up = await responder(t, (q, send) => send(answerFor(q, '100.100.1.1')));
  const h = harness(t, [at(up)], { onUnavailable: 'forward' });
  t.same(addresses(await h.resolver.handle(request('empty.example.internal'))), ['100.100.1.1']);
  t.same(h.answers, ['forward 0']);
});

t.test('zone transfers are refused without asking upstream', async (t) => {
  const up = await responder(t, (q, send) => send(answerFor(q, '6.6.6.6')));
  const h = harness(t, [at(up)]);
  t.equal(rcodeOf(await h.resolver.handle(request('example.test', { type: 252 }))), 5, 'AXFR: REFUSED');
  t.equal(rcodeOf(await h.resolver.handle(request('example.test', { type: 251 }))), 5, 'IXFR: REFUSED');
  t.equal(up.seen, 0);
});

t.test('forwarded once, then answered from the cache synchronously', async (t) => {
  const up = await responder(t, (q, send) => send(answerFor(q, '192.0.2.10', { ttl: 300 })));
  const h = harness(t, [at(up)]);
  const first = await h.resolver.handle(request('www.example.test', { id: 1 }));
  t.same(addresses(first as Buffer), ['192.0.2.10']);
  t.equal((first as Buffer).readUInt16BE(0), 1);
  const second = h.resolver.handle(request('www.example.test', { id: 2 }));
  t.ok(Buffer.isBuffer(second), 'a cache hit returns bytes, not a promise');
  t.equal((second as Buffer).readUInt16BE(0), 2, 'with the second client ID');
  t.same(addresses(second as Buffer), ['192.0.2.10']);
  t.same(h.answers, ['forward 0', 'cache 0']);
  t.equal(up.seen, 1, 'one upstream exchange');
});

t.test('upstream down: an expired cached answer is served stale; an uncached name is SERVFAIL', async (t) => {
  const up = await responder(t, () => {});
  const h = harness(t, [at(up)]);
  // Stored 5 s ago with TTL 1: expired, within serve_stale.
  const stored = answerFor(encodeQuery('old.example.test', { edns: false }), '192.0.2.20', { ttl: 1 });
  h.cache.set(cacheKey('old.example.test', 1, 1, false, false), stored, Date.now() - 5000);
  const stale = await h.resolver.handle(request('old.example.test'));
  t.same(addresses(stale as Buffer), ['192.0.2.20']);
  t.equal(decode(stale as Buffer).answers[0].ttl, 30, 'stale TTL 30 (RFC 8767)');
  t.equal(rcodeOf(await h.resolver.handle(request('new.example.test'))), 2);
  t.same(h.answers, ['stale 0', 'error 2']);
  t.equal(h.stale(), 1);
});

t.test('no upstreams configured: REFUSED', async (t) => {
  const h = harness(t, []);
  t.equal(rcodeOf(await h.resolver.handle(request('www.example.test'))), 5);
  t.same(h.answers, ['error 5']);
});

t.test('a loop through another host: the query that comes back is SERVFAIL at once, counted and logged', async (t) => {
  let h: Harness | undefined;
  let back: Buffer | undefined;
  // The first upstream "forwards" the zone back to us from the second upstream's address, then answers.
  // (Only the first query loops back, so a broken detector fails the test instead of recursing.)
  const up = await responder(t, (q, send) => {
    if (back) return send(answerFor(q, '192.0.2.30'));
    back = Buffer.alloc(0);
    void (async () => {
      back = (await h?.resolver.handle(request('a.loop.corp', { id: 99, from: UNREACHABLE.host }))) ?? undefined;
      send(answerFor(q, '192.0.2.30'));
    })();
  });
  h = harness(t, [at(up), UNREACHABLE]);
  const reply = await h.resolver.handle(request('a.loop.corp'));
  t.same(addresses(reply as Buffer), ['192.0.2.30'], 'the client still gets the upstream answer');
  t.equal(back && rcodeOf(back), 2, 'the looped query: SERVFAIL');
  t.equal(back?.readUInt16BE(0), 99);
  t.equal(h.loops(), 1, 'counted');
  t.same(h.answers, ['loop 2', 'forward 0']);
  t.match(h.warnings, [/^forwarding loop/], 'logged once');
});

t.test('from a loopback address the same name waits for the forward in flight', async (t) => {
  let h: Harness | undefined;
  let joined: Buffer | undefined;
  let asked = false;
  const up = await responder(t, (q, send) => {
    if (asked) return send(answerFor(q, '192.0.2.41'));
    asked = true;
    void (async () => {
      const sharing = h?.resolver.handle(request('same.example.test', { id: 55 }));
      setTimeout(() => send(answerFor(q, '192.0.2.40')), 20);
      joined = await sharing;
    })();
  });
  h = harness(t, [at(up)]);
  const reply = await h.resolver.handle(request('same.example.test', { id: 54 }));
  await new Promise((r) => setImmediate(r));
  t.same(addresses(reply as Buffer), ['192.0.2.40']);
  t.same(joined && addresses(joined), ['192.0.2.40'], 'the local program sharing the upstream address gets the same answer');
  t.equal(joined?.readUInt16BE(0), 55, 'with its own ID');
  t.equal(h.loops(), 0, 'not a loop');
  t.equal(up.seen, 1, 'one upstream exchange for both');
});

t.test('from a loopback address, a real loop ends when the forward times out', async (t) => {
  let h: Harness | undefined;
  let back: Promise<Buffer | null> | undefined;
  const up = await responder(t, () => {
    back ??= Promise.resolve(h?.resolver.handle(request('b.loop.corp', { id: 98 })) ?? null);
  });
  h = harness(t, [at(up)]);
  const reply = await h.resolver.handle(request('b.loop.corp'));
  t.equal(rcodeOf(reply as Buffer), 2, 'the client: SERVFAIL after the timeout');
  const looped = await back;
  t.equal(looped && rcodeOf(looped), 2, 'the query that came back: SERVFAIL');
  t.equal(h.loops(), 1, 'counted once the forward failed');
});
