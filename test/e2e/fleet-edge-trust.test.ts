import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { EDGE_MANAGED, FLEET_SECRET, MANAGED, NO_CREDENTIALS, edgeYaml } from '../helpers/fleet';
import { answerFor, startResponder } from '../helpers/hardening';
import { freePort } from '../helpers/ports';

/**
 * An edge never serves what it should not: with no zone it answers its primaries.managed names
 * SERVFAIL (never the upstream's 100.64/10 answer), and a primary holding the fleet key cannot
 * make it answer an SOA-only zone, names outside primaries.managed, a wildcard above them, a
 * 100.64/10 address, or more records than primaries.max_records. Real processes: a hub with
 * static entries plays the rogue primary (reconfigured by SIGHUP between cases), and SIGUSR2 makes
 * the edge take the rogue's whole zone whatever its serial.
 */

/** The public answer the data center's resolvers give for every name. */
const PUBLIC_IP = '100.100.1.1';
const GOOD_IP = '10.10.0.1';

function hubYaml(port: number, upstreamPort: number, entries: readonly string[], stateDir: string): string {
  return `region: cn-hangzhou
listen: { dns: ["127.0.0.1:${port}"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"], rate_limit: null }
upstream: { servers: ["127.0.0.1:${upstreamPort}"] }
records:
  ttl: 30
  entries: [${entries.join(', ')}]
transfer:
  zone: privatelink.rpz
  allow: ["key:fleet"]
  keys: [ { name: fleet, algorithm: hmac-sha256, secret: "${FLEET_SECRET}" } ]
state_dir: ${stateDir}
log: { level: info }
`;
}

const entry = (name: string, ip: string): string => `{ names: ["${name}"], addresses: ["${ip}"] }`;

t.test('an edge without a zone answers its managed names SERVFAIL, never the upstream\'s', async (t) => {
  const upstream = await startResponder((q, send) => send(answerFor(q, PUBLIC_IP)), 0, { tcp: true });
  t.teardown(() => upstream.close());
  const unreachable = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pldns-trust-'));
  const edge = await startDaemon(edgeYaml({ hubPorts: [unreachable], upstreamPort: upstream.port, stateDir: dir, refresh: '1h' }), { dir, env: NO_CREDENTIALS });
  t.teardown(() => edge.stop());
  for (const name of [MANAGED, 'ep-x.epsrv-y.cn-hangzhou.privatelink.aliyuncs.com', 'registry-cn-hangzhou-vpc.ack.aliyuncs.com']) {
    for (const extra of [[], ['+tcp']]) {
      const r = await dig(edge.dnsPort, name, 'A', extra);
      t.equal(r.status, 'SERVFAIL', `${name} ${extra.join(' ')}: SERVFAIL`);
      t.same(r.answers, [], `${name}: not the upstream's ${PUBLIC_IP}`);
    }
  }
  t.same((await dig(edge.dnsPort, 'www.example.org')).answers.map((a) => a.data), [PUBLIC_IP], 'other names are forwarded as before');
  const ready = await fetch(`http://127.0.0.1:${edge.httpPort}/readyz`);
  t.equal(ready.status, 503, 'not ready without a zone');
});

