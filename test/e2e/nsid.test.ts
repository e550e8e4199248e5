import t from 'tap';
import { execFile } from 'node:child_process';
import { ListenerSet } from '../../src/server/listener-set';
import { QueryPipeline } from '../../src/server/pipeline';
import { Resolver } from '../../src/resolve/resolver';
import { AnswerTable } from '../../src/resolve/table';
import { AnswerCache } from '../../src/resolve/cache';
import { UpstreamForwarder } from '../../src/upstream/upstream-forwarder';
import { ZonePublisher } from '../../src/fleet/primary/zone-publisher';
import { ZoneServer } from '../../src/fleet/primary/zone-server';
import { TransferAcl } from '../../src/fleet/primary/transfer-acl';
import { tsigAuthenticator } from '../../src/fleet/primary/tsig-auth';
import { createLogger } from '../../src/runtime/log';
import { answerFor, startResponder, type Responder } from '../helpers/responder';
import { requireTool } from '../helpers/tools';

/**
 * Issue 23 item 8 with the real tools: `dig +nsid` and `kdig +nsid` show this instance's identity
 * on managed, apex, forwarded, cached and zone-service answers, over UDP and TCP, and nothing
 * without the option. The listeners, pipeline, resolver and zone service are the daemon's own,
 * wired in process with `nsid` set as daemon/app.ts passes config.nsid (`nsid: config.nsid`).
 */

const IDENTITY = 'edge-7.cn-hangzhou';
const MANAGED = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';

let listeners: ListenerSet;
let upstream: Responder;
let forwarder: UpstreamForwarder;
let port = 0;

t.before(async () => {
  const logger = createLogger('silent');
  upstream = await startResponder((q, send) => send(answerFor(q, '6.6.6.6')), 0, { tcp: true });
  forwarder = new UpstreamForwarder({ servers: [{ host: '127.0.0.1', port: upstream.port, family: 4 }], timeoutMs: 1000, policy: 'sequential', maxFails: 1000, healthCheckIntervalMs: 60_000 }, { exchange: () => {}, health: () => {} }, logger);
  const nsid = IDENTITY;
  const records = { ttl: 30, preferZones: [], onUnavailable: 'servfail' as const, entries: [] };
  const resolver = new Resolver(AnswerTable.build([{ id: 'ep-1', names: [MANAGED], ipv4: ['192.168.1.10'], ipv6: [] }]), {
    records: { ...records, nameservers: ['ns1.example.net'] },
    forwarder,
    cache: new AnswerCache({ size: 100, maxTtlS: 3600, serveStaleMs: 60_000 }),
    logger,
    logQueries: false,
    observer: { answered: () => {}, loop: () => {}, staleAnswer: () => {}, cnameRewrite: () => {} },
    nsid,
  });
  const publisher = new ZonePublisher({ origin: 'privatelink.rpz', records, journal: { maxChanges: 10, maxRecords: 1000 }, serials: undefined, logger, onNewSerial: () => {} });
  publisher.update([], { fetchedAtMs: Date.now() });
  const zone = new ZoneServer({ publisher, acl: new TransferAcl({ networks: ['127.0.0.1/32'], keys: [] }), authenticate: tsigAuthenticator([]), observer: { served: () => {} }, logger, nsid });
  const counters = { dropped: () => {}, rejected: () => {}, tcpConnections: () => {}, udpBatch: () => {} };
  const pipeline = new QueryPipeline({ handler: resolver.handle, admit: () => 'pass', zone }, counters, logger);
  listeners = new ListenerSet({
    pipeline,
    logger,
    udpIo: 'dgram',
    recvBufferBytes: 0,
    tcpLimits: { maxConnections: 10, maxConnectionsPerClient: 10, idleTimeoutMs: 2000, frameTimeoutMs: 2000, maxInFlight: 8, maxWriteBufferBytes: 256 * 1024, framesPerTick: 8 },
  });
  await listeners.open([{ host: '127.0.0.1', port: 0, family: 4 }]);
  port = listeners.bound[0]?.udp ?? 0;
});

t.teardown(async () => {
  await listeners?.close();
  forwarder?.close();
  await upstream?.close();
});

function tool(name: 'dig' | 'kdig', args: readonly string[]): Promise<string> {
  const path = requireTool(name);
  const retries = name === 'dig' ? ['+tries=1', '+time=3'] : ['+retry=0', '+time=3'];
  return new Promise((resolve) => {
    execFile(path, ['@127.0.0.1', '-p', String(port), ...retries, ...args], { timeout: 15_000, encoding: 'utf8' }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

/** The NSID as each tool prints it: dig `; NSID: <hex> ("text")`, kdig `; NSID: <hex> "text"`. */
function shownNsid(out: string): string | undefined {
  return /; NSID: [0-9a-f ]+\(?"([^"]*)"\)?/i.exec(out)?.[1];
}

t.test('dig +nsid and kdig +nsid show the identity on every path, over UDP and TCP', async (t) => {
  const cases: [string, string, string][] = [
    ['managed', MANAGED, 'A'],
    ['managed NODATA', MANAGED, 'TXT'],
    ['managed apex SOA', MANAGED, 'SOA'],
    ['forwarded', 'www.example.com', 'A'],
    ['cached', 'www.example.com', 'A'],
    ['zone service', 'privatelink.rpz', 'SOA'],
  ];
  for (const name of ['dig', 'kdig'] as const) {
    for (const transport of ['+notcp', '+tcp']) {
      for (const [label, qname, qtype] of cases) {
        const out = await tool(name, [qname, qtype, '+nsid', transport]);
        t.match(out, /status: NOERROR/, `${name} ${transport} ${label}: answered`);
        t.equal(shownNsid(out), IDENTITY, `${name} ${transport} ${label}: NSID shown`);
      }
    }
  }
});

t.test('without +nsid no NSID is shown', async (t) => {
  for (const [qname, qtype] of [[MANAGED, 'A'], ['www.example.com', 'A'], ['privatelink.rpz', 'SOA']]) {
    const out = await tool('dig', [qname as string, qtype as string]);
    t.match(out, /status: NOERROR/);
    t.equal(shownNsid(out), undefined, `${qname}: no NSID`);
    t.notMatch(out, /NSID/);
  }
});

t.test('through the real CLI: nsid from the config file, and the host name by default', async (t) => {
  const { startDaemon } = await import('../helpers/daemon');
  const { STATIC_ONLY_CONFIG } = await import('../helpers/configs');
  const { dig } = await import('../helpers/dig');
  const { hostname } = await import('node:os');
  const named = await startDaemon(`${STATIC_ONLY_CONFIG}nsid: ${IDENTITY}\n`);
  t.teardown(() => named.stop());
  t.match((await dig(named.dnsPort, 'ntp.internal.example', 'A', ['+nsid'])).raw, new RegExp(`NSID: .*\\("${IDENTITY.replaceAll('.', '\\.')}"\\)`), 'the configured identity');
  const plain = await startDaemon(STATIC_ONLY_CONFIG);
  t.teardown(() => plain.stop());
  t.match((await dig(plain.dnsPort, 'ntp.internal.example', 'A', ['+nsid'])).raw, new RegExp(`NSID: .*\\("${hostname().replaceAll('.', '\\.')}"\\)`), 'default: the host name');
});
