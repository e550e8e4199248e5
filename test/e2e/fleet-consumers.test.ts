import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dig, type DigResult } from '../helpers/dig';
import { startDaemon } from '../helpers/daemon';
import { sleep } from '../helpers/hardening';
import { freePort } from '../helpers/ports';
import { EDGE_MANAGED, FLEET_SECRET, MANAGED, UPSTREAM_IP, hubYaml, startEdge, startUpstream } from '../helpers/fleet';
import { endpoint, startSimulatorProcess, zone, type SimData } from '../helpers/simulator-process';
import {
  POLICY_TTL_S, bindOptions, bindZoneConfig, pdnsRpzLua, pdnsSettings, startBindRpz, startPdnsRecursor, startUnboundRpz, unboundRpzConfig,
} from '../helpers/rpz-consumers';

/**
 * The data center's own resolvers as secondaries of a hub: real BIND 9 (response-policy, TSIG),
 * Unbound (rpz:, unsigned from an address of its own) and PowerDNS Recursor (rpzPrimary, TSIG)
 * take privatelink.rpz from the real CLI hub on 127.0.0.1 and answer the managed names from it,
 * everything else from the upstream. A change in the simulator reaches them (and one of our edges)
 * through NOTIFY; a BIND taking the cn-hangzhou-k view answers zone k's IP only.
 */

const EP = 'ep-bp1fleet000000000001';
const EP_DOWN = 'ep-bp1fleet000000000002';
/** A managed name whose endpoint is Disconnected: published as CNAME rpz-drop. */
const DROPPED = 'oss-down.cn-hangzhou.aliyuncs.com';
const OTHER = 'www.example.org';
const ZONE_J_IP = '10.10.0.1';
/** How long a consumer may take to show a change: a property, not a benchmark. */
const PROPAGATION_BOUND_MS = 20_000;
/** PowerDNS Recursor 4.8 ignores NOTIFY for an RPZ (5.1 acts on it): it polls the SOA this often. */
/** Starts a server on a free port, again on another when a parallel test took the port meanwhile. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= 4 || !/address already in use|EADDRINUSE/i.test(String((err as Error).message))) throw err;
    }
  }
}

const PDNS_REFRESH_S = 2;

function simData(ipK = '10.10.0.2', kStatus = 'Connected'): SimData {
  return {
    endpoints: [
      endpoint(EP, [zone(EP, 'cn-hangzhou-j', ZONE_J_IP), zone(EP, 'cn-hangzhou-k', ipK, kStatus)]),
      endpoint(EP_DOWN, [zone(EP_DOWN, 'cn-hangzhou-j', '10.10.0.5')], { ConnectionStatus: 'Disconnected' }),
    ],
  };
}

const ips = (r: DigResult): string[] => r.answers.filter((a) => a.type === 'A').map((a) => a.data).sort();

/** Polls `fn` every 100 ms until `ok` or `timeoutMs`; returns the last value and when it first held. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ok: boolean; at: number }> {
  const deadline = Date.now() + timeoutMs;
  let value = await fn();
  while (!ok(value) && Date.now() < deadline) {
    await sleep(100);
    value = await fn();
  }
  return { value, ok: ok(value), at: Date.now() };
}

/** What a resolver answers for each name, checked the same way for BIND, Unbound and PowerDNS. */
async function checkResolver(t: Test, name: string, port: number): Promise<void> {
  const managed = await until(() => dig(port, MANAGED), (r) => ips(r).length === 2, PROPAGATION_BOUND_MS);
  t.same(ips(managed.value), [ZONE_J_IP, '10.10.0.2'], `${name}: the managed name answers the endpoint IPs from our zone`);
  t.notOk(ips(managed.value).includes(UPSTREAM_IP), `${name}: not the upstream's answer`);
  const other = await dig(port, OTHER);
  t.same(ips(other), [UPSTREAM_IP], `${name}: any other name is the upstream's answer`);
  const dropped = await dig(port, DROPPED);
  t.notOk(ips(dropped).includes(UPSTREAM_IP), `${name}: a name published as rpz-drop does not resolve to the upstream's answer (${dropped.status})`);
  t.equal(ips(dropped).length, 0, `${name}: no address at all for it`);
}

/** Like Promise.all, but waits for every start to settle before rejecting with the first failure. */
async function allStarted<T extends readonly Promise<unknown>[]>(starts: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** The time (epoch ms) of the first line matching `what` after one matching `after`, from named's log (local time, as this process). */
function bindTimeAfter(log: string, after: string, what: string): number | undefined {
  const m = new RegExp(`${after}[^]*?\\n(\\d\\d)-(\\w{3})-(\\d{4}) (\\d\\d):(\\d\\d):(\\d\\d)\\.(\\d{3}) ${what}`).exec(log);
  if (!m) return undefined;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[2]);
  return new Date(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])).getTime();
}

