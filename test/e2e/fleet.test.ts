import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig, type DigResult } from '../helpers/dig';
import { restartDaemonOnSamePort, startDaemon, type RunningDaemon } from '../helpers/daemon';
import { metrics, metric, status, udpAsk, sleep } from '../helpers/hardening';
import { requireTool } from '../helpers/tools';
import { FLEET_SECRET, MANAGED, UPSTREAM_IP, WRONG_SECRET, edgeYaml, fleetData, hubYaml, startEdge, startUpstream, NO_CREDENTIALS } from '../helpers/fleet';
import { startSimulatorProcess } from '../helpers/simulator-process';
import { CLASS_IN, RRType } from '../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../src/fleet/codec/message';

/**
 * Fleet mode end to end, every process the real CLI on 127.0.0.1: a hub syncing from the
 * simulator publishes privatelink.rpz; ten edges with no privatelink section and no credentials
 * take it over AXFR/IXFR with TSIG, are told of changes by NOTIFY, and answer exactly as the hub.
 * Real dig reads every answer and drives the transfers the tests check by hand.
 */

const EDGES = 10;
const ips = (r: DigResult): string[] => r.answers.filter((a) => a.type === 'A').map((a) => a.data).sort();

function digRaw(args: string[]): Promise<string> {
  requireTool('dig');
  return new Promise((resolve) => execFile('dig', args, { timeout: 20_000, encoding: 'utf8', maxBuffer: 64 << 20 }, (_e, out, err) => resolve(`${out}${err}`)));
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ok: boolean; ms: number }> {
  const start = Date.now();
  let value = await fn();
  while (!ok(value) && Date.now() - start < timeoutMs) {
    await sleep(50);
    value = await fn();
  }
  return { value, ok: ok(value), ms: Date.now() - start };
}

const serialOf = (raw: string): number | undefined => {
  const m = /\sSOA\s+\S+\s+\S+\s+(\d+)\s/.exec(raw);
  return m ? Number(m[1]) : undefined;
};

