import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dig, type DigResult } from '../helpers/dig';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { sleep, status } from '../helpers/hardening';
import { requireTool } from '../helpers/tools';
import { FLEET_SECRET, MANAGED, UPSTREAM_IP, fleetData, hubYaml, startEdge, startUpstream } from '../helpers/fleet';
import { startSimulatorProcess, type SimulatorProcess } from '../helpers/simulator-process';
import { saveSnapshot } from '../../src/privatelink/snapshot';
import { serialGt } from '../../src/fleet/codec/serial';
import { ownTempDirs } from '../helpers/temp-dirs';


/** This file's temporary directories, removed when its tests end. */
const tempDir = ownTempDirs(t);
/**
 * Fleet failover with hubs that hold different data, every process the real CLI on 127.0.0.1:
 * a hub without data publishes nothing (SERVFAIL, not ready) and so never outranks one with data;
 * serials come from when the data was fetched (by the API's clock), so a stale snapshot with a
 * corrupt serial store or a fast clock cannot outrank fresh data; the journal survives a restart.
 */

const ips = (r: DigResult): string[] => r.answers.filter((a) => a.type === 'A').map((a) => a.data).sort();
const TSIG = `hmac-sha256:fleet:${FLEET_SECRET}`;

function digRaw(args: string[]): Promise<string> {
  requireTool('dig');
  return new Promise((resolve) => execFile('dig', args, { timeout: 20_000, encoding: 'utf8', maxBuffer: 64 << 20 }, (_e, out, err) => resolve(`${out}${err}`)));
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ok: boolean }> {
  const start = Date.now();
  let value = await fn();
  while (!ok(value) && Date.now() - start < timeoutMs) {
    await sleep(100);
    value = await fn();
  }
  return { value, ok: ok(value) };
}

/** The hub's SOA serial over UDP (unsigned: 127.0.0.1 is in transfer.allow), or its rcode. */
async function soa(port: number): Promise<{ status: string; serial: number | undefined }> {
  const r = await dig(port, 'privatelink.rpz', 'SOA', ['+norec']);
  const a = r.answers.find((x) => x.type === 'SOA');
  return { status: r.status, serial: a ? Number(a.data.split(/\s+/)[2]) : undefined };
}

