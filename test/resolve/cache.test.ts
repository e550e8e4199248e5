import t from 'tap';
import fc from 'fast-check';
import { Packet } from 'dns2';
import { AnswerCache, STALE_TTL_S, cacheKey } from '../../src/resolve/cache';
import type { CacheConfig } from '../../src/config/schema';
import { ScratchBuffer } from '../../src/wire/scratch-buffer';
import { encodeResponse, type ResponseRecord, type ResponseSpec } from '../helpers/wire';

const A = Packet.TYPE.A;
const AAAA = Packet.TYPE.AAAA;
const CNAME = Packet.TYPE.CNAME;
const SOA = Packet.TYPE.SOA;
const NS = Packet.TYPE.NS;
const IN = Packet.CLASS.IN;

type RR = ResponseRecord;

/** An upstream response encoded by dns2 (a second, independent codec); `opt: true` = 4096 + DO. */
function build(b: Omit<ResponseSpec, 'opt'> & { opt?: boolean }): Buffer {
  return encodeResponse({ id: 0x4242, ...b, opt: b.opt === true ? { udpPayloadSize: 4096, doFlag: true } : false });
}

const aRecord = (name: string, ttl: number, address = '192.0.2.1'): RR => ({ name, type: A, ttl, address });
const soa = (zone: string, ttl: number, minimum: number): RR => ({
  name: zone, type: SOA, ttl, primary: `ns1.${zone}`, admin: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 900, expiration: 1209600, minimum,
});

function config(over: Partial<CacheConfig> = {}): CacheConfig {
  return { size: 100, maxTtlS: 3600, serveStaleMs: 60_000, ...over };
}

const keyA = (name: string): string => cacheKey(name, A, IN, false, false);

function decode(buf: Buffer | undefined): Packet {
  if (buf === undefined) throw new Error('expected a cached answer');
  const p = Packet.parse(buf);
  const h = p.header as unknown as { ancount: number; nscount: number; arcount: number };
  const got = [p.answers.length, p.authorities.length, p.additionals.length];
  if (got.join() !== [h.ancount, h.nscount, h.arcount].join()) throw new Error(`dns2 decoded ${got.join('/')} records of ${h.ancount}/${h.nscount}/${h.arcount} in the cached bytes`);
  return p;
}

const T0 = 1_000_000;

t.test('cacheKey separates name, type, class, DO and CD', async t => {
  const keys = new Set([
    cacheKey('example.com', A, IN, false, false),
    cacheKey('example.com', AAAA, IN, false, false),
    cacheKey('example.com', A, 3, false, false),
    cacheKey('example.com', A, IN, true, false),
    cacheKey('example.com', A, IN, false, true),
    cacheKey('example.com', A, IN, true, true),
    cacheKey('www.example.com', A, IN, false, false),
  ]);
  t.equal(keys.size, 7);
  t.equal(cacheKey('example.com', A, IN, true, false), cacheKey('example.com', A, IN, true, false), 'deterministic');
});

t.test('positive answer: OPT removed, ID patched, TTLs count down', async t => {
  const cache = new AnswerCache(config());
  const upstream = build({
    qname: 'www.example.com', opt: true,
    answers: [aRecord('www.example.com', 300, '192.0.2.1'), aRecord('www.example.com', 200, '192.0.2.2')],
    authorities: [{ name: 'example.com', type: NS, ttl: 1000, ns: 'ns.example.com' }],
    additionals: [aRecord('ns.example.com', 900, '192.0.2.53')],
  });
  t.equal(Packet.parse(upstream).additionals.length, 2, 'upstream has glue + OPT');
  t.equal(cache.set(keyA('www.example.com'), upstream, T0), 'stored');
  t.equal(cache.size, 1);

  const same = decode(cache.get(keyA('www.example.com'), T0 + 999, 0x0102));
  t.same(same.answers.map(r => r.ttl), [300, 200], 'under a second: TTLs unchanged');

  const later = cache.get(keyA('www.example.com'), T0 + 10_500, 0xbeef);
  const p = decode(later);
  t.equal(p.header.id, 0xbeef, 'ID patched');
  t.equal(p.header.qr, 1);
  t.equal(p.header.rcode, 0);
  t.same(p.questions.map(q => q.name), ['www.example.com']);
  t.same(p.answers.map(r => [r.address, r.ttl]), [['192.0.2.1', 290], ['192.0.2.2', 190]], '10.5 s elapsed: every answer TTL minus 10');
  t.same(p.authorities.map(r => r.ttl), [990], 'authority TTL decremented too');
  t.same(p.additionals.map(r => [r.type, r.ttl]), [[A, 890]], 'only the glue remains: no OPT');
  t.equal(p.header.arcount, 1, 'ARCOUNT adjusted');
  t.equal(later?.length, upstream.length - 11, 'exactly the 11-byte OPT removed');
  t.equal(cache.hits, 2);
  t.equal(cache.misses, 0);
});

