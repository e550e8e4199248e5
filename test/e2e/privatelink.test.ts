import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dig, type DigResult } from '../helpers/dig';
import { CLI, startDaemon, type RunningDaemon } from '../helpers/daemon';
import { endpoint, startSimulatorProcess, zone, type SimData } from '../helpers/simulator-process';
import { loadConfigFile } from '../../src/config/load';
import { loadSnapshot, SNAPSHOT_FILE } from '../../src/privatelink/snapshot';
import { DEMO_ENDPOINT_IDS, DEMO_SIMULATOR_DATA } from '../../src/simulator';

/**
 * PrivateLink end to end: the built CLI daemon (`serve --config`) and `sync --config` against the
 * real simulator (`privatelink-dns simulate`, a child process) over HTTP, through the real client
 * library, which signs every request; the simulator verifies each signature. Answers are read
 * with real dig. All traffic stays on 127.0.0.1.
 */

// Scenarios use separate simulators and daemons; two at a time keeps the file well under 90 s.
t.jobs = 2;

// ---- helpers ------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ipsOf = (r: DigResult): string[] => r.answers.filter((a) => a.type === 'A').map((a) => a.data).sort(ipCompare);
function ipCompare(a: string, b: string): number {
  const na = a.split('.').map(Number);
  const nb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (na[i] !== nb[i]) return (na[i] ?? 0) - (nb[i] ?? 0);
  return 0;
}
const sortIps = (ips: readonly string[]): string[] => [...ips].sort(ipCompare);

/** Polls `fn` until it returns a truthy value or the deadline passes (then returns the last value). */
async function pollUntil<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, intervalMs = 100): Promise<{ value: T; ms: number; ok: boolean }> {
  const start = Date.now();
  let value = await fn();
  while (!ok(value) && Date.now() - start < timeoutMs) {
    await sleep(intervalMs);
    value = await fn();
  }
  return { value, ms: Date.now() - start, ok: ok(value) };
}

async function getJson(port: number | undefined, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (healthz)
  }
  return { status: res.status, body };
}

/** Runs `node dist/cli.js ARGS` to completion (bounded). */
function runCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-cfg-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, yaml);
  return path;
}

interface YamlOptions {
  sim: string;
  entries: Record<string, unknown>[];
  prefer?: string[];
  stateDir?: string;
  keyId?: string;
  secret?: string;
  refresh?: string;
  level?: string;
}

function plYaml(o: YamlOptions): string {
  return `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.1/32"] }
privatelink:
  endpoint: "${o.sim}"
  protocol: http
  credentials: { type: access_key, access_key_id: "${o.keyId ?? 'simulator'}", access_key_secret: "${o.secret ?? 'simulator'}" }
  refresh: "${o.refresh ?? '*/1 * * * * *'}"
  jitter: 0s
  timeout: 2s
records:
  ttl: 30
  prefer_zones: ${JSON.stringify(o.prefer ?? [])}
  entries: ${JSON.stringify(o.entries)}
limits: { lameduck: 0s }
state_dir: ${o.stateDir ? JSON.stringify(o.stateDir) : 'false'}
log: { level: ${o.level ?? 'info'} }
`;
}

/** What the daemon must answer for an endpoint, computed from the simulator's own state (SPEC "DNS behaviour"). */
function expectedIps(data: SimData, endpointId: string, prefer: readonly string[]): string[] {
  const ep = data.endpoints.find((e) => e.EndpointId === endpointId) as any;
  if (ep?.EndpointStatus !== 'Active' || ep.ConnectionStatus !== 'Connected') return [];
  const usable = (ep.Zones as any[]).filter((z) => z.ZoneStatus === 'Connected');
  const preferred = usable.filter((z) => prefer.includes(z.ZoneId));
  return sortIps((preferred.length > 0 ? preferred : usable).map((z) => z.EniIp as string));
}

const tmpFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tmp')) : []);

// ---- kill -9 during snapshot writes ---------------------------------------------------------

