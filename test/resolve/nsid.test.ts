import t, { type Test } from 'tap';
import { Resolver, type AnswerSource } from '../../src/resolve/resolver';
import { AnswerTable } from '../../src/resolve/table';
import { AnswerCache } from '../../src/resolve/cache';
import { UpstreamForwarder } from '../../src/upstream/upstream-forwarder';
import { parseQuery } from '../../src/wire/query';
import { RRType } from '../../src/wire/constants';
import { parseMessage, type DnsMessage } from '../../src/fleet/codec/message';
import { createLogger } from '../../src/runtime/log';
import type { DnsRequest } from '../../src/server/request';
import { answerFor, startResponder } from '../helpers/responder';
import { encodeQuery } from '../helpers/wire';
import { queryClock } from '../../src/server/query-clock';

/**
 * Issue 23 item 8: EDNS NSID (RFC 5001) on every resolver path (managed, apex, cached, forwarded),
 * only for queries that carry the option, and answers to other queries byte for byte as without
 * an identity configured.
 */

const NSID = Buffer.from('edge-7.cn-hangzhou');
const TABLE = AnswerTable.build([{ id: 'ep-1', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', '*.oss.example'], ipv4: ['192.168.1.10'], ipv6: [] }]);

async function harness(t: Test, nsid: Buffer | undefined) {
  const up = await startResponder((q, send) => send(answerFor(q, '6.6.6.6')));
  t.teardown(() => up.close());
  const logger = createLogger('silent');
  const forwarder = new UpstreamForwarder({ servers: [{ host: '127.0.0.1', port: up.port, family: 4 }], timeoutMs: 1000, policy: 'sequential', maxFails: 1000, healthCheckIntervalMs: 60_000 }, { exchange: () => {}, health: () => {} }, logger);
  t.teardown(() => forwarder.close());
  const sources: AnswerSource[] = [];
  const resolver = new Resolver(TABLE, {
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [], nameservers: ['ns1.example.net'] },
    forwarder,
    cache: new AnswerCache({ size: 100, maxTtlS: 3600, serveStaleMs: 60_000 }),
    logger,
    logQueries: false,
    observer: { answered: (_p, _t, source) => sources.push(source), loop: () => {}, staleAnswer: () => {}, cnameRewrite: () => {} },
    ...(nsid ? { nsid: nsid.toString('latin1') } : {}),
  });
  return { resolver, sources };
}

/** A query with EDNS and, when `asks`, an (empty) NSID option after an unknown one. */
function query(name: string, type: number, asks: boolean, edns = true): Buffer {
  const q = encodeQuery(name, { type, id: 0x1234, edns: edns ? {} : false });
  if (!asks) return q;
  const options = Buffer.from([0, 100, 0, 1, 0x55, 0, 3, 0, 0]);
  const out = Buffer.concat([q, options]);
  out.writeUInt16BE(options.length, q.length - 2);
  return out;
}

function req(msg: Buffer): DnsRequest {
  const parsed = parseQuery(msg);
  if (parsed.kind !== 'query') throw new Error('not a query');
  return { query: parsed, client: { address: '127.0.0.1', port: 5300 }, protocol: 'udp', receivedAt: queryClock.micros };
}

function nsidOf(m: DnsMessage): Buffer | undefined | 'no opt' {
  const opt = m.additionals.find((r) => r.type === RRType.OPT);
  if (!opt) return 'no opt';
  for (let i = 0; i + 4 <= opt.rdata.length; i += 4 + opt.rdata.readUInt16BE(i + 2)) {
    if (opt.rdata.readUInt16BE(i) === 3) return opt.rdata.subarray(i + 4, i + 4 + opt.rdata.readUInt16BE(i + 2));
  }
  return undefined;
}

t.test('parseQuery notes an NSID option among others, and only then', async (t) => {
  const asks = parseQuery(query('example.com', RRType.A, true));
  const not = parseQuery(query('example.com', RRType.A, false));
  t.equal(asks.kind === 'query' && asks.edns?.nsid, true);
  t.equal(not.kind === 'query' && not.edns?.nsid, false);
});

t.test('managed, apex, forwarded and cached answers carry the identity when asked', async (t) => {
  const { resolver, sources } = await harness(t, NSID);
  const cases: [string, number][] = [
    ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', RRType.A],
    ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', RRType.TXT],
    ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', RRType.SOA],
    ['oss.example', RRType.NS],
    ['www.example.com', RRType.A],
    ['www.example.com', RRType.A],
  ];
  for (const [name, type] of cases) {
    const reply = parseMessage(await resolver.handle(req(query(name, type, true))));
    t.same(nsidOf(reply), NSID, `${name} ${type}: NSID`);
    t.equal(reply.id, 0x1234);
  }
  t.same(sources, ['local', 'local', 'local', 'local', 'forward', 'cache'], 'every path');
  const apex = parseMessage(await resolver.handle(req(query('oss.example', RRType.NS, true))));
  t.equal(apex.answers.length, 1, 'the answer itself is intact');
  t.equal(apex.answers[0]?.type, RRType.NS);
});

t.test('queries without the option, or without EDNS, get the same bytes as with no identity configured', async (t) => {
  const withId = (await harness(t, NSID)).resolver;
  const without = (await harness(t, undefined)).resolver;
  for (const [name, type] of [['cs-anony-vpc.cn-hangzhou.aliyuncs.com', RRType.AAAA], ['oss.example', RRType.SOA]] as const) {
    for (const edns of [true, false]) {
      const a = await withId.handle(req(query(name, type, false, edns)));
      const b = await without.handle(req(query(name, type, false, edns)));
      t.same(a, b, `${name} ${type} edns=${edns}`);
      t.equal(nsidOf(parseMessage(a)), edns ? undefined : 'no opt');
    }
  }
  const asked = parseMessage(await without.handle(req(query('cs-anony-vpc.cn-hangzhou.aliyuncs.com', RRType.A, true))));
  t.equal(nsidOf(asked), undefined, 'no identity configured: the option is not answered');
});