t.test('a cached copy is independent of the entry', async t => {
  const cache = new AnswerCache(config());
  cache.set(keyA('a.example'), build({ qname: 'a.example', answers: [aRecord('a.example', 60)] }), T0);
  const first = cache.get(keyA('a.example'), T0, 1);
  first?.fill(0);
  t.same(decode(cache.get(keyA('a.example'), T0, 2)).answers.map(r => r.ttl), [60]);
});

t.test('a copy into a scratch: the same bytes as a fresh copy, in the scratch, TTLs counted down', async t => {
  const cache = new AnswerCache(config());
  const scratch = new ScratchBuffer();
  cache.set(keyA('a.example'), build({ qname: 'a.example', answers: [aRecord('a.example', 60)] }), T0);
  const fresh = cache.get(keyA('a.example'), T0 + 5_000, 7, 11);
  const into = cache.get(keyA('a.example'), T0 + 5_000, 7, 11, scratch);
  t.ok(fresh && into);
  t.equal(into?.length, fresh?.length, 'room for the OPT after the message, as asked');
  t.same(into?.subarray(0, (into?.length ?? 0) - 11), fresh?.subarray(0, (fresh?.length ?? 0) - 11));
  t.equal(into, scratch.view(into?.length ?? 0), 'a view of the scratch');
  t.same(decode(into?.subarray(0, (into?.length ?? 0) - 11)).answers.map(r => r.ttl), [55]);
});

t.test('expiry: the smallest answer TTL, boundary at exactly TTL seconds', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 0 }));
  cache.set(keyA('x.example'), build({ qname: 'x.example', answers: [aRecord('x.example', 300), aRecord('x.example', 200, '192.0.2.2')] }), T0);
  t.same(decode(cache.get(keyA('x.example'), T0 + 199_999, 1)).answers.map(r => r.ttl), [101, 1], 'just inside: TTL 1 left');
  t.equal(cache.get(keyA('x.example'), T0 + 200_000, 1), undefined, 'expired at 200 s');
  t.equal(cache.size, 0, 'without serve-stale an expired entry is evicted when seen');
  t.equal(cache.misses, 1);
});

t.test('CNAME chain: TTL from the shortest link', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 0 }));
  const key = keyA('alias.example.com');
  cache.set(key, build({
    qname: 'alias.example.com', opt: true,
    answers: [
      { name: 'alias.example.com', type: CNAME, ttl: 600, domain: 'target.example.net' },
      aRecord('target.example.net', 40),
    ],
  }), T0);
  const p = decode(cache.get(key, T0 + 39_000, 7));
  t.same(p.answers.map(r => [r.type, r.ttl]), [[CNAME, 561], [A, 1]]);
  t.equal(p.answers[0].domain, 'target.example.net', 'compressed rdata survives the OPT removal');
  t.equal(cache.get(key, T0 + 40_000, 7), undefined);
});