async function readyz(httpPort: number): Promise<{ code: number; body: { ready: boolean; reasons?: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  return { code: res.status, body: (await res.json()) as { ready: boolean; reasons?: string[] } };
}

/** A hub whose API credentials are wrong: it never syncs. */
const neverSyncs = (yaml: string): string => yaml.replace('access_key_secret: simulator', 'access_key_secret: not-the-secret');

async function hub(sim: SimulatorProcess, upstreamPort: number, o: { stateDir?: string; dnsPort?: number; yaml?: (y: string) => string; env?: Record<string, string>; refresh?: string } = {}): Promise<RunningDaemon> {
  const dir = o.stateDir ?? tempDir('pldns-hub-');
  const yaml = hubYaml({ sim, upstreamPort, stateDir: dir, ...(o.dnsPort ? { dnsPort: o.dnsPort } : {}), ...(o.refresh ? { refresh: o.refresh } : {}) });
  return startDaemon((o.yaml ?? ((y) => y))(yaml), { dir, ...(o.env ? { env: o.env } : {}) });
}

/**
 * libfaketime preloaded into the daemon itself (the `faketime` wrapper forks, and a signal to it
 * would not reach the daemon): its wall clock runs `offset` ahead, its timers are untouched.
 */
function fastClock(offset: string): Record<string, string> {
  requireTool('faketime');
  const lib = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime']
    .map((d) => join(d, 'libfaketimeMT.so.1'))
    .find((f) => existsSync(f));
  if (!lib) throw new Error('libfaketimeMT.so.1 not found (apt-get install faketime)');
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}

t.test('two hubs, B never syncs and starts after A\'s last change: the edge keeps A\'s IPs with A stopped and after A restarts', async (t) => {
  const sim = await startSimulatorProcess(fleetData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dirA = tempDir('pldns-hub-a-');
  let hubA = await hub(sim, upstream.port, { stateDir: dirA });
  t.teardown(() => hubA.stop());
  const portA = hubA.dnsPort;
  const s1 = (await hubA.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz')).serial as number;
  // A's last change, then B starts (its clock is later than A's change; it has no data).
  await sleep(1100);
  await sim.setState(fleetData('10.10.0.42'));
  const s2 = (await hubA.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz' && l.serial !== s1, 10_000)).serial as number;
  t.ok(serialGt(s2, s1), `A's change: serial ${s1} → ${s2}`);
  await sleep(1100);
  const hubB = await hub(sim, upstream.port, { yaml: neverSyncs });
  t.teardown(() => hubB.stop());
  await hubB.waitForLog((l) => l.msg === 'policy zone not published yet: no data from a successful sync or a snapshot (zone requests get SERVFAIL)', 10_000);

  await t.test('B without data: SERVFAIL for SOA and transfers, not ready, never a serial', async (t) => {
    const b = await soa(hubB.dnsPort);
    t.equal(b.status, 'SERVFAIL', 'SOA: SERVFAIL');
    t.equal(b.serial, undefined);
    const signed = await digRaw(['@127.0.0.1', '-p', String(hubB.dnsPort), 'privatelink.rpz', 'SOA', '+norec', '-y', TSIG]);
    t.match(signed, /status: SERVFAIL/, 'a signed SOA check too');
    const axfr = await digRaw(['@127.0.0.1', '-p', String(hubB.dnsPort), 'privatelink.rpz', 'AXFR', '-y', TSIG]);
    t.notMatch(axfr, /\sIN\s+A\s/, 'AXFR: no records');
    const r = await readyz(hubB.httpPort as number);
    t.equal(r.code, 503);
    t.ok(r.body.reasons?.some((x) => /not published: no data yet/.test(x)), `reason given: ${JSON.stringify(r.body.reasons)}`);
    t.equal((await readyz(hubA.httpPort as number)).code, 200, 'A is ready');
    t.notOk(hubB.logs().some((l) => l.msg === 'policy zone published'), 'B published nothing');
  });

  const edge = await startEdge({ hubPorts: [portA, hubB.dnsPort], upstreamPort: upstream.port, refresh: '1s' });
  t.teardown(() => edge.stop());
  const first = await until(() => dig(edge.dnsPort, MANAGED), (r) => ips(r).includes('10.10.0.42'), 15_000);
  t.ok(first.ok, `the edge takes A's zone: ${ips(first.value).join(' ')}`);

  await t.test('A stopped: the edge keeps answering A\'s IPs (B is asked and has nothing)', async (t) => {
    await hubA.stop();
    const failed = await until(() => status(edge.httpPort as number), (s) => s.transfer.lastCheck?.result === 'failed' && String(s.transfer.lastCheck?.error ?? '').length > 0, 15_000);
    t.ok(failed.ok, `the edge checked with A down: ${JSON.stringify(failed.value.transfer.lastCheck)}`);
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await dig(edge.dnsPort, MANAGED);
      answers.push(`${r.status}:${ips(r).join(',')}`);
      await sleep(100);
    }
    t.same([...new Set(answers)], ['NOERROR:10.10.0.1,10.10.0.42'], 'twenty answers over two seconds of checks: A\'s IPs every time');
    t.notOk(answers.some((a) => a.includes(UPSTREAM_IP)), 'never the upstream\'s address');
    t.equal((await status(edge.httpPort as number)).transfer.serial, s2, 'the edge still holds A\'s serial');
  });

  await t.test('A restarted: still correct, its journal kept (IXFR, not a full transfer), changes flow again', async (t) => {
    hubA = await hub(sim, upstream.port, { stateDir: dirA, dnsPort: portA });
    const again = await hubA.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 10_000);
    t.equal(again.serial, s2, 'unchanged content keeps its serial over the restart');
    t.same(ips(await dig(edge.dnsPort, MANAGED)), ['10.10.0.1', '10.10.0.42']);
    const ixfr = await digRaw(['@127.0.0.1', '-p', String(portA), 'privatelink.rpz', `IXFR=${s1}`, '+tcp', '-y', TSIG]);
    const soas = [...ixfr.matchAll(/\sSOA\s+\S+\s+\S+\s+(\d+)\s/g)].map((m) => Number(m[1]));
    t.same(soas, [s2, s1, s2, s2], `an incremental answer from ${s1} after the restart (SOA serials ${soas.join(' ')})`);
    t.match(ixfr, /10\.10\.0\.2\b/, 'the removed record');
    await sim.setState(fleetData('10.10.0.43'));
    const moved = await until(() => dig(edge.dnsPort, MANAGED), (r) => ips(r).includes('10.10.0.43'), 20_000);
    t.ok(moved.ok, 'a change after the restart reaches the edge');
  });
});

t.test('an hour-old snapshot with a corrupt serial file publishes under the snapshot\'s data time, below a hub that synced now', async (t) => {
  const sim = await startSimulatorProcess(fleetData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const oldDir = tempDir('pldns-hub-old-');
  const hourAgo = Date.now() - 3_600_000;
  await saveSnapshot(oldDir, {
    entries: [
      {
        id: 'ep-bp1fleet000000000001',
        kind: 'endpoint',
        names: [MANAGED],
        endpoint: { endpointId: 'ep-bp1fleet000000000001', endpointName: '', serviceName: 's', endpointDomain: 'ep.example', endpointStatus: 'Active', connectionStatus: 'Connected' },
        zones: [{ zoneId: 'cn-hangzhou-j', zoneDomain: '', eniId: 'eni-1', eniIp: '10.10.0.71', ipv6: '', vSwitchId: 'v', status: 'Connected' }],
        source: 'sync',
        fetchedAtMs: hourAgo,
        stale: false,
      },
    ],
    lastSuccessMs: hourAgo,
  });
  writeFileSync(join(oldDir, 'zone-serials.json'), '{"format":"privatelink-dns-zone-serials","version":1,"sha256":"00","payload":{"zones":{"privatelink.rpz":{"serial":4000000000');
  const stale = await hub(sim, upstream.port, { stateDir: oldDir, yaml: neverSyncs });
  t.teardown(() => stale.stop());
  const fresh = await hub(sim, upstream.port);
  t.teardown(() => fresh.stop());
  const old = await stale.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 10_000);
  const now = await fresh.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 10_000);
  t.ok(stale.logs().some((l) => /zone serials could not be read/.test(String(l.msg))), 'the corrupt serial file was noticed');
  t.equal(old.serial, Math.floor(hourAgo / 1000), 'the stale hub: the snapshot\'s fetch time, not its start time');
  t.ok(serialGt(now.serial as number, old.serial as number), `the fresh hub's serial ${now.serial} is higher than the stale one's ${old.serial}`);
  const [a, b] = [await soa(stale.dnsPort), await soa(fresh.dnsPort)];
  t.equal(a.serial, old.serial, 'as published on the wire');
  t.equal(b.serial, now.serial);
  t.same(ips(await dig(stale.dnsPort, `${MANAGED}.privatelink.rpz`)), ['10.10.0.71'], 'the stale hub serves its snapshot\'s data');
});

t.test('a hub whose clock runs 10 minutes fast cannot outrank fresher data, nor get a serial from its clock', async (t) => {
  requireTool('faketime');
  const sim = await startSimulatorProcess(fleetData());
  t.teardown(() => sim.stop());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const honest = await hub(sim, upstream.port);
  t.teardown(() => honest.stop());
  const h1 = (await honest.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 10_000)).serial as number;
  // The fast hub syncs at start and then only at the top of the hour: it keeps that data.
  const fast = await hub(sim, upstream.port, { refresh: '0 0 * * * *', env: fastClock('+600s') });
  t.teardown(() => fast.stop());
  const published = await fast.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz', 15_000);
  const f1 = published.serial as number;
  const realNowSec = Math.floor(Date.now() / 1000);
  t.ok(Date.parse(String(published.time)) / 1000 > realNowSec + 300, `the fast hub's clock is ahead (its log says ${published.time})`);
  t.ok(!serialGt(f1, realNowSec), `the fast hub's serial ${f1} is not ahead of the real time ${realNowSec} (its clock says ${realNowSec + 600})`);
  t.ok(!serialGt(h1, f1) || h1 - f1 < 600, 'same data: serials apart by real time only');

  await sleep(1100);
  await sim.setState(fleetData('10.10.0.77'));
  const h2 = (await honest.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz' && l.serial !== h1, 10_000)).serial as number;
  t.ok(serialGt(h2, f1), `fresher data at the honest hub (${h2}) outranks the fast hub's older data (${f1})`);
  t.equal((await soa(fast.dnsPort)).serial, f1, 'the fast hub still holds its older data and serial');
});
