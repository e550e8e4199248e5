import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type RunningSimulator, type SimulatorData } from '../../src/simulator';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';
import { dig } from '../helpers/dig';
import { answerFor, metric, metrics, sleep, startResponder, status, type Responder } from '../helpers/hardening';

/**
 * Cloud side, whole process against the PrivateLink simulator: the API down at
 * boot, throttling for a while, 500s, a deleted endpoint, a read-only snapshot directory. Through
 * all of it the daemon keeps answering, never loses the last good IPs, and says so in /status,
 * /metrics and its logs.
 */
const CS = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
const REG = 'registry-cn-hangzhou-vpc.ack.aliyuncs.com';

function data(csIps: string[], withRegistry = true): SimulatorData {
  const ep = (id: string, ips: string[]): SimulatorData['endpoints'][number] => ({
    EndpointId: id, EndpointName: id, ServiceName: `com.example.${id}`, EndpointDomain: `${id}.example.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active', ConnectionStatus: 'Connected', VpcId: 'vpc-1',
    Zones: ips.map((ip, i) => ({ ZoneId: `cn-hangzhou-${'hjk'[i]}`, ZoneDomain: `${id}-${i}.example.privatelink.aliyuncs.com`, EniId: `eni-${id}-${i}`, EniIp: ip, VSwitchId: `vsw-${i}`, ZoneStatus: 'Connected' })),
  });
  return { endpoints: [ep('ep-bp1aaaaaaaaaaaaaaaaa', csIps), ...(withRegistry ? [ep('ep-bp1bbbbbbbbbbbbbbbbb', ['10.9.3.1'])] : [])] };
}

let sim: RunningSimulator | undefined;
let daemon: RunningDaemon;
let upstream: Responder;
let stateDir: string;
let locked = false;

t.teardown(async () => {
  if (locked) execFileSync('chattr', ['-i', stateDir]);
  await daemon?.stop();
  await sim?.close();
  await upstream?.close();
});

const ips = async (name: string): Promise<string[]> => (await dig(daemon.dnsPort, name, 'A')).answers.map((a) => a.data).sort();
async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return true;
    await sleep(200);
  }
  return what();
}
const throttledShown = (s: Record<string, any> | undefined): boolean =>
  (s?.backoff?.attempts ?? 0) >= 1 && s?.endpoints.filter((e: { kind: string }) => e.kind !== 'static').every((e: { stale: boolean }) => e.stale);
const apiErrors = (m: Map<string, number>, code: string): number => metric(m, 'privatelink_dns_api_calls_total', `result="${code}"`);

t.test('fault injection against the PrivateLink simulator', async (t) => {
  upstream = await startResponder((m, send) => send(answerFor(m, '192.0.2.1', { ttl: 0 })));
  const simPort = await freePort();
  stateDir = mkdtempSync(join(tmpdir(), 'pldns-state-'));
  const tried: string[] = [];

  // 1. The API is down at boot: the daemon still starts, answers static names and forwards.
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 500ms }
cache: { size: 0 }
privatelink:
  endpoint: "127.0.0.1:${simPort}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "* * * * * *"
  jitter: 0s
  timeout: 1s
  max_backoff: 4s
records:
  ttl: 30
  entries:
    - names: ["${CS}"]
      endpoint: ep-bp1aaaaaaaaaaaaaaaaa
    - names: ["${REG}"]
      endpoint: ep-bp1bbbbbbbbbbbbbbbbb
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: ${stateDir}
log: { level: info }
`);
  const http = daemon.httpPort as number;
  t.same(await ips('ntp.internal.example'), ['10.0.0.123'], 'API down at boot: static name answered');
  t.same(await ips('www.example.test'), ['192.0.2.1'], 'API down at boot: other names forwarded');
  t.equal((await dig(daemon.dnsPort, CS, 'A')).status, 'SERVFAIL', 'API down at boot: a cloud name with no data yet is SERVFAIL, never forwarded');
  t.ok(await until(async () => (await status(http)).lastSync?.result === 'failure', 5000), '/status shows the failed sync');
  t.equal((await fetch(`http://127.0.0.1:${http}/readyz`)).status, 503, '/readyz 503 while names have no IPs');
  tried.push('api-down-at-boot');

  // The API comes up: the first successful sync fills the table and writes a snapshot.
  sim = await startSimulator({ host: '127.0.0.1', port: simPort, data: data(['10.9.1.1', '10.9.2.1']) });
  t.ok(await until(async () => (await ips(CS)).length === 2, 8000), 'after the API comes up, the endpoint IPs are answered');
  t.same(await ips(REG), ['10.9.3.1']);
  t.ok(await until(async () => existsSync(join(stateDir, 'snapshot.json')), 3000), 'snapshot written');
  const goodSnapshot = readFileSync(join(stateDir, 'snapshot.json'), 'utf8');
  t.match(goodSnapshot, /10\.9\.1\.1/);

  // 2. Throttling for a while: answers stay, the sync backs off and stops asking after the first throttled call.
  let m0 = await metrics(http);
  const callsBefore = sim.calls();
  sim.addFault({ action: '*', status: 400, code: 'Throttling.User' });
  const throttleMs = 6000;
  const answersDuring: string[][] = [];
  let sThrottled: Record<string, any> | undefined;
  const tStart = Date.now();
  while (Date.now() - tStart < throttleMs) {
    answersDuring.push(await ips(CS));
    // The first /status that shows the throttling (stale entries, a backoff), however long the first throttled sync takes.
    if (!throttledShown(sThrottled)) sThrottled = await status(http);
    await sleep(500);
  }
  const callsAfter = sim.calls();
  sim.clearFaults();
  const byAction = Object.fromEntries(Object.keys(callsAfter).filter((k) => k !== 'total').map((k) => [k, (callsAfter[k] ?? 0) - (callsBefore[k] ?? 0)]));
  const throttledCalls = Object.values(byAction).reduce((a, b) => a + b, 0);
  let m1 = await metrics(http);
  const syncsDuring = metric(m1, 'privatelink_dns_sync_attempts_total') - metric(m0, 'privatelink_dns_sync_attempts_total');
  t.ok(answersDuring.every((a) => a.join() === '10.9.1.1,10.9.2.1'), `throttled for ${throttleMs} ms: every one of ${answersDuring.length} answers kept the IPs`);
  t.ok(metric(m1, 'privatelink_dns_api_calls_total', 'result="PL_THROTTLED"') > metric(m0, 'privatelink_dns_api_calls_total', 'result="PL_THROTTLED"'), 'api_calls_total{result="PL_THROTTLED"} moved');
  // Throttling backs off with full jitter on the schedule's scale (test/privatelink/throttle-fleet.test.ts
  // measures the spread on a fake clock); here: never more than the schedule's own pace, no storm.
  t.ok(syncsDuring >= 1 && syncsDuring <= throttleMs / 1000 + 1, `backed off: ${syncsDuring} syncs in ${throttleMs / 1000} s on a 1 s schedule`);
  t.ok(throttledCalls <= 2 * syncsDuring + 2, `no retry storm: ${throttledCalls} calls for ${syncsDuring} syncs of 2 endpoints (${JSON.stringify(byAction)})`);
  t.ok(sThrottled?.endpoints.filter((e: { kind: string }) => e.kind !== 'static').every((e: { stale: boolean }) => e.stale), '/status marks both cloud endpoints stale while throttled');
  t.ok((sThrottled?.backoff?.attempts ?? 0) >= 1, `/status shows the backoff (${JSON.stringify(sThrottled?.backoff)})`);
  tried.push(`throttling ${throttleMs}ms (${syncsDuring} syncs, ${throttledCalls} calls)`);

  // Recovery, then 500s.
  t.ok(await until(async () => (await status(http)).endpoints.every((e: { stale: boolean }) => !e.stale), 9000), 'recovers after the throttling ends');
  m0 = await metrics(http);
  sim.addFault({ action: '*', status: 500, code: 'InternalError' });
  t.ok(await until(async () => apiErrors(await metrics(http), 'PL_SERVER') > apiErrors(m0, 'PL_SERVER'), 5000), '500s reach the daemon');
  t.same(await ips(CS), ['10.9.1.1', '10.9.2.1'], 'during 500s the IPs stay');
  const s500 = await status(http);
  t.equal(s500.lastSync?.result, 'failure', '/status lastSync failure');
  t.match(String(s500.lastSync?.error?.code ?? ''), /PL_SERVER/, 'error code PL_SERVER');
  sim.clearFaults();
  tried.push('http 500');

  // 3. An endpoint deleted: its old IPs stay, marked stale.
  t.ok(await until(async () => (await status(http)).lastSync?.result === 'success', 9000), 'recovers after the 500s');
  sim.setData(data(['10.9.1.1', '10.9.2.1'], false));
  t.ok(await until(async () => (await status(http)).endpoints.find((e: { id: string }) => e.id === 'ep-bp1bbbbbbbbbbbbbbbbb')?.stale === true, 5000), 'deleted endpoint marked stale in /status');
  const sDeleted = await status(http);
  const reg = sDeleted.endpoints.find((e: { id: string }) => e.id === 'ep-bp1bbbbbbbbbbbbbbbbb');
  t.match(String(reg?.lastError?.code ?? ''), /NOT_FOUND/, `its lastError says not found (${reg?.lastError?.code}: ${reg?.lastError?.message})`);
  t.same(reg?.answers?.ipv4, ['10.9.3.1'], '/status still answers its old IP');
  t.same(await ips(REG), ['10.9.3.1'], 'DNS still answers the deleted endpoint with its last IP');
  t.equal(sDeleted.endpoints.find((e: { id: string }) => e.id === 'ep-bp1aaaaaaaaaaaaaaaaa')?.stale, false, 'the other endpoint is fresh');
  t.equal(sDeleted.lastSync?.result, 'partial', 'sync result partial');
  m1 = await metrics(http);
  t.equal(metric(m1, 'privatelink_dns_stale_entries'), 1, 'privatelink_dns_stale_entries 1');
  tried.push('endpoint deleted');

  // 4. Snapshot directory read-only (immutable): the write fails, is logged, the old file stays.
  execFileSync('chattr', ['+i', stateDir]);
  locked = true;
  const beforeLocked = readFileSync(join(stateDir, 'snapshot.json'), 'utf8');
  m0 = await metrics(http);
  sim.setData(data(['10.9.1.99', '10.9.2.1'], false));
  t.ok(await until(async () => (await ips(CS)).includes('10.9.1.99'), 5000), 'new IPs are served although the snapshot cannot be written');
  t.ok(await until(async () => metric(await metrics(http), 'privatelink_dns_snapshot_writes_total', 'result="error"') > metric(m0, 'privatelink_dns_snapshot_writes_total', 'result="error"'), 3000), 'snapshot_writes_total{result="error"} moved');
  await daemon.waitForLog((l) => l.msg === 'could not save the snapshot; the previous one is kept', 3000);
  t.pass('write failure logged');
  t.equal(readFileSync(join(stateDir, 'snapshot.json'), 'utf8'), beforeLocked, 'old snapshot kept intact');
  t.same(await ips('ntp.internal.example'), ['10.0.0.123'], 'daemon keeps answering');
  execFileSync('chattr', ['-i', stateDir]);
  locked = false;
  t.ok(await until(async () => readFileSync(join(stateDir, 'snapshot.json'), 'utf8').includes('10.9.1.99'), 5000), 'once writable again the new table is saved');
  tried.push('snapshot dir immutable');

  const mEnd = await metrics(http);
  t.comment(`tried: ${tried.join(', ')}; survived: all names answered throughout; sync attempts ${JSON.stringify({ success: metric(mEnd, 'privatelink_dns_sync_attempts_total', 'result="success"'), partial: metric(mEnd, 'privatelink_dns_sync_attempts_total', 'result="partial"'), failure: metric(mEnd, 'privatelink_dns_sync_attempts_total', 'result="failure"') })}, snapshot writes ok=${metric(mEnd, 'privatelink_dns_snapshot_writes_total', 'result="ok"')} error=${metric(mEnd, 'privatelink_dns_snapshot_writes_total', 'result="error"')}, stale entries=${metric(mEnd, 'privatelink_dns_stale_entries')}`);
});

