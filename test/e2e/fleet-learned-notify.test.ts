import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, startDaemon, type RunningDaemon } from '../helpers/daemon';
import { FLEET_SECRET, MANAGED, fleetData } from '../helpers/fleet';
import { TestNetns, sh } from '../helpers/netns';
import { requireTool } from '../helpers/tools';
import { ownTempDirs } from '../helpers/temp-dirs';


/** This file's temporary directories, removed when its tests end. */
const tempDir = ownTempDirs(t);
/**
 * Learned NOTIFY, end to end: a hub whose transfer.notify lists nothing, and ten edges it has
 * never been told about, each in its own network namespace with its own address (as in a data
 * center, where every edge listens on port 53 of its own host). The hub learns each edge from its
 * signed SOA check; when the data changes it NOTIFYs every one, signed with the key that edge
 * uses (two edge groups, two keys), and each edge takes the change at once: their own polling is
 * set to ten minutes, so only the NOTIFY can bring it within the two seconds asked.
 */

const EDGES = 10;
const SUBNET = '10.213.0';
const HUB_IP = `${SUBNET}.1`;
const EDGE_SECRET = randomBytes(32).toString('base64');
const keyOf = (i: number): { name: string; secret: string } => (i % 2 === 0 ? { name: 'fleet', secret: FLEET_SECRET } : { name: 'edge-b', secret: EDGE_SECRET });

function run(t: Test, args: string[]): boolean {
  const r = sh('ip', args);
  t.equal(r.code, 0, `ip ${args.join(' ')}${r.code === 0 ? '' : `: ${r.out.trim()}`}`);
  return r.code === 0;
}

/** Runs a little node script inside `ns` (the namespace's 127.0.0.1 is not ours); its stdout. */
function nodeIn(ns: string, script: string): string {
  const r = sh('ip', ['netns', 'exec', ns, process.execPath, '-e', script], 15_000);
  if (r.code !== 0) throw new Error(`node in ${ns} failed: ${r.out}`);
  return r.out;
}