t.test('maxTtl caps the entry lifetime and every served TTL', async t => {
  const cache = new AnswerCache(config({ maxTtlS: 60, serveStaleMs: 0 }));
  const key = keyA('long.example');
  cache.set(key, build({ qname: 'long.example', answers: [aRecord('long.example', 86_400)], authorities: [{ name: 'example', type: NS, ttl: 172_800, ns: 'ns.example' }] }), T0);
  const p = decode(cache.get(key, T0, 1));
  t.same(p.answers.map(r => r.ttl), [60]);
  t.same(p.authorities.map(r => r.ttl), [60]);
  t.same(decode(cache.get(key, T0 + 59_999, 1)).answers.map(r => r.ttl), [1]);
  t.equal(cache.get(key, T0 + 60_000, 1), undefined);
});

t.test('NXDOMAIN: negative TTL from the SOA (RFC 2308), capped by maxTtl', async t => {
  const cache = new AnswerCache(config({ maxTtlS: 86_400, serveStaleMs: 0 }));
  const key = keyA('nope.example.com');
  t.equal(cache.set(key, build({ qname: 'nope.example.com', rcode: 3, opt: true, authorities: [soa('example.com', 3600, 120)] }), T0), 'stored');
  const p = decode(cache.get(key, T0 + 119_999, 9));
  t.equal(p.header.rcode, 3);
  t.same(p.authorities.map(r => [r.type, r.ttl, r.minimum]), [[SOA, 3600 - 119, 120]]);
  t.equal(p.additionals.length, 0, 'OPT removed');
  t.equal(p.header.arcount, 0);
  t.equal(cache.get(key, T0 + 120_000, 9), undefined, 'gone after SOA MINIMUM seconds');

  const capped = new AnswerCache(config({ maxTtlS: 30, serveStaleMs: 0 }));
  capped.set(key, build({ qname: 'nope.example.com', rcode: 3, authorities: [soa('example.com', 3600, 900)] }), T0);
  t.ok(capped.get(key, T0 + 29_999, 1));
  t.equal(capped.get(key, T0 + 30_000, 1), undefined, 'maxTtl caps a negative entry');
});

t.test('NODATA: negative TTL from min(SOA TTL, MINIMUM)', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 0 }));
  const key = cacheKey('v4only.example.com', AAAA, IN, false, false);
  t.equal(cache.set(key, build({ qname: 'v4only.example.com', qtype: AAAA, authorities: [soa('example.com', 45, 300)] }), T0), 'stored');
  const p = decode(cache.get(key, T0 + 44_000, 1));
  t.equal(p.answers.length, 0);
  t.same(p.authorities.map(r => r.ttl), [1]);
  t.equal(cache.get(key, T0 + 45_000, 1), undefined, 'the SOA TTL was the smaller of the two');
});

t.test('not cached: negative without SOA, SERVFAIL, REFUSED, FORMERR, TC, TTL 0, wrong question, malformed', async t => {
  const cache = new AnswerCache(config());
  t.equal(cache.set(keyA('n.example'), build({ qname: 'n.example', rcode: 3 }), T0), 'no-ttl', 'NXDOMAIN without SOA');
  t.equal(cache.set(keyA('n.example'), build({ qname: 'n.example', authorities: [{ name: 'example', type: NS, ttl: 100, ns: 'ns.example' }] }), T0), 'no-ttl', 'NODATA without SOA');
  t.equal(cache.set(keyA('s.example'), build({ qname: 's.example', rcode: 2 }), T0), 'uncacheable-rcode', 'SERVFAIL');
  t.equal(cache.set(keyA('s.example'), build({ qname: 's.example', rcode: 2, authorities: [soa('example', 300, 300)] }), T0), 'uncacheable-rcode', 'SERVFAIL even with an SOA');
  t.equal(cache.set(keyA('r.example'), build({ qname: 'r.example', rcode: 5 }), T0), 'uncacheable-rcode', 'REFUSED');
  t.equal(cache.set(keyA('f.example'), build({ qname: 'f.example', rcode: 1 }), T0), 'uncacheable-rcode', 'FORMERR');
  t.equal(cache.set(keyA('t.example'), build({ qname: 't.example', tc: true, answers: [aRecord('t.example', 300)] }), T0), 'truncated', 'TC');
  t.equal(cache.set(keyA('z.example'), build({ qname: 'z.example', answers: [aRecord('z.example', 0), aRecord('z.example', 300, '192.0.2.2')] }), T0), 'no-ttl', 'a TTL of 0');
  t.equal(cache.set(keyA('other.example'), build({ qname: 'asked.example', answers: [aRecord('asked.example', 300)] }), T0), 'question-mismatch', 'answer for another name');
  t.equal(cache.set(cacheKey('q.example', AAAA, IN, false, false), build({ qname: 'q.example', answers: [aRecord('q.example', 300)] }), T0), 'question-mismatch', 'answer for another type');
  t.equal(cache.set(keyA('m.example'), Buffer.from([1, 2, 3]), T0), 'malformed');
  for (const name of ['n.example', 's.example', 'r.example', 'f.example', 't.example', 'z.example', 'other.example', 'q.example', 'm.example']) {
    t.equal(cache.get(keyA(name), T0, 1), undefined, `${name} not served`);
  }
  t.equal(cache.size, 0);
  t.equal(cache.misses, 9);
});