t.test('a hub and ten credential-less edges', async (t) => {
  const sim = await startSimulatorProcess(fleetData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  // Every process binds port 0 and reports what it got, so no port is reserved ahead and lost to
  // a parallel test. The hub learns its NOTIFY targets by a reload once the edges are up.
  const hubDir = mkdtempSync(join(tmpdir(), 'pldns-hub-'));
  const hubOptions = { sim, upstreamPort: upstream.port, stateDir: hubDir };
  let hub: RunningDaemon = await startDaemon(hubYaml(hubOptions), { dir: hubDir });
  t.teardown(() => hub.stop());
  const hubPort = hub.dnsPort;
  await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz');

  // The API cost of the hub alone, per sync.
  await sleep(2500);
  const callsPerSync = async (): Promise<number> => {
    const calls = await sim.calls();
    const total = calls.total ?? 0;
    const m = await metrics(hub.httpPort as number);
    const syncs = metric(m, 'privatelink_dns_sync_attempts_total');
    return total / syncs;
  };
  const before = await callsPerSync();

  const edges: RunningDaemon[] = [];
  for (let i = 0; i < EDGES; i++) edges.push(await startEdge({ hubPorts: [hubPort], upstreamPort: upstream.port }));
  t.teardown(() => Promise.all(edges.map((e) => e.stop())));
  // From now on the hub keeps its port (a restart below binds it again) and NOTIFYs every edge.
  const hubConfig = hubYaml({ ...hubOptions, dnsPort: hubPort, notify: edges.map((e) => e.dnsPort) });
  writeFileSync(hub.configPath, hubConfig);
  hub.proc.kill('SIGHUP');
  await hub.waitForLog((l) => l.msg === 'configuration reloaded', 10_000);

  await t.test('every edge answers the managed name with the endpoint IPs and forwards the rest', async (t) => {
    for (const [i, edge] of edges.entries()) {
      const got = await until(() => dig(edge.dnsPort, MANAGED), (r) => ips(r).length === 2, 10_000);
      t.same(ips(got.value), ['10.10.0.1', '10.10.0.2'], `edge ${i}: managed name from the zone`);
      t.ok(got.value.flags.includes('aa'), `edge ${i}: authoritative, as the hub answers it`);
      const other = await dig(edge.dnsPort, 'www.example.org');
      t.same(ips(other), [UPSTREAM_IP], `edge ${i}: other names forwarded`);
    }
    const aaaa = await dig(edges[0].dnsPort, MANAGED, 'AAAA');
    t.equal(aaaa.status, 'NOERROR');
    t.equal(aaaa.answers.length, 0, 'AAAA without IPv6 addresses: NODATA, never forwarded');
    t.equal(aaaa.authority[0]?.type, 'SOA');
  });

  await t.test('cloud API calls do not grow with the edges', async (t) => {
    t.ok(Number.isFinite(before) && before > 0, `hub alone: ${before.toFixed(2)} calls per sync`);
    // Every call the simulator saw is one the hub made: the edges make none. The two counters are
    // read until they agree (a call in flight is counted by the simulator first).
    const agree = await until(async () => {
      const calls = (await sim.calls()).total ?? 0;
      const hubCalls = metric(await metrics(hub.httpPort as number), 'privatelink_dns_api_calls_total');
      return { calls, hubCalls };
    }, (v) => v.calls === v.hubCalls, 10_000);
    t.ok(agree.ok, `simulator saw ${agree.value.calls} calls, the hub made ${agree.value.hubCalls}, with ${EDGES} edges running`);
    for (const edge of edges.slice(0, 2)) {
      const s = await status(edge.httpPort as number);
      t.equal(s.source, 'transfer');
      t.equal(s.transfer.zone, 'privatelink.rpz');
      t.equal(s.transfer.primary, `127.0.0.1:${hubPort}`);
      t.ok(['axfr', 'ixfr'].includes(s.transfer.lastTransfer.kind));
      t.equal(s.endpoints.length, 0, 'an edge has no PrivateLink entries of its own');
    }
  });

  let oldSerial = 0;
  let newSerial = 0;
  await t.test('a change reaches every edge through NOTIFY', async (t) => {
    const soa = await digRaw(['@127.0.0.1', '-p', String(hubPort), 'privatelink.rpz', 'SOA', '+short', '-y', `hmac-sha256:fleet:${FLEET_SECRET}`]);
    oldSerial = Number(soa.trim().split(/\s+/)[2]);
    t.ok(oldSerial > 1_700_000_000, `the serial is a time: ${oldSerial}`);
    const changedAt = Date.now();
    await sim.setState(fleetData('10.10.0.99'));
    const hubSaw = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz' && (l.serial as number) > oldSerial, 10_000);
    newSerial = hubSaw.serial as number;
    const publishedAt = Date.parse(String(hubSaw.time ?? '')) || Date.now();
    const reached = await Promise.all(edges.map((e) => until(() => dig(e.dnsPort, MANAGED), (r) => ips(r).includes('10.10.0.99'), 15_000)));
    const last = Math.max(...reached.map((r) => r.ms));
    for (const [i, r] of reached.entries()) t.ok(r.ok, `edge ${i} answers the new IP`);
    t.comment(`propagation: simulator change → last of ${EDGES} edges answering: ${Date.now() - changedAt} ms (publish → last edge ≤ ${Math.max(0, changedAt + last - publishedAt)} ms)`);
    const m = await metrics(edges[0].httpPort as number);
    t.ok(metric(m, 'privatelink_dns_transfer_received_total', 'type="ixfr"', 'result="ok"') >= 1, 'the change came as an IXFR');
    const hm = await metrics(hub.httpPort as number);
    t.ok(metric(hm, 'privatelink_dns_transfer_notifies_sent_total', 'result="ack"') >= EDGES, 'every edge acknowledged a NOTIFY');
  });

  await t.test('an edge reloads on SIGHUP and keeps answering from the zone', async (t) => {
    const edge = edges[1];
    edge.proc.kill('SIGHUP');
    await edge.waitForLog((l) => l.msg === 'configuration reloaded', 10_000);
    t.same(ips(await dig(edge.dnsPort, MANAGED)), ['10.10.0.1', '10.10.0.99']);
    const s = await status(edge.httpPort as number);
    t.equal(s.transfer.serial, newSerial);
  });

  await t.test('dig: IXFR is incremental, AXFR needs allow or the key, never over UDP', async (t) => {
    const key = ['-y', `hmac-sha256:fleet:${FLEET_SECRET}`];
    const ixfr = await digRaw(['@127.0.0.1', '-p', String(hubPort), 'privatelink.rpz', `IXFR=${oldSerial}`, ...key]);
    const soas = ixfr.split('\n').filter((l) => /\sSOA\s/.test(l)).map((l) => serialOf(`${l} `));
    t.ok(soas.includes(oldSerial), `the old SOA is inside the answer: ${soas.join(', ')}`);
    t.match(ixfr, /10\.10\.0\.99/);
    t.notMatch(ixfr, /TSIG.*(BADSIG|BADKEY|failure)/i);
    const axfr = await digRaw(['@127.0.0.1', '-p', String(hubPort), 'privatelink.rpz', 'AXFR', ...key]);
    t.match(axfr, /cs-anony-vpc\.cn-hangzhou\.aliyuncs\.com\.privatelink\.rpz\.\s+30\s+IN\s+A\s+10\.10\.0\.99/, 'signed AXFR: the zone');
    const outsider = await digRaw(['@127.0.0.1', '-p', String(hubPort), '-b', '127.0.0.2', 'privatelink.rpz', 'AXFR']);
    t.notMatch(outsider, /IN\s+A\s+10\.10/, 'unsigned, from an address outside allow: no zone');
    t.match(outsider, /Transfer failed|REFUSED/);
    const wrong = await digRaw(['@127.0.0.1', '-p', String(hubPort), 'privatelink.rpz', 'AXFR', '-y', `hmac-sha256:fleet:${WRONG_SECRET}`]);
    t.notMatch(wrong, /IN\s+A\s+10\.10/, 'wrong key: no zone');
    const query = encodeMessage({ id: 99, flags: 0, question: { name: 'privatelink.rpz', type: RRType.AXFR, class: CLASS_IN } });
    const udp = await udpAsk(hubPort, query);
    t.ok(udp, 'AXFR over UDP gets an answer');
    const parsed = parseMessage(udp as Buffer);
    t.equal(parsed.rcode, 5, 'REFUSED');
    t.equal(parsed.answers.length, 0, 'no zone over UDP');
  });

  await t.test('hub down: edges keep answering; an edge restarted with every hub down answers from its saved zone', async (t) => {
    await hub.stop();
    for (const edge of edges.slice(0, 3)) t.same(ips(await dig(edge.dnsPort, MANAGED)), ['10.10.0.1', '10.10.0.99'], 'still answered');
    const dir = edges[0].dir;
    await edges[0].stop();
    const restarted = await startDaemon(edgeYaml({ hubPorts: [hubPort], upstreamPort: upstream.port, stateDir: dir }), { dir, env: NO_CREDENTIALS });
    edges[0] = restarted;
    t.same(ips(await dig(restarted.dnsPort, MANAGED)), ['10.10.0.1', '10.10.0.99'], 'answered from the saved zone at boot');
    const s = await status(restarted.httpPort as number);
    t.ok(s.transfer.serial > oldSerial, `serial ${s.transfer.serial} from the saved zone`);
    t.ok(s.transfer.lastCheck === null || s.transfer.lastCheck.result === 'failed', 'no primary has answered it');
    t.equal(s.transfer.lastTransfer, null, 'nothing transferred since the restart');
  });

  await t.test('a restarted hub keeps its serial (unchanged content), never goes lower', async (t) => {
    hub = await restartDaemonOnSamePort(hubConfig, { dir: hubDir });
    const published = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 10_000);
    t.equal(published.serial, newSerial, `unchanged content keeps serial ${newSerial} across the restart`);
    const soa = await digRaw(['@127.0.0.1', '-p', String(hubPort), 'privatelink.rpz', 'SOA', '+short', '-y', `hmac-sha256:fleet:${FLEET_SECRET}`]);
    t.equal(Number(soa.trim().split(/\s+/)[2]), published.serial);
    const back = await until(() => status(edges[0].httpPort as number), (s) => s.transfer.lastCheck?.result === 'unchanged' || s.transfer.lastCheck?.result === 'changed', 15_000);
    t.ok(back.ok, `the restarted edge reaches the restarted hub (last check: ${JSON.stringify(back.value.transfer.lastCheck)})`);
    const m = await metrics(edges[0].httpPort as number);
    t.ok(metric(m, 'privatelink_dns_transfer_checks_total', 'result="failed"') >= 1, 'the checks while the hub was down were counted as failed');
  });
});

