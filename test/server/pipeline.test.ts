import t from 'tap';
import { QueryPipeline, type PipelineOutput } from '../../src/server/pipeline';
import type { Admission, DnsHandler, PipelineCounters, Protocol, ZoneService } from '../../src/server/request';
import { createLogger } from '../../src/runtime/log';
import { decode, encodeQuery } from '../helpers/wire';

// The one path from bytes to answer, driven without sockets: what each verdict sends, on both transports.

interface Sent {
  now: Buffer[];
  later: (Buffer | null)[];
  streams: Buffer[][];
  counted: string[];
}

function harness(
  handler: DnsHandler, admission: Admission = 'pass', zone?: ZoneService, mayRefuse?: () => boolean,
): { serve: (msg: Buffer, protocol?: Protocol) => Sent; pipeline: QueryPipeline } {
  const counted: string[] = [];
  const counters: PipelineCounters = { dropped: (r) => counted.push(`drop:${r}`), rejected: (r, p) => counted.push(`reject:${r}:${p}`), tcpConnections() {}, udpBatch() {} };
  const pipeline = new QueryPipeline({ handler, admit: () => admission, zone, ...(mayRefuse ? { mayRefuse } : {}) }, counters, createLogger('silent'));
  return {
    pipeline,
    serve(msg, protocol = 'udp') {
      const sent: Sent = { now: [], later: [], streams: [], counted };
      const out: PipelineOutput = {
        send: (b) => sent.now.push(b),
        hold: () => (b) => sent.later.push(b),
        stream: (m) => sent.streams.push([...m]),
      };
      pipeline.serve(msg, { address: '10.0.0.1', port: 1000 }, protocol, out);
      return sent;
    },
  };
}

const answer = (q: Buffer): Buffer => {
  const r = Buffer.from(q);
  r[2] |= 0x80;
  return r;
};

t.test('a valid query goes to the handler; a sync answer is sent at once', async (t) => {
  const h = harness((req) => answer(req.query.raw));
  const sent = h.serve(encodeQuery('example.com'));
  t.equal(sent.now.length, 1);
  t.equal(decode(sent.now[0]).questions?.[0]?.name, 'example.com');
});

t.test('an async answer is delivered through hold(); a failing handler costs a SERVFAIL', async (t) => {
  const h = harness((req) => Promise.resolve(answer(req.query.raw)));
  const sent = h.serve(encodeQuery('example.com'));
  await new Promise((r) => setImmediate(r));
  t.equal(sent.now.length, 0);
  t.equal(sent.later.length, 1);
  const failing = harness(() => Promise.reject(new Error('boom')));
  const f = failing.serve(encodeQuery('example.com'));
  await new Promise((r) => setImmediate(r));
  t.equal((f.later[0] as Buffer)[3] & 0x0f, 2, 'SERVFAIL');
  t.ok(f.counted.includes('drop:handler_error'));
  const throwing = harness(() => {
    throw new Error('sync boom');
  });
  t.equal(throwing.serve(encodeQuery('example.com')).now[0][3] & 0x0f, 2, 'a throwing handler: SERVFAIL too');
});

t.test('admission: refuse answers REFUSED, drop sends nothing, slip sends TC over UDP', async (t) => {
  let called = 0;
  const handler: DnsHandler = (req) => {
    called++;
    return answer(req.query.raw);
  };
  const refused = harness(handler, 'refuse').serve(encodeQuery('example.com'));
  t.equal(refused.now[0][3] & 0x0f, 5);
  t.ok(refused.counted.includes('reject:refused:udp'));
  const dropped = harness(handler, 'drop').serve(encodeQuery('example.com'));
  t.same(dropped.now, []);
  t.ok(dropped.counted.includes('drop:rate_limit'));
  const slipped = harness(handler, 'slip').serve(encodeQuery('example.com'));
  t.equal(slipped.now[0][2] & 0x02, 0x02, 'TC set');
  t.equal(called, 0, 'the handler never ran for a client that was not admitted');
});

t.test('malformed: unreadable header dropped, readable header answered FORMERR; answers over UDP fit the client', async (t) => {
  const h = harness((req) => {
    const big = Buffer.alloc(3000);
    answer(req.query.raw).copy(big);
    return big;
  });
  const short = h.serve(Buffer.from([1, 2, 3]));
  t.same(short.now, []);
  t.ok(short.counted.includes('drop:short'));
  const bad = encodeQuery('example.com');
  bad.writeUInt16BE(2, 4); // two questions
  t.equal(h.serve(bad).now[0][3] & 0x0f, 1, 'FORMERR');
  const udp = h.serve(encodeQuery('example.com'));
  t.equal(udp.now[0][2] & 0x02, 0x02, 'over 512 bytes without EDNS: truncated');
  t.equal(h.serve(encodeQuery('example.com'), 'tcp').now[0].length, 3000, 'TCP: not truncated');
});