t.test('question case and the DO/CD key bits', async t => {
  const cache = new AnswerCache(config());
  t.equal(cache.set(keyA('mixed.example'), build({ qname: 'MiXeD.Example', answers: [aRecord('MiXeD.Example', 60)] }), T0), 'stored', '0x20 case from upstream is fine');
  const doKey = cacheKey('mixed.example', A, IN, true, false);
  t.equal(cache.get(doKey, T0, 1), undefined, 'a DO=1 query does not get the DO=0 answer');
  t.equal(cache.set(doKey, build({ qname: 'mixed.example', answers: [aRecord('mixed.example', 60, '192.0.2.77')] }), T0), 'stored');
  t.equal(decode(cache.get(doKey, T0, 1)).answers[0].address, '192.0.2.77');
  t.equal(decode(cache.get(keyA('mixed.example'), T0, 1)).answers[0].address, '192.0.2.1');
});

t.test('set replaces an existing entry', async t => {
  const cache = new AnswerCache(config());
  const key = keyA('r.example');
  cache.set(key, build({ qname: 'r.example', answers: [aRecord('r.example', 60, '192.0.2.1')] }), T0);
  cache.set(key, build({ qname: 'r.example', answers: [aRecord('r.example', 600, '192.0.2.2')] }), T0 + 50_000);
  t.equal(cache.size, 1);
  const p = decode(cache.get(key, T0 + 70_000, 1));
  t.same(p.answers.map(r => [r.address, r.ttl]), [['192.0.2.2', 580]]);
});

t.test('LRU: the least recently used entry is evicted first', async t => {
  const cache = new AnswerCache(config({ size: 3 }));
  const put = (name: string): void => void cache.set(keyA(name), build({ qname: name, answers: [aRecord(name, 300)] }), T0);
  put('a.example');
  put('b.example');
  put('c.example');
  t.ok(cache.get(keyA('a.example'), T0, 1), 'touch a: b is now the oldest');
  put('d.example');
  t.equal(cache.size, 3);
  t.equal(cache.get(keyA('b.example'), T0, 1), undefined, 'b evicted');
  t.ok(cache.get(keyA('a.example'), T0, 1));
  t.ok(cache.get(keyA('c.example'), T0, 1));
  t.ok(cache.get(keyA('d.example'), T0, 1));
  // Order is now a, c, d (b gone) → after touching a, c, d in that order, the next insert evicts a.
  put('e.example');
  t.equal(cache.get(keyA('a.example'), T0, 1), undefined, 'a evicted next');
  t.equal(cache.evictions, 2);
});

