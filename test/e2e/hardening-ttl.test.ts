import t from 'tap';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery } from '../helpers/wire';
import { answerFor, encodeName, questionOf, startResponder, udpAsk, type Responder } from '../helpers/hardening';

/**
 * What an upstream sends is capped and checked before the first relay, not only
 * when it is cached. TTL 2^31 is 0 (RFC 2181 §8), 2^31−1 is cache.max_ttl on the first answer as
 * on later ones, and a compression loop inside CNAME RDATA is SERVFAIL, never relayed or cached.
 * No managed names here: the checks do not depend on the table.
 */
let daemon: RunningDaemon;
let upstream: Responder;
const MAX_TTL_S = 3600;

t.before(async () => {
  upstream = await startResponder((m, send) => {
    const { name, question } = questionOf(m);
    if (name === 'big.example.com') send(answerFor(m, '192.0.2.1', { ttl: 0x80000000 }));
    else if (name === 'max.example.com') send(answerFor(m, '192.0.2.2', { ttl: 0x7fffffff }));
    else if (name === 'loop.example.com') {
      const header = Buffer.from(m.subarray(0, 12));
      header.writeUInt16BE(0x8180, 2);
      header.writeUInt16BE(1, 6);
      header.writeUInt16BE(0, 10);
      const base = Buffer.concat([header, question, encodeName(name), Buffer.from([0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0, 0])]);
      base.writeUInt16BE(0xc000 | (base.length - 2), base.length - 2); // RDATA: a pointer to itself
      send(base);
    }
  });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
cache: { max_ttl: ${MAX_TTL_S}s }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

/** The TTL of the first answer record (queries without EDNS: no OPT in the way). */
function firstTtl(reply: Buffer): number {
  let off = questionOf(reply).question.length + 12;
  off += reply[off] >= 0xc0 ? 2 : encodeName(questionOf(reply).name).length;
  return reply.readUInt32BE(off + 4);
}

t.test('TTLs are capped on the first relay as in the cache', async (t) => {
  const big = await udpAsk(daemon.dnsPort, encodeQuery('big.example.com', { id: 1, edns: false }));
  t.ok(big, 'answered');
  t.equal(firstTtl(big as Buffer), 0, 'TTL 2^31 relayed as 0 (RFC 2181 §8)');
  for (const round of ['first (forwarded)', 'second (cached)']) {
    const max = await udpAsk(daemon.dnsPort, encodeQuery('max.example.com', { id: 2, edns: false }));
    t.ok(max, 'answered');
    t.ok(firstTtl(max as Buffer) <= MAX_TTL_S, `${round}: TTL 2^31-1 relayed as at most max_ttl (${firstTtl(max as Buffer)})`);
  }
});

t.test('a compression loop in CNAME RDATA is SERVFAIL, every time', async (t) => {
  for (const round of [1, 2]) {
    const r = await udpAsk(daemon.dnsPort, encodeQuery('loop.example.com', { id: 3, edns: false }));
    t.ok(r, 'answered');
    t.equal((r as Buffer)[3] & 0x0f, 2, `round ${round}: SERVFAIL`);
    t.equal((r as Buffer).readUInt16BE(6), 0, `round ${round}: nothing relayed`);
  }
});