t.test('the zone service takes claimed queries and guard-rejected messages, and streams over TCP only', async (t) => {
  const seen: string[] = [];
  const zone: ZoneService = {
    claims: (q) => q.qname.endsWith('privatelink.rpz'),
    handle: (msg, _client, protocol) => {
      seen.push(`${protocol}:${msg.readUInt16BE(2) >> 11}`);
      return protocol === 'tcp' ? [Buffer.from('one'), Buffer.from('two')] : Buffer.from('soa');
    },
  };
  let handled = 0;
  const h = harness(() => {
    handled++;
    return null;
  }, 'refuse', zone);
  const tcp = h.serve(encodeQuery('privatelink.rpz'), 'tcp');
  t.same(tcp.streams.map((s) => s.map(String)), [['one', 'two']], 'streamed in order');
  const udp = h.serve(encodeQuery('x.privatelink.rpz'), 'udp');
  t.same(udp.now.map(String), ['soa'], 'the zone service applies its own access: access.allow does not refuse it');
  const notify = encodeQuery('privatelink.rpz');
  notify[2] = (notify[2] & 0x87) | (4 << 3); // opcode NOTIFY: rejected by the query guard, taken by the zone service
  h.serve(notify, 'udp');
  t.same(seen, ['tcp:0', 'udp:0', 'udp:4']);
  t.equal(handled, 0);
  const other = h.serve(encodeQuery('example.com'));
  t.equal(other.now[0][3] & 0x0f, 5, 'names outside the zone still go through admission');
});

t.test('zone traffic from outside access.allow: admission first, held to the REFUSED rate over UDP unless the zone service names the source', async (t) => {
  const notify = encodeQuery('privatelink.rpz');
  notify[2] = (notify[2] & 0x87) | (4 << 3);
  const soa = encodeQuery('privatelink.rpz', { type: 6 });
  let trusted = false;
  let handled = 0;
  const zone: ZoneService = {
    claims: (q) => q.qname.endsWith('privatelink.rpz'),
    handle: (msg) => {
      handled++;
      // A name the service turns down after all takes the normal path.
      return msg.readUInt16BE(2) >> 11 === 0 && msg.includes(Buffer.from('pass')) ? undefined : Buffer.from('zone answer');
    },
    trusts: () => trusted,
  };
  let budget = 3;
  let charged = 0;
  const mayRefuse = (): boolean => {
    charged++;
    return budget-- > 0;
  };
  const h = harness(() => null, 'refuse', zone, mayRefuse);
  const answered = [notify, soa, notify, soa, notify, soa].map((m) => h.serve(m, 'udp').now.length).reduce((a, b) => a + b, 0);
  t.equal(answered, 3, 'a NOTIFY/SOA flood gets the REFUSED budget of answers, no more');
  t.equal(handled, 3, 'over the budget the zone service is not even asked (no TSIG work, no log line)');
  t.equal(h.serve(notify, 'udp').counted.filter((c) => c === 'drop:refused_rate_limit').length, 4, 'each withheld answer is counted');
  const tcp = h.serve(soa, 'tcp');
  t.equal(tcp.now.length, 1, 'over TCP (not spoofable, admitted at accept) the zone service answers');
  trusted = true;
  const before = charged;
  t.equal(h.serve(notify, 'udp').now.length, 1, 'a source the zone service names (a primary, a transfer.allow network) is not limited');
  t.equal(charged, before, 'and does not spend the budget');
  trusted = false;
  budget = 1;
  charged = 0;
  const fallthrough = h.serve(encodeQuery('pass.privatelink.rpz'), 'udp');
  t.equal((fallthrough.now[0]?.[3] ?? -1) & 0x0f, 5, 'a message the zone service leaves gets the REFUSED of the normal path');
  t.equal(charged, 1, 'charged once, not twice');

  const dropped = harness(() => null, 'drop', zone).serve(notify, 'udp');
  t.same([dropped.now.length, dropped.counted.at(-1)], [0, 'drop:rate_limit'], 'the rate limit applies to zone traffic too');
});