t.test('8. kill -9 in a loop during snapshot writes never leaves a torn snapshot', async (t) => {
  const id = 'ep-bp1churn0001';
  const churn = (n: number): SimData => ({
    endpoints: [endpoint(id, Array.from({ length: 100 }, (_, i) => zone(id, `cn-hangzhou-c${String(i).padStart(3, '0')}`, `10.60.${n % 250}.${i + 1}`)))],
  });
  const sim = await startSimulatorProcess(churn(0));
  t.teardown(() => sim.stop());
  const stateDir = mkdtempSync(join(tmpdir(), 'pldns-state-'));
  const cfgDir = mkdtempSync(join(tmpdir(), 'pldns-kill-'));
  const yaml = plYaml({ sim: sim.endpoint, entries: [{ names: ['churn.pl.test'], endpoint: id }], stateDir, refresh: '* * * * * *' });
  const entries = loadConfigFile(writeConfig(yaml)).records.entries;

  // The data changes every ~100 ms, so every sync writes a new snapshot.
  let n = 0;
  let busy = false;
  let stopChurn = false;
  const churnLoop = setInterval(() => {
    if (busy || stopChurn) return;
    busy = true;
    sim.setState(churn(++n)).catch(() => undefined).finally(() => (busy = false));
  }, 100);
  t.teardown(() => clearInterval(churnLoop));

  // Three kinds of kill, in turn: as soon as a write has begun (a temp file appears), at a random
  // moment, and just after a complete write (the snapshot's savedAtMs moved): the last is the
  // evidence that writes really happen between kills, however slow the machine is.
  const KILLS = 15;
  const report: string[] = [];
  let snapshotsSeen = 0;
  let changedBetweenKills = 0;
  let afterWriteKills = 0;
  let killedWithTempFile = 0;
  let lastSaved: number | undefined;
  const maxTempAfterKill: number[] = [];
  const savedAt = (): number | undefined => {
    try {
      return JSON.parse(readFileSync(join(stateDir, SNAPSHOT_FILE), 'utf8')).payload.savedAtMs as number;
    } catch {
      return undefined; // not there yet
    }
  };
  for (let i = 0; i < KILLS; i++) {
    const daemon = await startDaemon(yaml, { dir: cfgDir });
    let mode: string;
    if (i % 3 === 0) {
      // Kill as soon as a temp file appears (a write has begun), after 0-3 ms.
      mode = 'on-write';
      const watcher = watch(stateDir);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          mode = 'on-write(timeout)';
          resolve();
        }, 2500);
        watcher.on('change', (_ev, name) => {
          if (String(name).endsWith('.tmp')) {
            clearTimeout(timer);
            setTimeout(resolve, Math.floor(Math.random() * 4));
          }
        });
      });
      watcher.close();
    } else if (i % 3 === 1) {
      const delay = Math.floor(Math.random() * 800);
      mode = `random(${delay}ms)`;
      await sleep(delay);
    } else {
      // Kill once a complete snapshot newer than the last one checked is in place (the data
      // changes every ~100 ms and a sync runs every second, so one comes; bounded).
      const before = lastSaved;
      if (before !== undefined) afterWriteKills++; // else there is nothing to compare with yet
      const seen = await pollUntil(async () => savedAt(), (v) => v !== undefined && v !== before, 20_000, 20);
      mode = seen.ok ? 'after-write' : 'after-write(timeout)';
    }
    const exited = new Promise<void>((r) => (daemon.proc.exitCode !== null ? r() : daemon.proc.once('exit', () => r())));
    daemon.proc.kill('SIGKILL');
    await exited;
    const temps = tmpFiles(stateDir);
    if (temps.length > 0) killedWithTempFile++;
    maxTempAfterKill.push(temps.length);

    const file = join(stateDir, SNAPSHOT_FILE);
    if (!existsSync(file)) {
      report.push(`#${i} ${mode}: no snapshot yet, ${temps.length} temp`);
      t.equal(snapshotsSeen, 0, `#${i}: a snapshot, once written, never disappears`);
      continue;
    }
    snapshotsSeen++;
    const text = readFileSync(file, 'utf8');
    let doc: any;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      t.fail(`#${i} ${mode}: snapshot.json does not parse (${(err as Error).message}); ${text.length} bytes`);
      continue;
    }
    const sumOk = createHash('sha256').update(JSON.stringify(doc.payload)).digest('hex') === doc.sha256;
    t.ok(sumOk, `#${i} ${mode}: checksum verifies`);
    const loaded = await loadSnapshot(stateDir, entries).catch((err: Error) => err);
    t.notOk(loaded instanceof Error, `#${i}: loadSnapshot accepts it${loaded instanceof Error ? `: ${loaded.message}` : ''}`);
    if (!(loaded instanceof Error)) t.equal(loaded?.entries[0]?.zones.length, 100, `#${i}: complete (100 zones)`);
    if (lastSaved !== undefined && doc.payload.savedAtMs !== lastSaved) changedBetweenKills++;
    lastSaved = doc.payload.savedAtMs;
    report.push(`#${i} ${mode}: snapshot ok (saved ${new Date(doc.payload.savedAtMs).toISOString().slice(11, 23)}), ${temps.length} temp`);
  }
  stopChurn = true;
  clearInterval(churnLoop);
  t.comment(`kill loop (${KILLS} x SIGKILL, data changed ${n} times):\n# ${report.join('\n# ')}`);
  t.comment(`snapshots checked ${snapshotsSeen}, rewritten between kills ${changedBetweenKills}, kills that left a temp file ${killedWithTempFile}, temp files after each kill: ${maxTempAfterKill.join(' ')}`);
  t.ok(snapshotsSeen >= KILLS - 2, `snapshot present after ${snapshotsSeen} of ${KILLS} kills`);
  t.ok(changedBetweenKills >= afterWriteKills, `the snapshot was rewritten between kills (writes really happened): ${changedBetweenKills} times, at least once per after-write kill (${afterWriteKills})`);
  t.ok(killedWithTempFile >= 1, `${killedWithTempFile} kills landed mid-write (temp file left behind)`);
  t.ok(Math.max(...maxTempAfterKill) <= 1, 'temp files do not pile up across crashes (each start removes dead writers\' temp files)');

  // A normal start loads the last snapshot, removes dead writers' temp files, and answers.
  const leftover = tmpFiles(stateDir).length;
  const daemon = await startDaemon(yaml, { dir: cfgDir });
  t.teardown(() => daemon.stop());
  t.ok(daemon.logs().some((l) => l.msg === 'loaded the last good table from the snapshot'), 'the last snapshot loads at start');
  t.notOk(daemon.logs().some((l) => l.msg === 'ignoring the snapshot'), 'the snapshot was not rejected');
  const d = await dig(daemon.dnsPort, 'churn.pl.test', 'A', ['+tcp']);
  t.equal(d.status, 'NOERROR');
  t.equal(d.answers.length, 100, 'answers all 100 IPs at once');
  t.comment(`temp files before the clean start: ${leftover}, after (not counting the live daemon's own): ${tmpFiles(stateDir).filter((f) => !f.includes(`.${daemon.proc.pid}.`)).length}`);
  t.equal(tmpFiles(stateDir).filter((f) => !f.includes(`.${daemon.proc.pid}.`)).length, 0, 'temp files of killed writers are removed at start');
});