t.test('a hot key stays cheap in a full cache (no Map delete+set per hit)', async t => {
  const cache = new AnswerCache(config({ size: 10_000 }));
  for (let i = 0; i < 10_000; i++) cache.set(keyA(`n${i}.example`), build({ qname: `n${i}.example`, answers: [aRecord(`n${i}.example`, 300)] }), T0);
  const key = keyA('n5.example');
  const started = process.hrtime.bigint();
  for (let i = 0; i < 200_000; i++) cache.get(key, T0, i & 0xffff);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // About 100 ms here; Map delete + set per hit took over 30 µs each, i.e. seconds.
  t.ok(ms < 3000, `200k hits on one key took ${ms.toFixed(0)} ms`);
  t.equal(cache.size, 10_000);
});

t.test('byte budget evicts too', async t => {
  const one = build({ qname: 'a.example', answers: [aRecord('a.example', 300)] });
  const cache = new AnswerCache(config({ size: 100 }), { maxBytes: one.length * 2 });
  cache.set(keyA('a.example'), one, T0);
  cache.set(keyA('b.example'), build({ qname: 'b.example', answers: [aRecord('b.example', 300)] }), T0);
  cache.set(keyA('c.example'), build({ qname: 'c.example', answers: [aRecord('c.example', 300)] }), T0);
  t.equal(cache.size, 2);
  t.ok(cache.bytes <= one.length * 2);
  t.equal(cache.get(keyA('a.example'), T0, 1), undefined);
  const big = build({ qname: 'big.example', answers: Array.from({ length: 20 }, (_, i) => aRecord('big.example', 300, `192.0.2.${i + 1}`)) });
  t.equal(cache.set(keyA('big.example'), big, T0), 'too-large', 'a single message over the budget is not stored');
  t.equal(cache.size, 2, 'and evicts nothing');
});

t.test('serve-stale window (RFC 8767)', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 10_000 }));
  const key = keyA('s.example');
  cache.set(key, build({ qname: 's.example', opt: true, answers: [aRecord('s.example', 60), aRecord('s.example', 600, '192.0.2.2')], authorities: [{ name: 'example', type: NS, ttl: 5, ns: 'ns.example' }] }), T0);

  t.same(decode(cache.getStale(key, T0 + 30_000, 1)).answers.map(r => r.ttl), [30, 570], 'still fresh: served as by get');
  t.equal(cache.get(key, T0 + 60_000, 1), undefined, 'get misses once expired');
  t.equal(cache.size, 1, 'but keeps the entry inside the stale window');

  const atExpiry = decode(cache.getStale(key, T0 + 60_000, 0xabcd));
  t.equal(atExpiry.header.id, 0xabcd);
  t.same([...atExpiry.answers, ...atExpiry.authorities].map(r => r.ttl), [STALE_TTL_S, STALE_TTL_S, STALE_TTL_S], 'every TTL is 30');
  t.equal(atExpiry.additionals.length, 0);
  t.equal(STALE_TTL_S, 30);

  t.ok(cache.getStale(key, T0 + 69_999, 1), 'just inside the window');
  t.equal(cache.staleHits, 2);
  t.equal(cache.getStale(key, T0 + 70_000, 1), undefined, 'just outside the window');
  t.equal(cache.size, 0, 'evicted once past the window');
});

t.test('get past the stale window evicts; serveStale 0 serves nothing stale', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 10_000 }));
  const key = keyA('g.example');
  cache.set(key, build({ qname: 'g.example', answers: [aRecord('g.example', 60)] }), T0);
  t.equal(cache.get(key, T0 + 69_999, 1), undefined);
  t.equal(cache.size, 1);
  t.equal(cache.get(key, T0 + 70_000, 1), undefined);
  t.equal(cache.size, 0);

  const noStale = new AnswerCache(config({ serveStaleMs: 0 }));
  noStale.set(key, build({ qname: 'g.example', answers: [aRecord('g.example', 60)] }), T0);
  t.equal(noStale.getStale(key, T0 + 60_000, 1), undefined);
  t.equal(noStale.size, 0);
});

