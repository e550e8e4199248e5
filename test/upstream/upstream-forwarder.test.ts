import t, { type Test } from 'tap';
import { UpstreamForwarder, type ForwarderObserver } from '../../src/upstream/upstream-forwarder';
import { parseQuery, type Query } from '../../src/wire/query';
import type { UpstreamConfig } from '../../src/config/schema';
import { createLogger } from '../../src/runtime/log';
import { answerFor, questionOf, startResponder, type Responder, type ResponderReply } from '../helpers/responder';
import { waitUntil } from '../helpers/settle';
import { decode, encodeQuery } from '../helpers/wire';
import { dgramExchanger, type UdpExchanger } from '../../src/upstream/udp-exchange';
import { NativeUdpExchanger } from '../../src/upstream/native-udp-exchanger';
import { loadNativeAddon } from '../../src/native/addon';

/**
 * The forwarder against in-process upstreams on 127.0.0.1 (test/helpers/responder): IDs,
 * UDP→TCP on truncation, failover, forged and malformed replies, health and in-flight bookkeeping.
 * Every test runs with both UDP exchangers: the addon's (one connected socket per exchange, in
 * C) and Node's dgram (the fallback without the addon).
 */

const logger = createLogger('silent');

function query(name: string, id = 0x1234): Query {
  const q = parseQuery(encodeQuery(name, { id }));
  if (q.kind !== 'query') throw new Error(`not a query: ${JSON.stringify(q)}`);
  return q;
}

interface Recorded {
  readonly observer: ForwarderObserver;
  /** "server protocol result" per exchange, servers named a, b, ... */
  readonly exchanges: string[];
  /** "server up|down" per health report. */
  readonly health: string[];
}

function recorder(names: Map<number, string>): Recorded {
  const label = (server: string): string => names.get(Number(server.slice(server.lastIndexOf(':') + 1))) ?? server;
  const exchanges: string[] = [];
  const health: string[] = [];
  const observer: ForwarderObserver = {
    exchange: (server, protocol, result) => exchanges.push(`${label(server)} ${protocol} ${result}`),
    health: (server, healthy) => health.push(`${label(server)} ${healthy ? 'up' : 'down'}`),
  };
  return { observer, exchanges, health };
}

const addon = loadNativeAddon();
/** The exchanger the tests of the running engine use (set by the engine's parent test). */
let makeUdp: () => UdpExchanger = () => dgramExchanger;
const engines: Record<string, () => UdpExchanger> = {
  native: () => {
    if (!addon.ok) throw new Error(`the addon is needed for this engine: ${addon.reason}`);
    return new NativeUdpExchanger(addon.binding);
  },
  dgram: () => dgramExchanger,
};

interface Setup {
  readonly forwarder: UpstreamForwarder;
  readonly seen: Recorded;
}

/** Upstreams named a, b, ... in this order; a forwarder over them (sequential; a 1 s timeout leaves room for a loaded machine). */
async function setup(t: Test, upstreams: Responder[], over: Partial<UpstreamConfig> = {}, maxInFlight?: number): Promise<Setup> {
  const names = new Map(upstreams.map((u, i) => [u.port, String.fromCharCode(97 + i)]));
  const seen = recorder(names);
  const config: UpstreamConfig = {
    servers: upstreams.map((u) => ({ host: '127.0.0.1', port: u.port, family: 4 as const })),
    timeoutMs: 1000,
    policy: 'sequential',
    maxFails: 1000,
    healthCheckIntervalMs: 50,
    ...over,
  };
  const forwarder = new UpstreamForwarder(config, seen.observer, logger, maxInFlight, makeUdp());
  t.teardown(() => forwarder.close());
  return { forwarder, seen };
}

async function responder(t: Test, reply: ResponderReply, tcp = false): Promise<Responder> {
  const r = await startResponder(reply, 0, { tcp });
  t.teardown(() => r.close());
  return r;
}

const silent: ResponderReply = () => {};
const answering = (ip: string): ResponderReply => (q, send) => send(answerFor(q, ip));
const rcodeOf = (reply: Buffer): number => reply[3] & 0x0f;
const addresses = (reply: Buffer): string[] => decode(reply).answers.map((a) => (a as { address?: string }).address ?? '');

