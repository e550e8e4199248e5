/**
 * Issue 22 item 5: one key per edge group, every process the real CLI on 127.0.0.1. The hub holds
 * both groups' keys; each edge only its own. Both groups transfer the zone; a NOTIFY listed with
 * a group's key (`transfer.notify: "ADDRESS key:NAME"`) reaches an edge of that group; and a
 * primary holding a leaked group-A key can feed a zone to group A only: group B's edge refuses
 * it and keeps answering the hub's data.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { MANAGED, NO_CREDENTIALS, fleetData, startUpstream } from '../helpers/fleet';
import { freePort } from '../helpers/ports';
import { startSimulatorProcess } from '../helpers/simulator-process';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hubYaml(o: { sim: string; upstream: number; keys: Record<string, string>; notify: string[]; stateDir: string }): string {
  const names = Object.keys(o.keys);
  return `region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"], rate_limit: null }
upstream: { servers: ["127.0.0.1:${o.upstream}"] }
privatelink:
  endpoint: ${o.sim}
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "*/1 * * * * *"
  jitter: 0s
records:
  entries:
    - { names: ["${MANAGED}"], endpoint: ep-bp1fleet000000000001 }
transfer:
  allow: ${JSON.stringify(names.map((n) => `key:${n}`))}
  keys:
${names.map((n) => `    - { name: ${n}, algorithm: hmac-sha256, secret: "${o.keys[n]}" }`).join('\n')}
  notify: ${JSON.stringify(o.notify)}
state_dir: ${o.stateDir}
`;
}

function edgeYaml(o: { dnsPort: number; hubPorts: number[]; upstream: number; keyName: string; secret: string; stateDir: string }): string {
  return `listen: { dns: ["127.0.0.1:${o.dnsPort}"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${o.upstream}"] }
primaries:
  servers: ${JSON.stringify(o.hubPorts.map((p) => `127.0.0.1:${p}`))}
  managed: ["${MANAGED}"]
  key: { name: ${o.keyName}, algorithm: hmac-sha256, secret: "${o.secret}" }
  refresh: 1h
  retry: 200ms
  timeout: 3s
state_dir: ${o.stateDir}
`;
}

async function answers(d: RunningDaemon): Promise<string[]> {
  return (await dig(d.dnsPort, MANAGED)).answers.filter((a) => a.type === 'A').map((a) => a.data).sort();
}

async function until(d: RunningDaemon, want: string[], tries = 100): Promise<string[]> {
  let got: string[] = [];
  for (let i = 0; i < tries; i++) {
    got = await answers(d);
    if (JSON.stringify(got) === JSON.stringify(want)) break;
    await sleep(200);
  }
  return got;
}

t.test('one key per edge group: transfers and NOTIFY per group, a leaked key signs for its own group only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-fleetkeys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sub = (name: string) => mkdtempSync(join(dir, `${name}-`));
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const sim = await startSimulatorProcess(fleetData('10.10.0.2', '10.10.0.1'));
  t.teardown(() => sim.stop());

  const edgeBPort = await freePort();
  const hub = await startDaemon(
    hubYaml({ sim: sim.endpoint, upstream: upstream.port, keys: { 'edges-a': KEY_A, 'edges-b': KEY_B }, notify: [`127.0.0.1:${edgeBPort} key:edges-b`], stateDir: sub('hub') }),
    { env: {}, dir: sub('hubcfg') },
  );
  t.teardown(() => hub.stop());
  await hub.waitForLog((l) => l.msg === 'policy zone published');

  const stateA = sub('edge-a');
  const stateB = sub('edge-b');
  const edgeA = await startDaemon(edgeYaml({ dnsPort: 0, hubPorts: [hub.dnsPort], upstream: upstream.port, keyName: 'edges-a', secret: KEY_A, stateDir: stateA }), { env: NO_CREDENTIALS });
  t.teardown(() => edgeA.stop());
  const edgeB = await startDaemon(edgeYaml({ dnsPort: edgeBPort, hubPorts: [hub.dnsPort], upstream: upstream.port, keyName: 'edges-b', secret: KEY_B, stateDir: stateB }), { env: NO_CREDENTIALS });
  t.teardown(() => edgeB.stop());

  t.same(await until(edgeA, ['10.10.0.1', '10.10.0.2']), ['10.10.0.1', '10.10.0.2'], 'group A transfers with its own key');
  t.same(await until(edgeB, ['10.10.0.1', '10.10.0.2']), ['10.10.0.1', '10.10.0.2'], 'group B transfers with its own key');

  await t.test('a NOTIFY signed with the target group\'s key is taken (edges poll only hourly here)', async (t) => {
    await sim.setState(fleetData('10.10.0.3', '10.10.0.1'));
    t.same(await until(edgeB, ['10.10.0.1', '10.10.0.3']), ['10.10.0.1', '10.10.0.3'], 'edge B has the change without its hourly SOA check');
    t.notOk(edgeB.logs().some((l) => l.msg === 'NOTIFY without our TSIG key: ignored'), 'no NOTIFY ignored for its key');
    t.same(await answers(edgeA), ['10.10.0.1', '10.10.0.2'], 'edge A, not listed, waits for its own check');
  });

  await t.test("a primary holding group A's key: group B's edge refuses its zone, group A's takes it", async (t) => {
    const forgedSim = await startSimulatorProcess(fleetData('10.66.0.66', '10.66.0.65'));
    t.teardown(() => forgedSim.stop());
    const rogue = await startDaemon(hubYaml({ sim: forgedSim.endpoint, upstream: upstream.port, keys: { 'edges-a': KEY_A }, notify: [], stateDir: sub('rogue') }), { env: {}, dir: sub('roguecfg') });
    t.teardown(() => rogue.stop());
    await rogue.waitForLog((l) => l.msg === 'policy zone published');

    const reloadTo = async (edge: RunningDaemon, yaml: string) => {
      writeFileSync(edge.configPath, yaml);
      const seen = edge.logs().length;
      edge.proc.kill('SIGHUP');
      await edge.waitForLog((l) => l.msg === 'configuration reloaded' && edge.logs().indexOf(l) >= seen, 10_000);
    };
    await reloadTo(edgeB, edgeYaml({ dnsPort: edgeBPort, hubPorts: [rogue.dnsPort], upstream: upstream.port, keyName: 'edges-b', secret: KEY_B, stateDir: stateB }));
    const refused = await edgeB.waitForLog((l) => /keeping the zone we have/.test(String(l.msg)), 10_000);
    t.match(JSON.stringify(refused.errors), /TSIG|NOTAUTH|BADKEY/, `the rogue cannot answer group B's signed check: ${JSON.stringify(refused.errors)}`);
    for (let i = 0; i < 5; i++) {
      t.same(await answers(edgeB), ['10.10.0.1', '10.10.0.3'], `edge B keeps the hub's data (${i + 1})`);
      await sleep(200);
    }

    await reloadTo(edgeA, edgeYaml({ dnsPort: edgeA.dnsPort, hubPorts: [rogue.dnsPort], upstream: upstream.port, keyName: 'edges-a', secret: KEY_A, stateDir: stateA }));
    t.same(await until(edgeA, ['10.66.0.65', '10.66.0.66']), ['10.66.0.65', '10.66.0.66'], 'the leaked key does sign for its own group: the reach of one leak is one group');
  });
});