t.test('stale negative answers are served too', async t => {
  const cache = new AnswerCache(config({ serveStaleMs: 5_000 }));
  const key = keyA('gone.example.com');
  cache.set(key, build({ qname: 'gone.example.com', rcode: 3, authorities: [soa('example.com', 300, 10)] }), T0);
  const p = decode(cache.getStale(key, T0 + 12_000, 1));
  t.equal(p.header.rcode, 3);
  t.same(p.authorities.map(r => r.ttl), [30]);
});

t.test('size 0 disables; clear empties', async t => {
  const off = new AnswerCache(config({ size: 0 }));
  t.equal(off.set(keyA('a.example'), build({ qname: 'a.example', answers: [aRecord('a.example', 60)] }), T0), 'disabled');
  t.equal(off.get(keyA('a.example'), T0, 1), undefined);
  t.equal(off.size, 0);

  const cache = new AnswerCache(config());
  cache.set(keyA('a.example'), build({ qname: 'a.example', answers: [aRecord('a.example', 60)] }), T0);
  cache.clear();
  t.equal(cache.size, 0);
  t.equal(cache.bytes, 0);
  t.equal(cache.get(keyA('a.example'), T0, 1), undefined);

  const small = new AnswerCache(config({ size: 2 }));
  const put = (name: string): string => small.set(keyA(name), build({ qname: name, answers: [aRecord(name, 60)] }), T0);
  put('old.example');
  small.clear();
  put('b.example');
  put('c.example');
  put('d.example');
  t.equal(small.size, 2, 'LRU bookkeeping starts afresh after clear');
  t.equal(small.evictions, 1, 'only b was evicted (nothing left over from before clear)');
  t.equal(small.bytes, 2 * build({ qname: 'c.example', answers: [aRecord('c.example', 60)] }).length, 'byte count matches c + d');
  t.equal(small.get(keyA('b.example'), T0, 1), undefined, 'b evicted');
  t.ok(small.get(keyA('c.example'), T0, 1));
  t.ok(small.get(keyA('d.example'), T0, 1));
});

t.test('TTL arithmetic holds for any TTLs and elapsed time (property)', async t => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 5 }),
    fc.integer({ min: 1, max: 100_000 }),
    fc.integer({ min: 0, max: 300_000_000 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.boolean(),
    (ttls, maxTtlS, elapsedMs, id, opt) => {
      const cache = new AnswerCache(config({ maxTtlS, serveStaleMs: 0 }));
      const key = keyA('p.example');
      const msg = build({ qname: 'p.example', opt, answers: ttls.map((ttl, i) => aRecord('p.example', ttl, `192.0.2.${i + 1}`)) });
      if (cache.set(key, msg, T0) !== 'stored') throw new Error('not stored');
      const life = Math.min(...ttls, maxTtlS) * 1000;
      const out = cache.get(key, T0 + elapsedMs, id);
      if (elapsedMs >= life) {
        if (out !== undefined) throw new Error('served after expiry');
        return;
      }
      const p = decode(out);
      const elapsedS = Math.floor(elapsedMs / 1000);
      const want = ttls.map(ttl => Math.max(0, Math.min(ttl, maxTtlS) - elapsedS));
      if (JSON.stringify(p.answers.map(r => r.ttl)) !== JSON.stringify(want)) throw new Error(`ttls ${p.answers.map(r => r.ttl)} want ${want}`);
      if (p.header.id !== id || p.additionals.length !== 0 || p.header.arcount !== 0) throw new Error('header wrong');
    },
  ), { numRuns: 500 });
  t.pass('500 runs');
});