t.test('data-center resolvers as RPZ secondaries of the hub', async (t) => {
  const sim = await startSimulatorProcess(simData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());

  // The hub binds port 0; it learns its NOTIFY targets (BIND, the BIND taking the k view, Unbound
  // and one of our edges) by a reload once they run, so no port is reserved ahead and lost to a
  // parallel test.
  const hubDir = mkdtempSync(join(tmpdir(), 'pldns-hub-'));
  // Unbound (no TSIG) transfers unsigned from 127.0.0.1; BIND and PowerDNS from SIGNED_SOURCE, admitted only with the key.
  const hubOptions = {
    sim, upstreamPort: upstream.port, stateDir: hubDir,
    allow: ['key:fleet', '127.0.0.1/32'],
    entries: [{ names: [MANAGED], endpoint: EP }, { names: [DROPPED], endpoint: EP_DOWN }],
  };
  const hub = await startDaemon(hubYaml(hubOptions), { dir: hubDir });
  t.teardown(() => hub.stop());
  const hubPort = hub.dnsPort;
  await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz');
  await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'cn-hangzhou-k.privatelink.rpz');

  const common = { hubPort, upstreamPort: upstream.port };
  const consumersStartedAt = Date.now();
  // Started together; whichever started is stopped at the end, even when another failed (a tool missing).
  const stoppable = <T extends { stop(): Promise<unknown> }>(p: Promise<T>): Promise<T> => p.then((x) => {
    t.teardown(() => x.stop());
    return x;
  });
  const [bind, bindView, unbound, pdns, edge] = await allStarted([
    stoppable(onFreePort((port) => startBindRpz({ ...common, zone: 'privatelink.rpz', port }))),
    stoppable(onFreePort((port) => startBindRpz({ ...common, zone: 'cn-hangzhou-k.privatelink.rpz', port }))),
    stoppable(onFreePort((port) => startUnboundRpz({ ...common, zone: 'privatelink.rpz', port }))),
    stoppable(startPdnsRecursor({ ...common, zone: 'privatelink.rpz', refreshS: PDNS_REFRESH_S })),
    stoppable(startEdge({ hubPorts: [hubPort], upstreamPort: upstream.port, refresh: '5m', managed: [...EDGE_MANAGED, DROPPED] })),
  ] as const);
  writeFileSync(hub.configPath, hubYaml({ ...hubOptions, notify: [bind.port, bindView.port, unbound.port, edge.dnsPort] }));
  hub.proc.kill('SIGHUP');
  await hub.waitForLog((l) => l.msg === 'configuration reloaded', 10_000);

  await t.test('BIND 9: response-policy with a TSIG-signed transfer', async (t) => {
    await checkResolver(t, 'BIND', bind.port);
    // The hub admits BIND's address only with the key: a transfer that succeeded was signed.
    await bind.waitForLog(/transfer of 'privatelink\.rpz\/IN' from 127\.0\.0\.1#\d+: Transfer status: success/, 5000);
    t.match(bind.log(), /privatelink\.rpz\/IN' from 127\.0\.0\.1#\d+: connected using 127\.0\.0\.1#\d+ TSIG fleet/, 'BIND used the key');
    t.match(bind.log(), /rpz: privatelink\.rpz: reload done/, 'BIND loaded it as a policy zone');
    const answer = await dig(bind.port, MANAGED);
    t.same([...new Set(answer.answers.map((a) => a.ttl))], [POLICY_TTL_S], `BIND answers with records.ttl (${POLICY_TTL_S} s), not its 5 s max-policy-ttl default`);
  });

  await t.test('Unbound: rpz: from the hub', async (t) => {
    await checkResolver(t, 'Unbound', unbound.port);
  });

  await t.test('PowerDNS Recursor: rpzPrimary with TSIG', async (t) => {
    await checkResolver(t, 'PowerDNS', pdns.port);
  });

  await t.test('BIND taking the cn-hangzhou-k view answers zone k only', async (t) => {
    const got = await until(() => dig(bindView.port, MANAGED), (r) => ips(r).length > 0, PROPAGATION_BOUND_MS);
    t.same(ips(got.value), ['10.10.0.2'], 'zone k\'s IP alone while it is usable');
    t.same(ips(await dig(bindView.port, OTHER)), [UPSTREAM_IP], 'other names forwarded');
  });

  let publishedAt = 0;
  await t.test('a change reaches BIND, Unbound and an edge through NOTIFY', async (t) => {
    const mainPublished = (l: Record<string, unknown>): boolean => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz';
    const oldSerial = Math.max(...hub.logs().filter(mainPublished).map((l) => l.serial as number));
    // A new serial is a new second (serials are Unix times).
    await sleep(1100);
    await sim.setState(simData('10.10.0.99'));
    const published = await hub.waitForLog((l) => mainPublished(l) && (l.serial as number) > oldSerial, 10_000);
    publishedAt = Date.parse(String(published.time));
    t.ok(publishedAt > 0, 'the hub logged when it published');
    const hasNew = (r: DigResult): boolean => ips(r).includes('10.10.0.99');
    const consumers: [string, number, (r: DigResult) => boolean][] = [
      ['BIND', bind.port, hasNew],
      ['Unbound', unbound.port, hasNew],
      ['edge', edge.dnsPort, hasNew],
      ['BIND (k view)', bindView.port, (r) => ips(r).join() === '10.10.0.99'],
    ];
    // PowerDNS Recursor is polled alongside: it learns of the change from its own SOA checks.
    const [pdnsReached, ...reached] = await Promise.all([
      until(() => dig(pdns.port, MANAGED), hasNew, PROPAGATION_BOUND_MS),
      ...consumers.map(([, port, ok]) => until(() => dig(port, MANAGED), ok, PROPAGATION_BOUND_MS)),
    ]);
    const figures: string[] = [];
    for (const [i, [name]] of consumers.entries()) {
      t.ok(reached[i].ok, `${name} answers the new IP within ${PROPAGATION_BOUND_MS} ms`);
      figures.push(`${name} ${reached[i].at - publishedAt} ms`);
    }
    const last = Math.max(...reached.map((r) => r.at)) - publishedAt;
    t.comment(`propagation (hub publish → consumer answering, 100 ms polling): ${figures.join(', ')}; last ${last} ms`);
    // Finer than a dig per poll: when BIND and the edge applied it, from their own logs.
    const edgeUpdated = await edge.waitForLog((l) => l.msg === 'zone updated from the primaries' && l.to === published.serial, 5000);
    const bindReload = bindTimeAfter(bind.log(), `notify from 127.0.0.1#\\d+: serial ${published.serial}`, 'rpz: privatelink\\.rpz: reload done');
    t.ok(bindReload !== undefined, 'BIND logged the policy reload after the NOTIFY');
    const edgeMs = Date.parse(String(edgeUpdated.time)) - publishedAt;
    t.comment(`applied (their logs): BIND policy reloaded ${(bindReload ?? NaN) - publishedAt} ms, edge zone updated ${edgeMs} ms after the publish`);
    // Their first SOA check is due 60 s (the hub's SOA refresh; BIND: at least its 300 s
    // min-refresh-time, less 25 % jitter) or 5 min (the edge) after they took the zone: seen before
    // 45 s, the change came by NOTIFY.
    for (const [i, [name]] of consumers.entries()) t.ok(reached[i].at - consumersStartedAt < 45_000, `${name} had it before any SOA check was due`);
    const signedNotify = `127\\.0\\.0\\.1#\\d+/key fleet: received notify for zone 'privatelink\\.rpz': TSIG 'fleet'`;
    const ofSerial = `notify from 127\\.0\\.0\\.1#\\d+: serial ${published.serial}`;
    t.match(bind.log(), new RegExp(`${signedNotify}[^]*${ofSerial}`), 'BIND took the signed NOTIFY of the new serial');
    if (!pdnsReached.ok) t.comment(pdns.log());
    t.ok(pdnsReached.ok, `PowerDNS Recursor answers the new IP by polling every ${PDNS_REFRESH_S} s`);
    t.comment(`PowerDNS Recursor (SOA polling, refresh ${PDNS_REFRESH_S} s): ${pdnsReached.at - publishedAt} ms`);
  });

  await t.test('the k view falls back to every usable IP when zone k is not usable', async (t) => {
    await sleep(1100);
    await sim.setState(simData('10.10.0.99', 'Disconnected'));
    const got = await until(() => dig(bindView.port, MANAGED), (r) => ips(r).join() === ZONE_J_IP, PROPAGATION_BOUND_MS);
    t.same(ips(got.value), [ZONE_J_IP], 'zone j\'s IP once zone k is Disconnected');
    const main = await until(() => dig(bind.port, MANAGED), (r) => ips(r).join() === ZONE_J_IP, PROPAGATION_BOUND_MS);
    t.same(ips(main.value), [ZONE_J_IP], 'and the main zone agrees');
  });
});

t.test('docs/fleet.md quotes the configs this test runs', async (t) => {
  const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'fleet.md'), 'utf8');
  // The doc shows the hub on 5300, the upstream on 5301 and no real secret.
  const o = { zone: 'privatelink.rpz', hubPort: 5300, upstreamPort: 5301 };
  const shown = (text: string): string => text.split(FLEET_SECRET).join('<base64 secret>').trimEnd();
  const unbound = unboundRpzConfig(o);
  for (const [name, text] of [
    ['BIND options', bindOptions(o)], ['BIND zone', bindZoneConfig(o)],
    ['Unbound server:', unbound.server.join('\n')], ['Unbound rpz:', unbound.tail.join('\n')],
    ['PowerDNS Lua', pdnsRpzLua({ ...o, refreshS: PDNS_REFRESH_S })], ['PowerDNS settings', pdnsSettings(o).join('\n')],
  ] as const) {
    t.ok(doc.includes(`\n${shown(text)}\n\`\`\``), `${name} as tested`);
  }
});