t.test('ten edges listed nowhere on the hub get a change within 2 s of the hub publishing', async (t) => {
  for (const tool of ['ip', 'dig']) requireTool(tool);
  const nets = new TestNetns(t);
  const tag = `${process.pid % 100_000}`;
  const hubNs = `pln-h${tag}`;
  const edgeNs = (i: number): string => `pln-e${tag}-${i}`;
  // The hub's namespace holds a bridge; each edge's namespace a veth into it. Nothing in ours.
  if (!nets.add(t, hubNs)) return;
  run(t, ['-n', hubNs, 'link', 'set', 'lo', 'up']);
  run(t, ['-n', hubNs, 'link', 'add', 'br0', 'type', 'bridge']);
  run(t, ['-n', hubNs, 'addr', 'add', `${HUB_IP}/24`, 'dev', 'br0']);
  run(t, ['-n', hubNs, 'link', 'set', 'br0', 'up']);
  for (let i = 0; i < EDGES; i++) {
    if (!nets.add(t, edgeNs(i))) return;
    run(t, ['-n', edgeNs(i), 'link', 'set', 'lo', 'up']);
    run(t, ['-n', hubNs, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', edgeNs(i)]);
    run(t, ['-n', hubNs, 'link', 'set', `v${i}`, 'master', 'br0']);
    run(t, ['-n', hubNs, 'link', 'set', `v${i}`, 'up']);
    run(t, ['-n', edgeNs(i), 'addr', 'add', `${SUBNET}.${10 + i}/24`, 'dev', 'eth0']);
    run(t, ['-n', edgeNs(i), 'link', 'set', 'eth0', 'up']);
  }

  // The simulator runs beside the hub, in its namespace.
  const simDir = tempDir('pldns-sim-');
  writeFileSync(join(simDir, 'data.json'), JSON.stringify(fleetData()));
  const sim = await nets.startIn(hubNs, [process.execPath, CLI, 'simulate', '--listen', '127.0.0.1:0', '--data', join(simDir, 'data.json')], (out) => /"simulator listening"/.test(out), 'simulator');
  const simLine = JSON.parse(/^(\{.*"simulator listening".*\})$/m.exec(sim.output())?.[1] ?? '{}') as { endpoint: string; url: string };

  const inNs = (ns: string) => (configPath: string): string[] => ['ip', 'netns', 'exec', ns, process.execPath, CLI, 'serve', '--config', configPath];
  const hubDir = tempDir('pldns-hub-');
  const hub: RunningDaemon = await startDaemon(
    `region: cn-hangzhou
listen:
  dns: ["${HUB_IP}:53"]
  http: "127.0.0.1:0"
access: { allow: ["127.0.0.0/8", "${SUBNET}.0/24"], rate_limit: null }
upstream: { servers: ["127.0.0.1:9"] }
privatelink:
  endpoint: ${simLine.endpoint}
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "*/1 * * * * *"
  jitter: 0s
  timeout: 3s
records:
  ttl: 30
  entries:
    - { names: ["${MANAGED}"], endpoint: ep-bp1fleet000000000001 }
transfer:
  zone: privatelink.rpz
  allow: ["key:fleet", "key:edge-b"]
  keys:
    - { name: fleet, algorithm: hmac-sha256, secret: "${FLEET_SECRET}" }
    - { name: edge-b, algorithm: hmac-sha256, secret: "${EDGE_SECRET}" }
  notify: []
state_dir: ${hubDir}
log: { level: info }
`,
    { dir: hubDir, command: inNs(hubNs) },
  );
  t.teardown(() => hub.stop());
  const first = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 15_000);

  const edges: RunningDaemon[] = await Promise.all(
    Array.from({ length: EDGES }, (_, i) => {
      const dir = tempDir('pldns-edge-');
      const k = keyOf(i);
      return startDaemon(
        `listen:
  dns: ["${SUBNET}.${10 + i}:53", "127.0.0.1:53"]
  http: "127.0.0.1:0"
access: { allow: ["127.0.0.0/8", "${SUBNET}.0/24"] }
upstream: { servers: ["${HUB_IP}:9"] }
primaries:
  zone: privatelink.rpz
  servers: ["${HUB_IP}:53"]
  key: { name: ${k.name}, algorithm: hmac-sha256, secret: "${k.secret}" }
  refresh: 10m
  retry: 200ms
  timeout: 3s
  managed: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com", "cn-hangzhou.privatelink.aliyuncs.com"]
state_dir: ${dir}
log: { level: info }
`,
        { dir, command: inNs(edgeNs(i)), timeoutMs: 60_000 },
      );
    }),
  );
  for (const e of edges) t.teardown(() => e.stop());
  await Promise.all(edges.map((e) => e.waitForLog((l) => l.msg === 'zone received from the primaries' && l.serial === first.serial, 30_000)));
  t.pass(`all ${EDGES} edges hold serial ${first.serial}`);

  const fleet = JSON.parse(nodeIn(hubNs, `fetch('http://127.0.0.1:${hub.httpPort}/status').then(r => r.json()).then(s => console.log(JSON.stringify(s.published.fleet)))`)) as { address: string; key: string; zones: { zone: string; serial: number | null }[] }[];
  t.same(
    fleet.map((s) => `${s.address} ${s.key}`).sort(),
    Array.from({ length: EDGES }, (_, i) => `${SUBNET}.${10 + i} ${keyOf(i).name}`).sort(),
    '/status: the hub learned every edge, with the key it signs with',
  );

  nodeIn(hubNs, `fetch('${simLine.url}/_simulator/state', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(fleetData('10.10.0.99')))} }).then(r => process.exit(r.ok ? 0 : 1))`);
  const published = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz' && l.serial !== first.serial, 15_000);
  const publishedAt = Date.parse(String(published.time));
  const updates = await Promise.all(edges.map((e) => e.waitForLog((l) => l.msg === 'zone updated from the primaries' && l.to === published.serial, 15_000)));
  const lags = updates.map((u) => Date.parse(String(u.time)) - publishedAt);
  t.comment(`edge lag after the hub published (ms): ${lags.join(' ')}`);
  t.ok(lags.every((ms) => ms <= 2000), `every edge within 2 s (max ${Math.max(...lags)} ms); their polling is every 10 minutes`);
  t.ok(edges.every((e) => !e.logs().some((l) => l.msg === 'NOTIFY without our TSIG key: ignored')), 'each NOTIFY signed with the key that edge uses');
  for (const i of [0, 1]) {
    const r = sh('ip', ['netns', 'exec', edgeNs(i), 'dig', '@127.0.0.1', '-p', '53', MANAGED, '+short', '+tries=1', '+time=3']);
    t.match(r.out, /10\.10\.0\.99/, `edge ${i} (key ${keyOf(i).name}) answers the new IP`);
  }
});