// ---- the main scenario: one simulator, one daemon ----------------------------------------

const GAMMA_SERVICE = 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1gammaservice';
const PREFER = ['cn-hangzhou-k'];

function mainData(): SimData {
  return {
    endpoints: [
      // Has a preferred zone: only its IP is answered for the entry's names and EndpointDomain.
      endpoint('ep-bp1alpha0001', [zone('ep-bp1alpha0001', 'cn-hangzhou-h', '10.11.0.1'), zone('ep-bp1alpha0001', 'cn-hangzhou-j', '10.11.0.2'), zone('ep-bp1alpha0001', 'cn-hangzhou-k', '10.11.0.3')]),
      // No preferred zone: every Connected zone; Disconnected and Creating zones never.
      endpoint('ep-bp1beta0002', [
        zone('ep-bp1beta0002', 'cn-hangzhou-h', '10.12.0.1'),
        zone('ep-bp1beta0002', 'cn-hangzhou-j', '10.12.0.2'),
        zone('ep-bp1beta0002', 'cn-hangzhou-i', '10.12.0.3', 'Disconnected'),
        zone('ep-bp1beta0002', 'cn-hangzhou-g', '10.12.0.4', 'Creating'),
      ]),
      // Found by service name only; a decoy of another service must not be picked.
      endpoint('ep-bp1gamma0003', [zone('ep-bp1gamma0003', 'cn-hangzhou-h', '10.13.0.1'), zone('ep-bp1gamma0003', 'cn-hangzhou-j', '10.13.0.2')], { ServiceName: GAMMA_SERVICE }),
      endpoint('ep-bp1decoy0004', [zone('ep-bp1decoy0004', 'cn-hangzhou-h', '10.14.0.1')], { ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1otherservice' }),
      // The endpoint itself is not Connected: none of its zones is answered.
      endpoint('ep-bp1down0005', [zone('ep-bp1down0005', 'cn-hangzhou-h', '10.15.0.1')], { ConnectionStatus: 'Disconnected' }),
    ],
  };
}

const MAIN_ENTRIES = [
  { names: ['alpha.pl.test'], endpoint: 'ep-bp1alpha0001' },
  { names: ['beta.pl.test', '*.beta.pl.test'], endpoint: 'ep-bp1beta0002' },
  { names: ['gamma.pl.test'], service: GAMMA_SERVICE },
  { names: ['down.pl.test'], endpoint: 'ep-bp1down0005' },
];

t.test('answers follow the simulator: Connected zones, prefer_zones, domains, service lookup, live changes, sync CLI', async (t) => {
  const sim = await startSimulatorProcess(mainData());
  t.teardown(() => sim.stop());
  const yaml = plYaml({ sim: sim.endpoint, entries: MAIN_ENTRIES, prefer: PREFER });
  const daemon = await startDaemon(yaml);
  t.teardown(() => daemon.stop());

  const first = await pollUntil(() => dig(daemon.dnsPort, 'alpha.pl.test'), (r) => r.status === 'NOERROR', 8000);
  t.ok(first.ok, `first sync answered within ${first.ms}ms`);

  await t.test('1. answers match the Connected zones (prefer_zones, EndpointDomain, ZoneDomain, exclusions)', async (t) => {
    const state = await sim.control<SimData>('GET', 'state');
    const alpha = await dig(daemon.dnsPort, 'alpha.pl.test');
    t.equal(alpha.status, 'NOERROR');
    t.ok(alpha.flags.includes('aa'), 'authoritative');
    t.same(ipsOf(alpha), expectedIps(state, 'ep-bp1alpha0001', PREFER), 'alpha: as the simulator says');
    t.same(ipsOf(alpha), ['10.11.0.3'], 'prefer_zones: only the cn-hangzhou-k zone while it is usable');
    t.ok(alpha.answers.every((a) => a.ttl === 30), 'TTL from records.ttl');

    const beta = await dig(daemon.dnsPort, 'beta.pl.test');
    t.same(ipsOf(beta), expectedIps(state, 'ep-bp1beta0002', PREFER), 'beta: as the simulator says');
    t.same(ipsOf(beta), ['10.12.0.1', '10.12.0.2'], 'no preferred zone: every Connected zone; Disconnected and Creating excluded');
    const wild = await dig(daemon.dnsPort, 'x.beta.pl.test', 'A', ['+tcp']);
    t.same(ipsOf(wild), ['10.12.0.1', '10.12.0.2'], 'wildcard name over TCP');

    const epDomain = await dig(daemon.dnsPort, 'ep-bp1alpha0001.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com');
    t.equal(epDomain.status, 'NOERROR', 'EndpointDomain is a managed name');
    t.same(ipsOf(epDomain), ['10.11.0.3'], 'EndpointDomain answers like the entry');
    const zoneDomain = await dig(daemon.dnsPort, 'ep-bp1alpha0001-cn-hangzhou-h.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com');
    t.equal(zoneDomain.status, 'NOERROR', 'ZoneDomain is a managed name');
    t.same(ipsOf(zoneDomain), ['10.11.0.1'], 'ZoneDomain answers that zone only (prefer_zones does not apply)');
    const betaEp = await dig(daemon.dnsPort, 'ep-bp1beta0002.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com');
    t.same(ipsOf(betaEp), ['10.12.0.1', '10.12.0.2'], 'EndpointDomain of beta');

    const down = await dig(daemon.dnsPort, 'down.pl.test');
    t.equal(down.status, 'SERVFAIL', 'an endpoint that is not Connected answers no IP (SERVFAIL), never forwarded');
    t.equal(down.answers.length, 0);

    const status = await getJson(daemon.httpPort, '/status');
    t.equal(status.status, 200);
    const beta2 = status.body.endpoints.find((e: any) => e.id === 'ep-bp1beta0002');
    t.equal(beta2.source, 'sync');
    t.same(beta2.zones.filter((z: any) => z.answered).map((z: any) => z.ip).sort(), ['10.12.0.1', '10.12.0.2'], '/status marks the answered zones');
  });

  await t.test('3. an endpoint found by service name', async (t) => {
    const gamma = await dig(daemon.dnsPort, 'gamma.pl.test');
    t.equal(gamma.status, 'NOERROR');
    t.same(ipsOf(gamma), ['10.13.0.1', '10.13.0.2'], 'the endpoint of that service, not the decoy');
    t.notMatch(gamma.raw, /10\.14\.0\.1/);
    const status = await getJson(daemon.httpPort, '/status');
    const entry = status.body.endpoints.find((e: any) => e.id === `service:${GAMMA_SERVICE}`);
    t.equal(entry?.endpoint?.endpointId, 'ep-bp1gamma0003', '/status shows the endpoint the service resolved to');
  });

  await t.test('10. sync --json lists names and IPs, exit 0', async (t) => {
    const cfg = writeConfig(yaml);
    const r = await runCli(['sync', '--config', cfg, '--json']);
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr})`);
    const out = JSON.parse(r.stdout) as { result: string; errors: unknown[]; table: { id: string; names: string[]; ipv4: string[] }[] };
    t.equal(out.result, 'success');
    t.same(out.errors, []);
    const byId = new Map(out.table.map((e) => [e.id, e]));
    t.same(sortIps(byId.get('ep-bp1alpha0001')?.ipv4 ?? []), ['10.11.0.3']);
    t.ok(byId.get('ep-bp1alpha0001')?.names.includes('alpha.pl.test'), 'configured name listed');
    t.ok(byId.get('ep-bp1alpha0001')?.names.includes('ep-bp1alpha0001.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com'), 'EndpointDomain listed');
    t.same(sortIps(byId.get(`service:${GAMMA_SERVICE}`)?.ipv4 ?? []), ['10.13.0.1', '10.13.0.2']);
    t.same(byId.get('ep-bp1down0005')?.ipv4, [], 'a non-Connected endpoint has no IPs');
    // Every name the sync lists answers exactly the IPs it lists.
    let checked = 0;
    for (const entry of out.table) {
      const name = entry.names.find((n) => !n.startsWith('*.'));
      if (!name || entry.ipv4.length === 0) continue;
      const d = await dig(daemon.dnsPort, name);
      t.same(ipsOf(d), sortIps(entry.ipv4), `daemon agrees with sync for ${name}`);
      checked++;
    }
    t.ok(checked >= 5, `${checked} names compared`);

  });

  await t.test('2. a zone set to Disconnected disappears within one refresh', async (t) => {
    const data = mainData();
    const beta = data.endpoints[1] as any;
    beta.Zones[1].ZoneStatus = 'Disconnected'; // 10.12.0.2
    const before = await dig(daemon.dnsPort, 'beta.pl.test');
    t.same(ipsOf(before), ['10.12.0.1', '10.12.0.2'], 'both IPs before the change');
    await sim.setState(data);
    const gone = await pollUntil(() => dig(daemon.dnsPort, 'beta.pl.test'), (r) => r.status === 'NOERROR' && ipsOf(r).join() === '10.12.0.1', 5000);
    t.ok(gone.ok, `10.12.0.2 gone after ${gone.ms}ms`);
    t.ok(gone.ms <= 2500, `within one refresh (1s schedule, jitter 0): ${gone.ms}ms`);
    t.comment(`zone disconnect visible after ${gone.ms}ms`);
  });

  await t.test('6. a wrong secret: SignatureDoesNotMatch in logs, /status and sync exit 1; the daemon keeps running', async (t) => {
    const badYaml = plYaml({ sim: sim.endpoint, entries: MAIN_ENTRIES, secret: 'not-the-secret' });
    const r = await runCli(['sync', '--config', writeConfig(badYaml)]);
    t.equal(r.code, 1, 'sync exits 1');
    t.match(r.stderr, /SignatureDoesNotMatch/, 'sync prints the API error code');
    t.notMatch(r.stderr, /\n\s+at .*\(/, 'no stack trace');

    const bad = await startDaemon(badYaml);
    t.teardown(() => bad.stop());
    const line = await bad.waitForLog((l) => JSON.stringify(l).includes('SignatureDoesNotMatch'), 8000);
    t.ok(line, 'the log names SignatureDoesNotMatch');
    // Several failed syncs later it is still alive, healthy and answering.
    const failures = await pollUntil(
      async () => bad.logs().filter((l) => l.msg === 'sync failed; the previous data stays' && l.result === 'failure').length,
      (n) => n >= 2,
      6000,
    );
    t.ok(failures.value >= 2, `${failures.value} failed syncs logged`);
    t.equal(bad.proc.exitCode, null, 'daemon still running');
    const health = await getJson(bad.httpPort, '/healthz');
    t.equal(health.status, 200);
    const status = await getJson(bad.httpPort, '/status');
    t.equal(status.body.lastSync?.result, 'failure');
    t.match(status.body.lastSync?.error?.message, /SignatureDoesNotMatch/, '/status lastSync.error');
    t.match(status.body.endpoints[0]?.lastError?.message, /SignatureDoesNotMatch/, '/status endpoint lastError');
    const d = await dig(bad.dnsPort, 'alpha.pl.test');
    t.equal(d.status, 'SERVFAIL', 'a managed name with no data: SERVFAIL, the daemon still answers');
  });
});

// ---- paging ---------------------------------------------------------------------------------

t.test('4. paging: 120 zones in one endpoint come in 3 pages of ListVpcEndpointZones', async (t) => {
  const id = 'ep-bp1paged0001';
  const zones = Array.from({ length: 120 }, (_, i) => zone(id, `cn-hangzhou-p${String(i).padStart(3, '0')}`, `10.20.${Math.floor(i / 100)}.${(i % 100) + 1}`));
  const all = sortIps(zones.map((z) => z.EniIp as string));
  const sim = await startSimulatorProcess({ endpoints: [endpoint(id, zones)] });
  t.teardown(() => sim.stop());
  const yaml = plYaml({ sim: sim.endpoint, entries: [{ names: ['paged.pl.test'], endpoint: id }] });
  const daemon = await startDaemon(yaml);
  t.teardown(() => daemon.stop());

  const r = await pollUntil(() => dig(daemon.dnsPort, 'paged.pl.test', 'A', ['+tcp']), (d) => d.answers.length === 120, 8000);
  t.ok(r.ok, `120 answers over TCP after ${r.ms}ms`);
  t.same(ipsOf(r.value), all, 'every zone IP, from every page');
  const status = await getJson(daemon.httpPort, '/status');
  t.equal(status.body.endpoints[0].zones.length, 120, '/status: 120 zones');
  t.same(sortIps(status.body.endpoints[0].answers.ipv4), all, '/status: all 120 IPs answered');

  // Daemon calls per sync: zone calls are 3x the endpoint calls (give or take a sync in flight).
  // Counted per sync, not per second: wait for a few syncs however long they take on a loaded machine.
  await sim.resetCalls();
  const synced = await pollUntil(() => sim.calls(), (c) => (c.ListVpcEndpoints ?? 0) >= 3, 20_000);
  const dc = synced.value;
  t.comment(`daemon calls over ${synced.ms} ms: ${JSON.stringify(dc)}`);
  t.ok(synced.ok, 'the daemon synced repeatedly');
  t.ok(Math.abs((dc.ListVpcEndpointZones ?? 0) - 3 * (dc.ListVpcEndpoints ?? 0)) <= 3, 'about 3 zone pages per sync');

  // One exact sync: 1 ListVpcEndpoints, 3 ListVpcEndpointZones (50 + 50 + 20).
  await daemon.stop();
  await sim.resetCalls();
  const sync = await runCli(['sync', '--config', writeConfig(yaml), '--json']);
  t.equal(sync.code, 0);
  const out = JSON.parse(sync.stdout) as { table: { id: string; ipv4: string[] }[] };
  t.same(sortIps(out.table.find((e) => e.id === id)?.ipv4 ?? []), all, 'sync --json lists all 120 IPs');
  const calls = await sim.calls();
  t.comment(`one sync: ${JSON.stringify(calls)}`);
  t.equal(calls.ListVpcEndpoints, 1);
  t.equal(calls.ListVpcEndpointZones, 3, 'three pages (MaxResults 50)');
});

// ---- throttling -----------------------------------------------------------------------------

t.test('5. throttling backs off (call counts) while answers continue from the previous table', async (t) => {
  const id = 'ep-bp1thr0001';
  const data = (ip: string): SimData => ({ endpoints: [endpoint(id, [zone(id, 'cn-hangzhou-h', `${ip}1`), zone(id, 'cn-hangzhou-j', `${ip}2`)])] });
  const sim = await startSimulatorProcess(data('10.30.0.'));
  t.teardown(() => sim.stop());
  const daemon = await startDaemon(plYaml({ sim: sim.endpoint, entries: [{ names: ['thr.pl.test'], endpoint: id }] }));
  t.teardown(() => daemon.stop());
  const ready = await pollUntil(() => dig(daemon.dnsPort, 'thr.pl.test'), (d) => ipsOf(d).length === 2, 8000);
  t.ok(ready.ok, 'first sync done');

  await sim.control('POST', 'faults', { action: '*', status: 400, code: 'Throttling.User', times: 1000 });
  // Count from the first sync that met the fault: one already running when it landed may still
  // make its later calls (however long that takes on a loaded machine).
  const throttled = await pollUntil(() => getJson(daemon.httpPort, '/status'), (s) => s.body.lastSync?.error?.code === 'PL_THROTTLED', 15_000);
  t.ok(throttled.ok, `a sync met the throttling (${throttled.ms} ms)`);
  await sim.resetCalls();
  const t0 = Date.now();
  // New data the daemon cannot see while throttled: answers must stay the previous table's.
  await sim.setState(data('10.31.0.'));
  // Ten queries, one per refresh tick: every one must be answered from the previous table, however
  // long each takes; the window is at least ten ticks, so the call count below is against the
  // schedule of the time that really passed.
  const asked = 10;
  let answered = 0;
  for (let i = 1; i <= asked; i++) {
    const d = await dig(daemon.dnsPort, 'thr.pl.test');
    if (d.status === 'NOERROR' && ipsOf(d).join() === '10.30.0.1,10.30.0.2') answered++;
    else t.fail(`answer during throttling: ${d.status} ${ipsOf(d).join()}`);
    await sleep(Math.max(0, t0 + i * 1000 - Date.now()));
  }
  const calls = await sim.calls();
  const elapsed = (Date.now() - t0) / 1000;
  const scheduled = Math.floor(elapsed); // refresh every second, jitter 0: one sync (one call) per tick without backoff
  t.comment(`throttled for ${elapsed.toFixed(1)}s: ${calls.total} API calls where the schedule alone would make ~${scheduled}; calls ${JSON.stringify(calls)}`);
  t.equal(answered, asked, `answered from the previous table ${answered} of ${asked} times`);
  t.ok(calls.total >= 2, 'syncs were still attempted');
  t.ok(calls.total <= scheduled - 3, `backoff: ${calls.total} calls <= ${scheduled - 3}`);
  t.notOk(calls.ListVpcEndpointZones, 'a throttled sync stops at the first throttled call');

  const backoffLines = daemon.logs().filter((l) => l.msg === 'PrivateLink API errors; backing off');
  const maxAttempts = Math.max(0, ...backoffLines.map((l) => Number(l.attempts)));
  t.ok(maxAttempts >= 2, `backoff attempts grew to ${maxAttempts}`);
  t.comment(`backoff waits (ms): ${backoffLines.map((l) => l.waitMs).join(', ')}`);
  const status = await getJson(daemon.httpPort, '/status');
  t.equal(status.body.lastSync?.error?.code, 'PL_THROTTLED', '/status names the throttling');
  t.ok(status.body.backoff?.attempts >= 2, '/status shows the backoff');
  t.equal(status.body.endpoints[0].stale, true, 'entry marked stale');
  t.same(sortIps(status.body.endpoints[0].answers.ipv4), ['10.30.0.1', '10.30.0.2'], 'previous IPs kept');
  await sim.control('DELETE', 'faults');
});

// ---- snapshot across restarts -------------------------------------------------------------

t.test('7. a daemon started while the simulator is down answers from the previous run’s snapshot', async (t) => {
  const id = 'ep-bp1snap0001';
  const stateDir = mkdtempSync(join(tmpdir(), 'pldns-state-'));
  const sim = await startSimulatorProcess({ endpoints: [endpoint(id, [zone(id, 'cn-hangzhou-h', '10.50.0.1'), zone(id, 'cn-hangzhou-j', '10.50.0.2')])] });
  t.teardown(() => sim.stop());
  const yaml = plYaml({ sim: sim.endpoint, entries: [{ names: ['snap.pl.test'], endpoint: id }], stateDir });
  const first = await startDaemon(yaml);
  t.teardown(() => first.stop());
  const ok = await pollUntil(() => dig(first.dnsPort, 'snap.pl.test'), (d) => ipsOf(d).length === 2, 8000);
  t.ok(ok.ok, 'first run synced');
  const saved = await pollUntil(async () => existsSync(join(stateDir, SNAPSHOT_FILE)), (v) => v, 5000);
  t.ok(saved.ok, 'snapshot written');
  t.equal(await first.stop(), 0, 'first run stopped cleanly');
  await sim.stop();

  const second = await startDaemon(yaml);
  t.teardown(() => second.stop());
  t.ok(second.logs().some((l) => l.msg === 'loaded the last good table from the snapshot'), 'snapshot loaded at start');
  const d = await dig(second.dnsPort, 'snap.pl.test');
  t.equal(d.status, 'NOERROR');
  t.same(ipsOf(d), ['10.50.0.1', '10.50.0.2'], 'answers from the snapshot at once');
  // The first sync against the dead simulator fails; answers and source stay.
  await second.waitForLog((l) => l.msg === 'sync failed; the previous data stays', 8000);
  const after = await dig(second.dnsPort, 'snap.pl.test');
  t.same(ipsOf(after), ['10.50.0.1', '10.50.0.2'], 'still answering after the failed sync');
  const status = await getJson(second.httpPort, '/status');
  t.equal(status.body.endpoints[0].source, 'snapshot', '/status: source snapshot');
  t.equal(status.body.endpoints[0].stale, true);
  t.equal(status.body.endpoints[0].lastError?.code, 'PL_NETWORK', 'the sync error is shown');
});

// ---- serve --demo -------------------------------------------------------------------------

async function portBusy(kind: 'udp' | 'tcp', port: number): Promise<string | undefined> {
  if (kind === 'tcp') {
    const server = net.createServer();
    return new Promise((resolve) => {
      server.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? String(err)));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(undefined)));
    });
  }
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    sock.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? String(err)));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(undefined)));
  });
}

t.test('9. serve --demo answers cs-anony-vpc.cn-hangzhou.aliyuncs.com on 127.0.0.1:5353', async (t) => {
  // The demo's ports are fixed. Another run of the demo may hold them for a moment: wait (bounded),
  // then fail with a clear message rather than test something else.
  const checks = [['udp', 5353], ['tcp', 5353], ['tcp', 8053]] as const;
  const probe = async () => (await Promise.all(checks.map(async ([kind, port]) => ((await portBusy(kind, port)) ? `127.0.0.1:${port}/${kind}` : undefined)))).filter(Boolean);
  const free = await pollUntil(probe, (busy) => busy.length === 0, 20_000, 500);
  if (!free.ok) {
    t.fail(`${free.value.join(', ')} busy for 20s: serve --demo needs the fixed ports 5353 (DNS) and 8053 (HTTP); stop whatever listens there and rerun`);
    return;
  }
  const daemon: RunningDaemon = await startDaemon('', { args: ['serve', '--demo'] });
  t.teardown(() => daemon.stop());
  t.equal(daemon.dnsPort, 5353, 'DNS on 5353');
  t.equal(daemon.httpPort, 8053, 'HTTP on 8053');
  // Only managed names: the demo forwards everything else to the machine's resolv.conf servers.
  const cp = DEMO_SIMULATOR_DATA.endpoints.find((e) => e.EndpointId === DEMO_ENDPOINT_IDS.controlPlane);
  const want = sortIps((cp?.Zones ?? []).filter((z) => z.ZoneStatus === 'Connected').map((z) => z.EniIp as string));
  t.ok(want.length >= 2, 'demo data has control-plane IPs');
  const r = await pollUntil(() => dig(5353, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com'), (d) => d.status === 'NOERROR' && d.answers.length > 0, 8000);
  t.equal(r.value.status, 'NOERROR', `dig @127.0.0.1 -p 5353 cs-anony-vpc.cn-hangzhou.aliyuncs.com (${r.ms}ms)`);
  t.same(ipsOf(r.value), want, 'the demo endpoint’s Connected zone IPs');
  t.ok(r.value.flags.includes('aa'));
  t.ok(ipsOf(r.value).every((ip) => !ip.startsWith('100.')), 'never a 100.64/10 address');
  const reg = DEMO_SIMULATOR_DATA.endpoints.find((e) => e.EndpointId === DEMO_ENDPOINT_IDS.registry);
  const regDig = await dig(5353, 'registry-cn-hangzhou-vpc.ack.aliyuncs.com', 'A', ['+tcp']);
  t.same(ipsOf(regDig), sortIps((reg?.Zones ?? []).filter((z) => z.ZoneStatus === 'Connected').map((z) => z.EniIp as string)), 'registry (by service name) without its Disconnected zone');
  const status = await getJson(8053, '/status');
  t.equal(status.status, 200);
  t.match(status.body.demo?.simulator, /^http:\/\/127\.0\.0\.1:\d+$/, '/status shows the in-process simulator');
});