t.test('disk full for the snapshot, then kill -9 during a sync', async (t) => {
  const sim2 = await startSimulator({ host: '127.0.0.1', port: 0, data: data(['10.9.1.1', '10.9.2.1']) });
  const dir = mkdtempSync(join(tmpdir(), 'pldns-full-'));
  // A 64 KB tmpfs of our own: filling it does not touch anyone else's disk.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  let d: RunningDaemon | undefined;
  t.teardown(async () => {
    await d?.stop('SIGKILL');
    await sim2.close();
    execFileSync('umount', [dir]);
  });
  const yaml = `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: [] }
privatelink:
  endpoint: "${sim2.endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "* * * * * *"
  jitter: 0s
  timeout: 5s
records:
  entries:
    - names: ["${CS}"]
      endpoint: ep-bp1aaaaaaaaaaaaaaaaa
state_dir: ${dir}
`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'pldns-cfg-'));
  d = await startDaemon(yaml, { dir: cfgDir });
  const snap = join(dir, 'snapshot.json');
  const digAt = async (dd: RunningDaemon): Promise<string[]> => (await dig(dd.dnsPort, CS, 'A')).answers.map((a) => a.data).sort();
  t.ok(await until(async () => existsSync(snap) && readFileSync(snap, 'utf8').includes('10.9.1.1'), 8000), 'first snapshot written');
  const good = readFileSync(snap, 'utf8');

  // Fill the file system, then change the data: the save fails with ENOSPC.
  const { appendFileSync, rmSync } = await import('node:fs');
  const filler = join(dir, 'filler');
  try {
    for (;;) appendFileSync(filler, Buffer.alloc(4096));
  } catch (err) {
    t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'state file system is full');
  }
  const m0 = await metrics(d.httpPort as number);
  sim2.setData(data(['10.9.1.77', '10.9.2.1']));
  t.ok(await until(async () => (await digAt(d as RunningDaemon)).includes('10.9.1.77'), 6000), 'disk full: the new IPs are served anyway');
  t.ok(await until(async () => metric(await metrics((d as RunningDaemon).httpPort as number), 'privatelink_dns_snapshot_writes_total', 'result="error"') > metric(m0, 'privatelink_dns_snapshot_writes_total', 'result="error"'), 3000), 'disk full: snapshot_writes_total{result="error"} moved');
  const logged = await d.waitForLog((l) => l.msg === 'could not save the snapshot; the previous one is kept', 3000);
  t.match(String(logged.err), /ENOSPC|no space/i, `logged with the cause (${String(logged.err).slice(0, 80)})`);
  t.equal(readFileSync(snap, 'utf8'), good, 'disk full: the old snapshot is intact');
  t.same((await import('node:fs')).readdirSync(dir).sort(), ['filler', 'snapshot.json'], 'no temp file left behind');
  rmSync(filler);
  t.ok(await until(async () => readFileSync(snap, 'utf8').includes('10.9.1.77'), 5000), 'space back: the new table is saved');

  // kill -9 while a sync is in flight (the API stalls for 3 s), then restart with the API gone.
  const calls0 = sim2.calls().total ?? 0;
  sim2.addFault({ action: '*', delayMs: 3000 });
  sim2.setData(data(['10.9.1.88', '10.9.2.1']));
  t.ok(await until(async () => (sim2.calls().total ?? 0) > calls0, 3000), 'a sync is in flight');
  await sleep(300);
  await d.stop('SIGKILL');
  const afterKill = readFileSync(snap, 'utf8');
  t.doesNotThrow(() => JSON.parse(afterKill), 'snapshot after kill -9 is whole JSON');
  await sim2.close();
  d = await startDaemon(yaml, { dir: cfgDir });
  t.same(await digAt(d), ['10.9.1.77', '10.9.2.1'], 'restarted with the API down: answers the last saved IPs at once');
  const s = await status(d.httpPort as number);
  t.equal(s.endpoints.find((e: { id: string }) => e.id === 'ep-bp1aaaaaaaaaaaaaaaaa')?.source, 'snapshot', '/status says the data comes from the snapshot');
  t.comment('tried: 64 KB tmpfs filled to ENOSPC during a table change, freed; SIGKILL during a stalled sync, restart with the API down; survived: old snapshot intact, no temp files, new IPs served, restart answered from the snapshot');
});