t.test('set/get/getStale never throw on arbitrary bytes (property)', async t => {
  const cache = new AnswerCache(config({ size: 8 }));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withHeader) => {
    const body = Buffer.from(bytes);
    // Half the inputs get a response header + question for "a" with small counts, so the
    // record loops and the OPT removal are reached.
    const counts = [(body[0] ?? 0) & 3, (body[1] ?? 0) & 3, (body[2] ?? 0) & 3];
    const buf = withHeader ? Buffer.concat([Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, counts[0], 0, counts[1], 0, counts[2], 1, 0x61, 0, 0, 1, 0, 1]), body]) : body;
    const key = keyA('a');
    cache.clear();
    const result = cache.set(key, buf, T0);
    const out = cache.get(key, T0, 7);
    if ((result === 'stored') !== (out !== undefined)) throw new Error(`set said ${result} but get returned ${out === undefined ? 'nothing' : 'bytes'}`);
    if (out !== undefined && (out.length > buf.length || out[0] !== 0 || out[1] !== 7 || Packet.parse(out).header.qdcount !== 1)) throw new Error('bad copy');
    cache.getStale(key, T0 + 2_000_000_000, 7);
  }), { numRuns: 3000 });
  t.pass('no exception');
});

t.test('reconfigure: a smaller size drops the least recently used entries; a size of 0 stores nothing more', async (t) => {
  const cache = new AnswerCache(config({ size: 10 }));
  for (const n of ['a', 'b', 'c', 'd']) cache.set(keyA(`${n}.example`), build({ qname: `${n}.example`, answers: [aRecord(`${n}.example`, 60)] }), T0);
  t.ok(cache.get(keyA('a.example'), T0, 1), 'a used: now the most recent');
  cache.reconfigure(config({ size: 2 }));
  t.equal(cache.size, 2);
  t.ok(cache.get(keyA('a.example'), T0, 1), 'the recently used a is kept');
  t.ok(cache.get(keyA('d.example'), T0, 1), 'the newest d is kept');
  t.equal(cache.get(keyA('b.example'), T0, 1), undefined, 'b was the oldest: gone');
  cache.reconfigure(config({ size: 0 }));
  t.equal(cache.size, 0);
  t.equal(cache.set(keyA('e.example'), build({ qname: 'e.example', answers: [aRecord('e.example', 60)] }), T0), 'disabled');
});

t.test('a flood of unique names reuses the slots of evicted entries: reserved memory stays bounded', async t => {
  const cache = new AnswerCache(config({ size: 200 }));
  let notStored = 0;
  const store = (i: number): void => {
    const name = `u${i}.flood.example`;
    if (cache.set(keyA(name), build({ qname: name, opt: true, answers: [aRecord(name, 300, `192.0.2.${i % 250}`)] }), T0) !== 'stored') notStored++;
  };
  for (let i = 0; i < 200; i++) store(i);
  const full = cache.reservedBytes;
  for (let i = 200; i < 20_000; i++) store(i);
  t.equal(notStored, 0, 'every answer stored');
  t.equal(cache.size, 200);
  t.equal(cache.reservedBytes, full, `20,000 names through a 200-entry cache: still ${full} bytes of slots`);
  const last = 'u19999.flood.example';
  t.same(decode(cache.get(keyA(last), T0, 1)).answers.map((a) => (a as { address: string }).address), ['192.0.2.249'], 'the newest answer reads back intact');
  t.equal(cache.get(keyA('u0.flood.example'), T0, 1), undefined, 'the oldest was evicted');
  cache.clear();
  t.equal(cache.reservedBytes, 0, 'clear() gives the slots back');
});

t.test('an answer too large for a slot is stored in memory of its own and read back whole', async t => {
  const cache = new AnswerCache(config());
  const name = 'big.example.com';
  const answers = Array.from({ length: 400 }, (_, i) => aRecord(name, 300, `198.51.${i >> 8}.${i & 255}`));
  const upstream = build({ qname: name, opt: true, answers });
  t.ok(upstream.length > 4096, `${upstream.length} bytes, more than the largest slot`);
  t.equal(cache.set(keyA(name), upstream, T0), 'stored');
  const back = decode(cache.get(keyA(name), T0 + 2500, 9));
  t.equal(back.answers.length, 400);
  t.ok(back.answers.every((a) => a.ttl === 298), 'every TTL counted down by the 2 s elapsed');
  t.equal(cache.reservedBytes, 0, 'no slot taken');
});