for (const [engine, make] of Object.entries(engines)) {
  t.test(`${engine} UDP exchanges`, async (t) => {
    makeUdp = make;
    if (engine === 'native') t.ok(addon.ok, `the addon loads (${addon.ok ? 'built' : addon.reason})`);

    t.test('a fresh ID upstream, the client ID restored in the reply', async (t) => {
      const ids: number[] = [];
      const a = await responder(t, (q, send) => {
        ids.push(q.readUInt16BE(0));
        send(answerFor(q, '192.0.2.1'));
      });
      const { forwarder, seen } = await setup(t, [a]);
      const replies = [(await forwarder.forward(query('one.example', 0x1111), 'udp')).reply, (await forwarder.forward(query('two.example', 0x1111), 'udp')).reply];
      t.same(replies.map((r) => r.readUInt16BE(0)), [0x1111, 0x1111], 'client ID in both replies');
      t.same(replies.map(addresses), [['192.0.2.1'], ['192.0.2.1']]);
      t.not(ids[0], ids[1], `a new random ID per exchange (${ids.join(', ')})`);
      t.same(seen.exchanges, ['a udp ok', 'a udp ok']);
    });

    t.test('forwards reuse their records: waves of concurrent forwards each get their own answer, fresh IDs and ports', async (t) => {
      const held: (() => void)[] = [];
      const ids: number[] = [];
      const ports: number[] = [];
      const a = await responder(t, (q, send, rinfo) => {
        ids.push(q.readUInt16BE(0));
        ports.push(rinfo.port);
        // The answer names the query: w<wave>n<i>.example gets 10.<wave>.<i>.1.
        const m = /^w(\d+)n(\d+)\./.exec(questionOf(q).name);
        held.push(() => send(answerFor(q, `10.${m?.[1]}.${m?.[2]}.1`)));
      });
      const { forwarder } = await setup(t, [a], { timeoutMs: 5000 });
      const n = 150;
      for (let wave = 0; wave < 3; wave++) {
        held.length = 0;
        const names = Array.from({ length: n }, (_, i) => `w${wave}n${i}.example`);
        const out = names.map((name, i) => forwarder.forward(query(name, 0x4000 + i), 'udp'));
        t.equal(forwarder.forwardsInFlight, n, `wave ${wave}: ${n} out`);
        await waitUntil(async () => held.length, (k) => k === n, 5000, 10);
        // Answered in reverse order: each forward must still get its own reply.
        for (const f of held.reverse()) f();
        const replies = await Promise.all(out);
        t.same(replies.map((r) => addresses(r.reply)[0]), names.map((_, i) => `10.${wave}.${i}.1`), `wave ${wave}: each forward got its own answer`);
        t.same(replies.map((r) => r.reply.readUInt16BE(0)), names.map((_, i) => 0x4000 + i), 'each with its client ID');
        t.equal(forwarder.forwardsInFlight, 0);
        t.notOk(names.some((name) => forwarder.isForwarding(name, 1, 1)), 'no flight left behind');
      }
      const distinctIds = new Set(ids).size;
      // 450 draws from 65,536: a few birthday collisions at most, and no counting.
      t.ok(distinctIds >= ids.length - 10, `${ids.length} upstream IDs, ${distinctIds} distinct`);
      const idSteps = ids.slice(1).filter((id, i) => ((id - ids[i] + 65536) & 0xffff) === 1).length;
      t.ok(idSteps < 5, `IDs are not handed out in sequence (${idSteps} steps of 1)`);
      const distinctPorts = new Set(ports).size;
      t.ok(distinctPorts >= ports.length / 2, `${ports.length} exchanges from ${distinctPorts} distinct source ports`);
    });

    t.test('a truncated UDP reply is asked again over TCP; TCP clients are forwarded over TCP', async (t) => {
      const protocols: string[] = [];
      const a = await responder(t, (q, send, _rinfo, protocol) => {
        protocols.push(protocol);
        const reply = answerFor(q, protocol === 'tcp' ? '192.0.2.2' : '192.0.2.1');
        if (protocol === 'udp') reply[2] |= 0x02; // TC
        send(reply);
      }, true);
      const { forwarder, seen } = await setup(t, [a]);
      t.same(addresses((await forwarder.forward(query('big.example'), 'udp')).reply), ['192.0.2.2'], 'the answer is the one that came over TCP');
      t.same(protocols, ['udp', 'tcp']);
      t.same(seen.exchanges, ['a udp truncated', 'a tcp ok']);
      t.same(addresses((await forwarder.forward(query('tcp.example'), 'tcp')).reply), ['192.0.2.2']);
      t.same(protocols, ['udp', 'tcp', 'tcp'], 'a TCP client: straight to TCP');
    });

    t.test('a silent server times out and the next one answers', async (t) => {
      const a = await responder(t, silent);
      const b = await responder(t, answering('192.0.2.3'));
      const { forwarder, seen } = await setup(t, [a, b]);
      t.same(addresses((await forwarder.forward(query('x.example'), 'udp')).reply), ['192.0.2.3']);
      t.same(seen.exchanges, ['a udp timeout', 'b udp ok']);
      t.equal(forwarder.pool.servers[0].consecutiveFailures, 1, 'the failure is counted against a');
    });

    t.test('SERVFAIL moves on; when every server fails so, the SERVFAIL is passed on', async (t) => {
      const servfail: ResponderReply = (q, send) => {
        const r = answerFor(q, '192.0.2.9');
        r[3] = (r[3] & 0xf0) | 2;
        send(r);
      };
      const a = await responder(t, servfail);
      const b = await responder(t, answering('192.0.2.4'));
      const first = await setup(t, [a, b]);
      t.same(addresses((await first.forwarder.forward(query('x.example'), 'udp')).reply), ['192.0.2.4'], 'b answers after a SERVFAIL');
      const c = await responder(t, servfail);
      const second = await setup(t, [a, c]);
      const reply = (await second.forwarder.forward(query('x.example', 0x7777), 'udp')).reply;
      t.equal(rcodeOf(reply), 2, 'SERVFAIL returned when nothing better came');
      t.equal(reply.readUInt16BE(0), 0x7777, 'with the client ID');
      t.same(second.forwarder.pool.servers.map((s) => s.lastError), ['servfail', 'servfail'], 'counted as failures of both');
    });

    t.test('every server silent: UPSTREAM_FAILED', async (t) => {
      const a = await responder(t, silent);
      const b = await responder(t, silent);
      const { forwarder, seen } = await setup(t, [a, b]);
      await t.rejects(forwarder.forward(query('x.example'), 'udp'), { code: 'UPSTREAM_FAILED' });
      t.same(seen.exchanges, ['a udp timeout', 'b udp timeout']);
      const none = await setup(t, []);
      t.equal(none.forwarder.hasServers, false);
      await t.rejects(none.forwarder.forward(query('x.example'), 'udp'), { code: 'UPSTREAM_FAILED' }, 'no servers configured');
    });

    t.test('a forged reply (wrong ID) is ignored and counted; the genuine one that follows is taken', async (t) => {
      const a = await responder(t, (q, send) => {
        send(answerFor(q, '6.6.6.6', { id: (q.readUInt16BE(0) + 1) & 0xffff }));
        setTimeout(() => send(answerFor(q, '192.0.2.5')), 20);
      });
      const { forwarder, seen } = await setup(t, [a]);
      t.same(addresses((await forwarder.forward(query('x.example'), 'udp')).reply), ['192.0.2.5']);
      t.same(seen.exchanges, ['a udp mismatch', 'a udp ok']);
    });

    t.test('a malformed reply (right ID and question, broken body) is counted; the next server answers', async (t) => {
      const a = await responder(t, (q, send) => {
        const full = answerFor(q, '6.6.6.6');
        send(full.subarray(0, full.length - 7));
      });
      const b = await responder(t, answering('192.0.2.6'));
      const { forwarder, seen } = await setup(t, [a, b]);
      t.same(addresses((await forwarder.forward(query('x.example'), 'udp')).reply), ['192.0.2.6']);
      t.same(seen.exchanges, ['a udp malformed', 'b udp ok']);
    });

    t.test('max_fails marks a server down, skipped; the prober brings it back', async (t) => {
      let alive = false;
      const asked: string[] = [];
      const a = await responder(t, (q, send) => {
        asked.push(questionOf(q).name);
        if (alive) send(answerFor(q, '192.0.2.7'));
      });
      const b = await responder(t, answering('192.0.2.8'));
      const { forwarder, seen } = await setup(t, [a, b], { maxFails: 1 });
      t.same(seen.health, ['a up', 'b up'], 'both reported healthy at start');
      t.same(addresses((await forwarder.forward(query('one.example'), 'udp')).reply), ['192.0.2.8']);
      t.same(seen.health.slice(2), ['a down'], 'one failure (max_fails 1) marks a down');
      t.same(addresses((await forwarder.forward(query('two.example'), 'udp')).reply), ['192.0.2.8']);
      t.same(seen.exchanges.slice(2), ['b udp ok'], 'a is skipped while down');
      t.notOk(asked.includes('two.example'), 'only probes reach a while it is down');
      alive = true;
      const back = await waitUntil(async () => seen.health.length, (n) => n >= 4, 5000, 20);
      t.ok(back.ok, 'a probe succeeded');
      t.same(seen.health.slice(3), ['a up']);
      t.same(addresses((await forwarder.forward(query('three.example'), 'udp')).reply), ['192.0.2.7'], 'sequential: a first again');
    });

    t.test('in flight: isForwarding, joinInFlight, and the cap on forwards', async (t) => {
      const held: (() => void)[] = [];
      const a = await responder(t, (q, send) => held.push(() => send(answerFor(q, '192.0.2.9'))));
      const { forwarder } = await setup(t, [a], { timeoutMs: 5000 }, 1);
      t.equal(forwarder.isForwarding('slow.example', 1, 1), false);
      t.equal(forwarder.joinInFlight('slow.example', 1, 1), undefined);
      const pending = forwarder.forward(query('slow.example'), 'udp');
      t.equal(forwarder.isForwarding('slow.example', 1, 1), true, 'this name and type is out upstream');
      t.equal(forwarder.isForwarding('slow.example', 28, 1), false, 'another type is not');
      const joined = forwarder.joinInFlight('slow.example', 1, 1);
      t.ok(joined, 'a second asker can join it');
      await t.rejects(forwarder.forward(query('other.example'), 'udp'), { code: 'UPSTREAM_FAILED' }, 'over maxInFlight (1): fails at once');
      await waitUntil(async () => held.length, (n) => n === 1, 2000, 10);
      held[0]();
      const reply = await pending;
      t.equal((await joined)?.reply, reply.reply, 'the joiner gets the same reply (the same bytes)');
      t.equal(forwarder.isForwarding('slow.example', 1, 1), false, 'cleared when done');
      t.equal(forwarder.joinInFlight('slow.example', 1, 1), undefined);
      const after = forwarder.forward(query('other.example'), 'udp');
      await waitUntil(async () => held.length, (n) => n === 2, 2000, 10);
      held[1]();
      t.same(addresses((await after).reply), ['192.0.2.9'], 'under the cap again once the first is done');
    });

    t.test('joinInFlight: the earliest forward of a name while it runs; a later one once it ended', async (t) => {
      const held: (() => void)[] = [];
      const a = await responder(t, (q, send) => held.push(() => send(answerFor(q, `192.0.2.${held.length + 1}`))));
      const { forwarder } = await setup(t, [a], { timeoutMs: 5000 });
      const first = forwarder.forward(query('same.example'), 'udp');
      const second = forwarder.forward(query('same.example'), 'udp');
      await waitUntil(async () => held.length, (n) => n === 2, 2000, 10);
      const joinedFirst = forwarder.joinInFlight('same.example', 1, 1);
      held[0]();
      t.equal((await joinedFirst)?.reply, (await first).reply, 'two out: the first is joined');
      t.equal(forwarder.joinInFlight('same.example', 1, 1), undefined, 'the first ended: nothing to join, though the second runs');
      t.equal(forwarder.isForwarding('same.example', 1, 1), true);
      const third = forwarder.forward(query('same.example'), 'udp');
      const joinedThird = forwarder.joinInFlight('same.example', 1, 1);
      t.ok(joinedThird, 'a new forward while the second runs becomes the one to join');
      await waitUntil(async () => held.length, (n) => n === 3, 2000, 10);
      held[2]();
      t.equal((await joinedThird)?.reply, (await third).reply, 'it is the third one');
      held[1]();
      await second;
      t.equal(forwarder.isForwarding('same.example', 1, 1), false);
    });

    t.test('isUpstreamHost knows the configured hosts, also IPv4-mapped', async (t) => {
      const a = await responder(t, silent);
      const { forwarder } = await setup(t, [a]);
      t.equal(forwarder.isUpstreamHost('127.0.0.1'), true);
      t.equal(forwarder.isUpstreamHost('::ffff:127.0.0.1'), true);
      t.equal(forwarder.isUpstreamHost('127.0.0.2'), false);
    });

    t.test('reconfigure: the next query goes to the new list; a server kept from the old list keeps its health', async (t) => {
      const a = await responder(t, answering('192.0.2.1'));
      const b = await responder(t, answering('192.0.2.2'));
      const { forwarder } = await setup(t, [a]);
      t.same(addresses((await forwarder.forward(query('one.example'), 'udp')).reply), ['192.0.2.1']);
      const servers = [b, a].map((u) => ({ host: '127.0.0.1', port: u.port, family: 4 as const }));
      forwarder.reconfigure({ servers, timeoutMs: 1000, policy: 'sequential', maxFails: 1000, healthCheckIntervalMs: 50 }, 10);
      t.same(addresses((await forwarder.forward(query('two.example'), 'udp')).reply), ['192.0.2.2'], 'the new first server answers');
      t.same(forwarder.pool.servers.map((s) => s.consecutiveFailures), [0, 0]);
      t.ok(forwarder.isUpstreamHost('127.0.0.1'));
    });
  });
}
