import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync, type PathLike } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EntryConfig } from '../../src/config/schema';
import { Metrics, snapshotObserver } from '../../src/metrics';
import type { EntryState, SyncState } from '../../src/privatelink/model';
import { SNAPSHOT_FILE, SnapshotStore, loadSnapshot, saveSnapshot } from '../../src/privatelink/snapshot';
import { bigState } from '../helpers/big-sync-state';
import { captureLogger } from '../helpers/privatelink-fake';

const config: EntryConfig[] = [
  { kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' },
  { kind: 'service', names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'], serviceName: 'com.example.svc', vpcId: 'vpc-1' },
  { kind: 'static', names: ['ntp.internal.example'], ipv4: ['10.0.0.123'], ipv6: [] },
];

const epA = (ip = '10.0.0.1', extra: Partial<EntryState> = {}): EntryState => ({
  id: 'ep-a',
  kind: 'endpoint',
  names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'],
  endpoint: { endpointId: 'ep-a', endpointName: 'n', serviceName: 's', endpointDomain: 'ep-a.example.com', endpointStatus: 'Active', connectionStatus: 'Connected' },
  zones: [{ zoneId: 'k', zoneDomain: 'k.ep-a.example.com', eniId: 'eni-1', eniIp: ip, ipv6: 'fd00::1', vSwitchId: 'vsw', status: 'Connected' }],
  source: 'sync',
  fetchedAtMs: 1000,
  stale: false,
  ...extra,
});

const svc: EntryState = {
  id: 'service:com.example.svc@vpc-1',
  kind: 'service',
  names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'],
  zones: [],
  source: 'sync',
  stale: true,
  lastError: { code: 'PL_NOT_FOUND', message: 'gone', atMs: 2000 },
};

const state = (ip?: string, extra?: Partial<EntryState>): SyncState => ({
  entries: [epA(ip, extra), svc, { id: 'static:ntp.internal.example', kind: 'static', names: ['ntp.internal.example'], zones: [], addresses: { ipv4: ['10.0.0.123'], ipv6: [] }, source: 'static', stale: false }],
  lastSuccessMs: 900,
  lastAttempt: { startedAtMs: 2000, durationMs: 5, result: 'partial' },
});

async function tmpdir(t: Test): Promise<string> {
  const dir = await fsp.mkdtemp(join(os.tmpdir(), 'pldns-snapshot-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('round trip', async (t) => {
  const dir = await tmpdir(t);
  await saveSnapshot(dir, state());
  const loaded = await loadSnapshot(dir, config);
  t.same(loaded, {
    entries: [{ ...epA(), source: 'snapshot' }, { ...svc, source: 'snapshot' }, state().entries[2]],
    lastSuccessMs: 900,
  });
  const files = await fsp.readdir(dir);
  t.same(files, [SNAPSHOT_FILE], 'no temp file left behind');
  const raw = JSON.parse(await fsp.readFile(join(dir, SNAPSHOT_FILE), 'utf8'));
  t.equal(raw.version, 1);
  t.equal(raw.sha256, createHash('sha256').update(JSON.stringify(raw.payload)).digest('hex'));
  t.notOk(raw.payload.entries.some((e: EntryState) => e.kind === 'static'), 'static entries come from config, not the file');
});

t.test('load follows the current config', async (t) => {
  const dir = await tmpdir(t);
  await saveSnapshot(dir, state());
  const now: EntryConfig[] = [
    { kind: 'endpoint', names: ['renamed.example.com'], endpointId: 'ep-a' },
    { kind: 'endpoint', names: ['new.example.com'], endpointId: 'ep-new' },
  ];
  const loaded = await loadSnapshot(dir, now);
  t.same(loaded?.entries.map((e) => [e.id, e.names, e.source, e.zones.length]), [
    ['ep-a', ['renamed.example.com'], 'snapshot', 1],
    ['ep-new', ['new.example.com'], 'sync', 0],
  ]);
  t.equal(await loadSnapshot(join(dir, 'nothing-here'), config), undefined, 'absent: undefined');
});

t.test('torn, corrupt and foreign files are rejected', async (t) => {
  const dir = await tmpdir(t);
  const file = join(dir, SNAPSHOT_FILE);
  await saveSnapshot(dir, state());
  const good = await fsp.readFile(file, 'utf8');
  const doc = JSON.parse(good);

  const cases: [string, string, RegExp][] = [
    ['truncated', good.slice(0, Math.floor(good.length / 2)), /not valid JSON/],
    ['empty', '', /not valid JSON/],
    ['edited IP', good.replace('10.0.0.1', '10.0.0.2'), /checksum/],
    ['wrong version', JSON.stringify({ ...doc, version: 2 }), /unsupported snapshot version 2/],
    ['not ours', JSON.stringify({ hello: 'world' }), /not a privatelink-dns snapshot/],
    ['checksum missing', JSON.stringify({ ...doc, sha256: undefined }), /checksum/],
  ];
  const badShape = { ...doc.payload, entries: [{ ...doc.payload.entries[0], zones: [{ zoneId: 1 }] }] };
  cases.push(['bad shape, valid checksum', JSON.stringify({ ...doc, payload: badShape, sha256: createHash('sha256').update(JSON.stringify(badShape)).digest('hex') }), /zones\[0\]/]);
  for (const [name, text, message] of cases) {
    await fsp.writeFile(file, text);
    await t.rejects(loadSnapshot(dir, config), { code: 'SNAPSHOT_INVALID', message }, name);
  }
  await fsp.writeFile(file, good);
  t.ok(await loadSnapshot(dir, config), 'the good file still loads');
});

const isRoot = process.getuid?.() === 0;
// root ignores permission bits; the immutable attribute stops even root
const canChattr = isRoot && probeChattr();

function probeChattr(): boolean {
  const dir = mkdtempSync(join(os.tmpdir(), 'pldns-chattr-'));
  try {
    const ok = spawnSync('chattr', ['+i', dir]).status === 0;
    if (ok) spawnSync('chattr', ['-i', dir]);
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function makeUnwritable(t: Test, dir: string): Promise<void> {
  if (isRoot) {
    t.equal(spawnSync('chattr', ['+i', dir]).status, 0, 'chattr +i');
    t.teardown(() => void spawnSync('chattr', ['-i', dir]));
  } else {
    await fsp.chmod(dir, 0o500);
    t.teardown(() => fsp.chmod(dir, 0o700));
  }
}

t.test('unwritable directory: SNAPSHOT_WRITE, old snapshot intact', async (t) => {
  // Root ignores file modes, so it needs chattr (e2fsprogs, installed by .ci/run): missing is a failure, not a skip.
  if (isRoot && !canChattr) {
    t.fail('running as root without a working chattr +i: cannot make a directory unwritable (apt-get install e2fsprogs)');
    return;
  }
  const dir = await tmpdir(t);
  await saveSnapshot(dir, state('10.0.0.1'));
  const before = await fsp.readFile(join(dir, SNAPSHOT_FILE));
  await makeUnwritable(t, dir);
  await t.rejects(saveSnapshot(dir, state('10.0.0.2')), { code: 'SNAPSHOT_WRITE' });
  t.same(await fsp.readFile(join(dir, SNAPSHOT_FILE)), before, 'old file byte for byte');
  t.same(await fsp.readdir(dir), [SNAPSHOT_FILE]);
});

t.test('a failure at the rename step leaves the old file and no temp', async (t) => {
  const dir = await tmpdir(t);
  await saveSnapshot(dir, state('10.0.0.1'));
  const before = await fsp.readFile(join(dir, SNAPSHOT_FILE));
  const fs = { ...fsp, rename: async () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
  await t.rejects(saveSnapshot(dir, state('10.0.0.2'), { fs }), { code: 'SNAPSHOT_WRITE', message: /EIO/ });
  t.same(await fsp.readFile(join(dir, SNAPSHOT_FILE)), before);
  t.same(await fsp.readdir(dir), [SNAPSHOT_FILE], 'temp file removed');
});

t.test('store: writes on content change, not on age or stale markers alone', async (t) => {
  const dir = await tmpdir(t);
  const metrics = new Metrics({ processMetrics: false });
  let now = 10_000;
  const store = new SnapshotStore({ dir, observer: snapshotObserver(metrics), rewriteIntervalMs: 60_000, now: () => now });
  t.equal(await store.save({ entries: [{ ...epA(), source: 'snapshot' }] }), false, 'nothing fetched by this process: no write');
  t.equal(await store.save(state('10.0.0.1')), true, 'first write');
  now += 1000;
  t.equal(await store.save(state('10.0.0.1', { fetchedAtMs: 5000, stale: true, lastError: { code: 'PL_SERVER', message: 'x', atMs: 5 } })), false, 'same content: skipped');
  t.equal(await store.save(state('10.0.0.9')), true, 'IP changed: written');
  t.equal((await loadSnapshot(dir, config))?.entries[0]?.zones[0]?.eniIp, '10.0.0.9');
  now += 60_000;
  t.equal(await store.save(state('10.0.0.9', { fetchedAtMs: now })), true, 'unchanged but the saved ages are an interval old: rewritten');
  t.equal((await loadSnapshot(dir, config))?.entries[0]?.fetchedAtMs, now);
  const writes = (await metrics.snapshotWrites.get()).values.map((v) => [v.labels.result, v.value]);
  t.same(writes, [['ok', 3]]);

  const reloaded = new SnapshotStore({ dir, now: () => now });
  t.ok(await reloaded.load(config));
  t.equal(await reloaded.save(state('10.0.0.9')), true, 'first save of a new process refreshes the ages');
  t.equal(await reloaded.save(state('10.0.0.9')), false);
});

t.test('store: a failed write is reported, counted and retried next time', async (t) => {
  const dir = await tmpdir(t);
  const metrics = new Metrics({ processMetrics: false });
  let fail = true;
  const fs = { ...fsp, rename: async (a: PathLike, b: PathLike) => (fail ? Promise.reject(new Error('ENOSPC')) : fsp.rename(a, b)) };
  const { logger, lines } = captureLogger();
  const store = new SnapshotStore({ dir, observer: snapshotObserver(metrics), fs, logger });
  await t.rejects(store.save(state()), { code: 'SNAPSHOT_WRITE' });
  await t.rejects(store.save(state()), { code: 'SNAPSHOT_WRITE' });
  t.same(lines.filter((l) => Number(l.level) >= 40).map((l) => l.msg), ['could not save the snapshot; the previous one is kept'], 'the first failure logged once');
  t.match(lines[0], { dir, err: /ENOSPC/ });
  fail = false;
  t.equal(await store.save(state()), true, 'same content is written once the disk recovers');
  t.match(lines.at(-1), { level: 30, msg: 'snapshot saved again', afterFailedWrites: 2 });
  t.same((await metrics.snapshotWrites.get()).values.map((v) => [v.labels.result, v.value]).sort(), [['error', 2], ['ok', 1]]);
});

t.test('kill -9 during saves leaves the old or the new snapshot, never a torn one', async (t) => {
  const dir = await tmpdir(t);
  const fixtures = await tmpdir(t);
  // The writer child runs the built saveSnapshot (dist/, `npm run build` first) on these two states.
  const stateFiles = ['A', 'B'].map((tag) => {
    const file = join(fixtures, `${tag}.json`);
    writeFileSync(file, JSON.stringify(bigState(tag)));
    return file;
  });
  const helper = resolve(__dirname, '../helpers/snapshot-writer.cjs');
  const zonesOf = (s: SyncState): string[] => (s.entries[0]?.zones ?? []).map((z) => z.eniIp);
  const a = zonesOf(bigState('A'));
  const b = zonesOf(bigState('B'));
  const seen = new Set<string>();
  for (let round = 0; round < 4; round++) {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, [helper, dir, ...stateFiles], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d) => String(d).includes('ready') && res());
      child.on('exit', (code) => rej(new Error(`writer exited early (${code}): ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)));
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const loaded = await loadSnapshot(dir, [{ kind: 'endpoint', names: ['x.example.com'], endpointId: 'ep-a' }]);
    const ips = loaded ? zonesOf(loaded) : [];
    const which = JSON.stringify(ips) === JSON.stringify(a) ? 'A' : JSON.stringify(ips) === JSON.stringify(b) ? 'B' : 'torn';
    t.not(which, 'torn', `round ${round}: a complete snapshot`);
    seen.add(which);
  }
  t.comment(`states seen after kills: ${[...seen].join(', ')}`);
});

t.test('a table larger than a start reads (16 MiB) is not written: SNAPSHOT_WRITE, the previous snapshot kept', async (t) => {
  const dir = await tmpdir(t);
  await saveSnapshot(dir, state());
  const before = await fsp.readFile(join(dir, SNAPSHOT_FILE), 'utf8');
  const huge = bigState('A', 150_000); // ~22 MB of JSON
  await t.rejects(saveSnapshot(dir, huge), { code: 'SNAPSHOT_WRITE', message: /over the 16777216 a start reads/ });
  t.equal(await fsp.readFile(join(dir, SNAPSHOT_FILE), 'utf8'), before, 'the previous snapshot is untouched');
  t.same(await fsp.readdir(dir), [SNAPSHOT_FILE], 'no temp file left behind');
  t.equal((await loadSnapshot(dir, config))?.entries[0]?.endpoint?.endpointId, epA().endpoint?.endpointId, 'and a start still reads it');
  // Just under the cap: written, and read back whole.
  const under = bigState('B', 100_000);
  await saveSnapshot(dir, under);
  const { size } = await fsp.stat(join(dir, SNAPSHOT_FILE));
  t.ok(size > 12 * 1024 * 1024 && size <= 16 * 1024 * 1024, `${size} bytes: under the cap, written`);
  const loaded = await loadSnapshot(dir, [{ kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' }]);
  t.equal(loaded?.entries[0]?.zones.length, 100_000, 'a start reads everything the writer wrote');
});