t.test('a rogue primary with the fleet key cannot make the edge answer what it should not', async (t) => {
  const upstream = await startResponder((q, send) => send(answerFor(q, PUBLIC_IP)), 0, { tcp: true });
  t.teardown(() => upstream.close());
  const [goodPort, roguePort] = [await freePort(), await freePort()];
  const goodDir = mkdtempSync(join(tmpdir(), 'pldns-trust-good-'));
  const good = await startDaemon(hubYaml(goodPort, upstream.port, [entry(MANAGED, GOOD_IP)], goodDir), { dir: goodDir });
  t.teardown(() => good.stop());
  const rogueDir = mkdtempSync(join(tmpdir(), 'pldns-trust-rogue-'));
  // The rogue starts with the good content (whether the edge takes it on the switch does not matter).
  const rogue = await startDaemon(hubYaml(roguePort, upstream.port, [entry(MANAGED, GOOD_IP)], rogueDir), { dir: rogueDir });
  t.teardown(() => rogue.stop());

  const edgeDir = mkdtempSync(join(tmpdir(), 'pldns-trust-edge-'));
  const edgeConfig = (ports: number[], maxRecords = 50): string =>
    edgeYaml({ hubPorts: ports, upstreamPort: upstream.port, stateDir: edgeDir, refresh: '1h', managed: EDGE_MANAGED }).replace('  managed:', `  max_records: ${maxRecords}\n  managed:`);
  const edge = await startDaemon(edgeConfig([goodPort]), { dir: edgeDir, env: NO_CREDENTIALS });
  t.teardown(() => edge.stop());
  await edge.waitForLog((l) => l.msg === 'zone received from the primaries');
  t.same((await dig(edge.dnsPort, MANAGED)).answers.map((a) => a.data), [GOOD_IP], 'the good zone answers');

  // From here on the edge's only primary is the rogue.
  writeFileSync(edge.configPath, edgeConfig([roguePort]));
  edge.proc.kill('SIGHUP');
  await waitCount(edge, 'configuration reloaded', 1);

  const cases: [string, string[], RegExp][] = [
    ['SOA only', [], /no names/],
    ['names outside primaries.managed', [entry('www.google.com', '6.6.6.6')], /none of its 1 names/],
    ['a wildcard above a managed name', [entry('*.aliyuncs.com', '10.9.9.9'), entry(MANAGED, '10.9.9.8')], /wildcard \*\.aliyuncs\.com/],
    ['a 100.64/10 address for a managed name', [entry(MANAGED, '100.100.9.9')], /100\.100\.9\.9/],
    ['more than max_records', Array.from({ length: 60 }, (_, i) => entry(`n${i}.cn-hangzhou.privatelink.aliyuncs.com`, `10.8.0.${i + 1}`)), /max_records/],
  ];
  let reloads = 0;
  for (const [what, entries, reason] of cases) {
    writeFileSync(rogue.configPath, hubYaml(roguePort, upstream.port, entries, rogueDir));
    rogue.proc.kill('SIGHUP');
    await waitCount(rogue, 'configuration reloaded', ++reloads);
    const seen = edge.logs().length;
    edge.proc.kill('SIGUSR2');
    const line = await edge.waitForLog((l) => edge.logs().indexOf(l) >= seen && l.msg === 'zone refused; keeping the current one', 20_000);
    t.match(JSON.stringify(line), reason, `${what}: refused, and the log says why`);
    t.same((await dig(edge.dnsPort, MANAGED)).answers.map((a) => a.data), [GOOD_IP], `${what}: the good zone still answers`);
    t.same((await dig(edge.dnsPort, 'www.google.com')).answers.map((a) => a.data), [PUBLIC_IP], `${what}: www.google.com is still the upstream's`);
  }
  const status = (await (await fetch(`http://127.0.0.1:${edge.httpPort}/status`)).json()) as { transfer: { lastRefusal: { reason: string } | null } };
  t.ok(status.transfer.lastRefusal, '/status shows the last refusal');
  const metrics = await (await fetch(`http://127.0.0.1:${edge.httpPort}/metrics`)).text();
  // SOA-only and only-outside-names both leave no managed name ("empty"). The check the edge's own
  // reload started may also have met a case (then it is refused once more by SIGUSR2): at least.
  for (const [reason, n] of [['empty', 2], ['wildcard', 1], ['address', 1], ['records', 1]] as const) {
    const value = Number(new RegExp(`^privatelink_dns_zone_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    t.ok(value >= n, `refusals counted: ${reason} ${value} (at least ${n})`);
  }
});

/** Waits for the `count`-th log line with this message. */
async function waitCount(d: RunningDaemon, msg: string, count: number): Promise<Record<string, unknown>> {
  await d.waitForLog(() => d.logs().filter((l) => l.msg === msg).length >= count, 20_000);
  return d.logs().filter((l) => l.msg === msg)[count - 1] as Record<string, unknown>;
}