t.test('two hubs behind one edge list: failover, and the serials of both only move forward', async (t) => {
  const sim = await startSimulatorProcess(fleetData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dirs = [mkdtempSync(join(tmpdir(), 'pldns-hub-a-')), mkdtempSync(join(tmpdir(), 'pldns-hub-b-'))];
  const hubA = await startDaemon(hubYaml({ sim, upstreamPort: upstream.port, stateDir: dirs[0] }));
  t.teardown(() => hubA.stop());
  const hubB = await startDaemon(hubYaml({ sim, upstreamPort: upstream.port, stateDir: dirs[1] }));
  t.teardown(() => hubB.stop());
  const [portA, portB] = [hubA.dnsPort, hubB.dnsPort];
  // A short refresh too: the property here is failover, whichever of NOTIFY or polling brings the change.
  const edge = await startEdge({ hubPorts: [portA, portB], upstreamPort: upstream.port, refresh: '2s' });
  t.teardown(() => edge.stop());
  for (const [i, hub] of [hubA, hubB].entries()) {
    writeFileSync(hub.configPath, hubYaml({ sim, upstreamPort: upstream.port, notify: [edge.dnsPort], stateDir: dirs[i] }));
    hub.proc.kill('SIGHUP');
    await hub.waitForLog((l) => l.msg === 'configuration reloaded', 10_000);
  }
  const first = await until(() => dig(edge.dnsPort, MANAGED), (r) => ips(r).length === 2, 10_000);
  t.same(ips(first.value), ['10.10.0.1', '10.10.0.2']);
  // Both hubs are asked; the one with the higher serial serves (the first listed on a tie).
  const serialOf = async (port: number): Promise<number> =>
    Number((await digRaw(['@127.0.0.1', '-p', String(port), 'privatelink.rpz', 'SOA', '+short', '-y', `hmac-sha256:fleet:${FLEET_SECRET}`])).trim().split(/\s+/)[2]);
  const [serialA, serialB] = [await serialOf(portA), await serialOf(portB)];
  const fresher = serialB > serialA ? portB : portA;
  const held = await status(edge.httpPort as number);
  t.equal(held.transfer.primary, `127.0.0.1:${fresher}`, `the fresher hub serves (A ${serialA}, B ${serialB})`);

  await hubA.stop();
  await sim.setState(fleetData('10.10.0.42'));
  const moved = await until(() => dig(edge.dnsPort, MANAGED), (r) => ips(r).includes('10.10.0.42'), 30_000);
  t.ok(moved.ok, `with hub A down, hub B brings the change (${moved.ms} ms)`);
  if (!moved.ok) t.comment(edge.logs().map((l) => JSON.stringify(l)).join('\n'));
  if (!moved.ok) t.comment(hubB.logs().slice(-15).map((l) => JSON.stringify(l)).join('\n'));
  const s = await status(edge.httpPort as number);
  t.equal(s.transfer.primary, `127.0.0.1:${portB}`);
  const soaB = await digRaw(['@127.0.0.1', '-p', String(portB), 'privatelink.rpz', 'SOA', '+short', '-y', `hmac-sha256:fleet:${FLEET_SECRET}`]);
  t.equal(s.transfer.serial, Number(soaB.trim().split(/\s+/)[2]), 'the edge holds hub B\'s serial');
});
