import t from 'tap';
import type { EntryConfig, PrivateLinkConfig } from '../../src/config/schema';
import { PldnsError } from '../../src/errors';
import { Metrics, syncObserver } from '../../src/metrics';
import type { SyncState } from '../../src/privatelink/model';
import type { TableEntryInput } from '../../src/resolve/table';
import { Syncer, cronScheduler, type StateInfo, type SyncerConfig, type SyncerOptions } from '../../src/privatelink/sync';
import { FakeApi, FakeClock, ManualScheduler, captureLogger, deferred, endpoint, flush, zone } from '../helpers/privatelink-fake';

const entries: EntryConfig[] = [
  { kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' },
  { kind: 'endpoint', names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'], endpointId: 'ep-b' },
  { kind: 'static', names: ['ntp.internal.example'], ipv4: ['10.0.0.123'], ipv6: [] },
];

function config(list: EntryConfig[] = entries, pl: Partial<PrivateLinkConfig> = {}, region = 'cn-hangzhou'): SyncerConfig {
  return {
    region,
    privatelink: {
      endpoint: '127.0.0.1:1',
      protocol: 'http',
      connectTo: null,
      caPem: null,
      credentials: { type: 'default' },
      bootstrap: [],
      refresh: '*/30 * * * * *',
      jitterMs: 1000,
      timeoutMs: 1000,
      maxStaleMs: 86_400_000,
      maxBackoffMs: 8000,
      quotaPerMinute: 1000,
      ...pl,
    },
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: list },
  };
}

interface Harness {
  api: FakeApi;
  clock: FakeClock;
  sched: ManualScheduler;
  metrics: Metrics;
  lines: Record<string, unknown>[];
  updates: { state: SyncState; inputs: TableEntryInput[]; info: StateInfo }[];
  rebuilds: boolean[];
  syncer: Syncer;
  ips(name: string): string[] | undefined;
}

function harness(over: Partial<SyncerOptions> = {}): Harness {
  const api = new FakeApi();
  api.endpoints = [endpoint('ep-a', [zone('k', '10.0.0.1'), zone('j', '10.0.0.2')]), endpoint('ep-b', [zone('k', '10.0.1.1')])];
  const clock = new FakeClock();
  const sched = new ManualScheduler();
  const metrics = new Metrics({ processMetrics: false });
  const { logger, lines } = captureLogger();
  const updates: Harness['updates'] = [];
  const rebuilds: boolean[] = [];
  const syncer = new Syncer({
    api: ({ rebuild }) => {
      rebuilds.push(rebuild);
      return api;
    },
    config: config(),
    observer: syncObserver(metrics),
    logger,
    onState: (state, inputs, info) => updates.push({ state, inputs, info }),
    clock,
    random: () => 0.5,
    scheduler: sched.scheduler,
    ...over,
  });
  const ips = (name: string): string[] | undefined => {
    const v4 = updates.at(-1)?.inputs.find((i) => i.names.includes(name))?.ipv4;
    return v4 ? [...v4].sort() : undefined;
  };
  return { api, clock, sched, metrics, lines, updates, rebuilds, syncer, ips };
}

async function metric(m: Metrics, name: 'syncs' | 'usableIps' | 'staleEntries' | 'tableAgeSeconds' | 'lastSyncSuccess'): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m[name].get()).values) out[Object.values(v.labels).join(',') || '_'] = v.value;
  return out;
}

const throttled = (retryAfterMs?: number): PldnsError =>
  new PldnsError('PL_THROTTLED', 'Throttling.User', retryAfterMs === undefined ? undefined : { details: { retryAfterMs } });

t.test('a successful sync builds the whole table', async (t) => {
  const h = harness();
  const out = await h.syncer.syncOnce();
  t.equal(out.result, 'success');
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['10.0.0.1', '10.0.0.2']);
  t.same(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), ['10.0.1.1']);
  t.same(h.ips('ntp.internal.example'), ['10.0.0.123']);
  t.same(h.ips('ep-a.epsrv.cn-hangzhou.privatelink.aliyuncs.com'), ['10.0.0.1', '10.0.0.2'], 'endpoint domain');
  t.equal(h.updates.length, 1);
  t.same(h.updates[0]?.info, { tableChanged: true, reason: 'sync' });
  t.match(out.state, { lastAttempt: { result: 'success', startedAtMs: h.clock.now() }, lastSuccessMs: h.clock.now() });
  t.same(await metric(h.metrics, 'syncs'), { success: 1 });
  t.same(await metric(h.metrics, 'usableIps'), { 'ep-a': 2, 'ep-b': 1, 'static:ntp.internal.example': 1 });
  t.same(await metric(h.metrics, 'staleEntries'), { _: 0 });
  t.same(await metric(h.metrics, 'lastSyncSuccess'), { _: Math.floor(h.clock.now() / 1000) });

  await h.syncer.syncOnce();
  t.same(h.updates[1]?.info, { tableChanged: false, reason: 'sync' }, 'same answers: table unchanged');
});

t.test('a failed endpoint keeps its previous IPs, marked stale: partial', async (t) => {
  const h = harness();
  await h.syncer.syncOnce();
  const firstFetch = h.clock.now();
  await h.clock.advance(30_000);
  h.api.endpoints[0]!.zones = [zone('k', '10.0.0.7')];
  h.api.failNext('listVpcEndpointZones', new PldnsError('PL_SERVER', 'InternalError'), 'ep-b');
  const out = await h.syncer.syncOnce();
  t.equal(out.result, 'partial');
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['10.0.0.7'], 'the healthy endpoint is updated');
  t.same(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), ['10.0.1.1'], 'the failed endpoint still answers its old IP');
  const b = out.state.entries.find((e) => e.id === 'ep-b');
  t.match(b, { stale: true, fetchedAtMs: firstFetch, lastError: { code: 'PL_SERVER', atMs: h.clock.now() } });
  t.equal(out.state.entries.find((e) => e.id === 'ep-a')?.stale, false);
  t.equal(out.state.lastSuccessMs, firstFetch, 'last success not moved by a partial sync');
  t.same(out.errors.map((e) => [e.entryId, e.code]), [['ep-b', 'PL_SERVER']]);
  t.same(await metric(h.metrics, 'staleEntries'), { _: 1 });
  t.same(await metric(h.metrics, 'tableAgeSeconds'), { _: 30 });
  t.same(await metric(h.metrics, 'syncs'), { success: 1, partial: 1 });
  const warns = h.lines.filter((l) => l.level === 40 && l.component === 'sync' && l.msg !== 'bad item skipped');
  t.equal(warns.length, 1, 'one warning line for the failed sync');
  t.match(warns[0], { result: 'partial', failed: 1, failures: [{ entry: 'ep-b', code: 'PL_SERVER', ageMs: 30_000 }] }, 'the entry, its code and its age inside it');
  t.ok(h.lines.some((l) => l.level === 30 && l.msg === 'addresses changed' && l.entry === 'ep-a' && JSON.stringify(l.old) === '["10.0.0.1","10.0.0.2"]' && JSON.stringify(l.new) === '["10.0.0.7"]'), 'old → new addresses at info');

  await h.clock.advance(10_000);
  const again = await h.syncer.syncOnce();
  t.equal(again.result, 'success');
  t.match(again.state.entries.find((e) => e.id === 'ep-b'), { stale: false, fetchedAtMs: h.clock.now() });
});

t.test('every endpoint failing is a failure; nothing becomes "no IPs"', async (t) => {
  const h = harness();
  await h.syncer.syncOnce();
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_NETWORK', 'ECONNREFUSED'));
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_NETWORK', 'ECONNREFUSED'));
  const out = await h.syncer.syncOnce();
  t.equal(out.result, 'failure');
  t.match(out.state.lastAttempt, { result: 'failure', error: { code: 'PL_NETWORK' } });
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['10.0.0.1', '10.0.0.2']);
  t.same(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), ['10.0.1.1']);
  t.same(await metric(h.metrics, 'syncs'), { success: 1, failure: 1 });
});

t.test('a snapshot state answers until the API comes back', async (t) => {
  const snapshot: SyncState = {
    entries: [
      { id: 'ep-a', kind: 'endpoint', names: ['old.example.com'], endpoint: { endpointId: 'ep-a', endpointName: '', serviceName: '', endpointDomain: '', endpointStatus: 'Active', connectionStatus: 'Connected' }, zones: [{ zoneId: 'k', zoneDomain: '', eniId: '', eniIp: '10.0.0.99', ipv6: '', vSwitchId: '', status: 'Connected' }], source: 'snapshot', fetchedAtMs: 5, stale: false },
      { id: 'ep-gone', kind: 'endpoint', names: ['gone.example.com'], zones: [], source: 'snapshot', stale: false },
    ],
  };
  const h = harness({ initialState: snapshot });
  const now = h.syncer.current();
  t.same(now.state.entries.map((e) => e.id), ['ep-a', 'ep-b', 'static:ntp.internal.example'], 'aligned to config');
  t.same(now.inputs.find((i) => i.id === 'ep-a')?.names, ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], 'configured names win');
  t.same(now.inputs.find((i) => i.id === 'ep-a')?.ipv4, ['10.0.0.99']);

  h.api.failNext('listVpcEndpoints', new PldnsError('PL_NETWORK', 'down'));
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_NETWORK', 'down'));
  const out = await h.syncer.syncOnce();
  t.match(out.state.entries[0], { source: 'snapshot', stale: true, fetchedAtMs: 5 });
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['10.0.0.99']);
  t.same(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), [], 'never-fetched entry: managed, no IPs');
  const ok = await h.syncer.syncOnce();
  t.match(ok.state.entries[0], { source: 'sync', stale: false });
});

t.test('syncs never overlap', async (t) => {
  const h = harness();
  const gate = deferred();
  h.api.gate = () => gate.promise;
  const first = h.syncer.syncOnce();
  const second = h.syncer.syncOnce();
  t.equal(second, first, 'a second call joins the running sync');
  t.equal(h.syncer.busy, true);
  h.syncer.start();
  h.sched.tick();
  await h.clock.advance(5000);
  t.equal(h.api.count('listVpcEndpoints'), 2, 'one call per endpoint, no second sync');
  t.ok(h.lines.some((l) => l.level === 20 && /tick skipped/.test(String(l.msg))), 'skipped tick logged at debug');
  gate.resolve();
  await first;
  t.equal(h.syncer.busy, false);
  t.equal(h.updates.length, 1);
  await h.syncer.stop();
});

t.test('start: immediate first sync, then cron ticks with jitter', async (t) => {
  const h = harness({ random: () => 0.25 });
  h.syncer.start();
  t.same(h.sched.expressions, ['*/30 * * * * *']);
  await h.clock.advance(0);
  t.equal(h.updates.length, 1, 'first sync without waiting for a tick');
  h.sched.tick();
  t.same(h.clock.pending.map((p) => p.at - h.clock.now()), [250], 'jitter = random * jitterMs');
  await h.clock.advance(249);
  t.equal(h.updates.length, 1, 'not before the jitter');
  await h.clock.advance(1);
  t.equal(h.updates.length, 2);
  await h.syncer.stop();
  t.equal(h.sched.active, 0, 'schedule stopped');
  h.sched.tick();
  await h.clock.advance(5000);
  t.equal(h.updates.length, 2, 'no sync after stop');
});

t.test('after throttling: one retry at a random time on the scale of the schedule, doubling, ticks skipped, reset after success', async (t) => {
  // refresh every 30 s: the cap starts at 30 s (not a second) and doubles up to max_backoff.
  const h = harness({ random: () => 0.999, config: config(entries, { maxBackoffMs: 600_000 }) });
  const waits: number[] = [];
  h.api.failNext('listVpcEndpoints', throttled());
  h.syncer.start();
  await h.clock.advance(0);
  for (let i = 0; i < 5; i++) {
    const b = h.syncer.backoff();
    t.equal(b.attempts, i + 1);
    t.equal(b.nextAttemptMs, b.untilMs, 'the retry is scheduled at the end of the wait (shown in /status)');
    waits.push(b.untilMs - (h.updates.at(-1)?.state.lastAttempt?.startedAtMs ?? NaN));
    if (i < 4) h.api.failNext('listVpcEndpoints', throttled());
    const before = h.api.count('listVpcEndpoints');
    h.sched.tick(); // inside the backoff: skipped
    await h.clock.advance(1000);
    t.equal(h.api.count('listVpcEndpoints'), before, `tick ${i} skipped while backing off`);
    await h.clock.advance(b.untilMs - h.clock.now());
    t.ok(h.api.count('listVpcEndpoints') > before, `retry ${i} ran at the end of the wait, without a tick`);
  }
  t.same(waits, [29_970, 59_940, 119_880, 239_760, 479_520], 'full jitter (random 0.999) under a cap of 30 s doubling');
  t.equal(h.updates.at(-1)?.state.lastAttempt?.result, 'success');
  t.same(h.syncer.backoff(), { attempts: 0, untilMs: 0 }, 'reset after success, no retry pending');
  await h.syncer.stop();
});

t.test('after a throttle, the rest of the sync is not asked', async (t) => {
  const h = harness({ concurrency: 1 });
  await h.syncer.syncOnce();
  h.api.failNext('listVpcEndpointZones', throttled(), 'ep-a');
  const out = await h.syncer.syncOnce();
  t.equal(h.api.count('listVpcEndpoints'), 3, 'ep-b not asked after ep-a was throttled');
  t.same(out.errors.map((e) => [e.entryId, e.code]), [['ep-a', 'PL_THROTTLED'], ['ep-b', 'PL_THROTTLED']]);
  t.match(out.state.entries[1]?.lastError?.message, /skipped/);
  t.same(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), ['10.0.1.1'], 'skipped entry keeps its data');
});

t.test('backoff respects retryAfterMs and full jitter can be short', async (t) => {
  const h = harness({ random: () => 0 });
  h.api.failNext('listVpcEndpoints', throttled(5000));
  await h.syncer.syncOnce();
  t.equal(h.syncer.backoff().untilMs - h.clock.now(), 5000, 'Retry-After is the floor');
  h.api.failNext('listVpcEndpoints', throttled(10 * 60_000));
  await h.syncer.syncOnce();
  t.equal(h.syncer.backoff().untilMs - h.clock.now(), 8000, 'but capped at maxBackoffMs');
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_SERVER', '503'));
  await h.syncer.syncOnce();
  t.same(h.syncer.backoff(), { attempts: 3, untilMs: h.clock.now(), reason: { code: 'PL_SERVER', message: '503' } }, 'random 0: no wait, attempts still counted');
});

t.test('not-found and auth errors do not back off; auth rebuilds the client', async (t) => {
  const h = harness();
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_NOT_FOUND', 'EndpointNotFound'));
  await h.syncer.syncOnce();
  t.same(h.syncer.backoff(), { attempts: 0, untilMs: 0 });
  h.api.failNext('listVpcEndpoints', new PldnsError('PL_AUTH', 'InvalidAccessKeyId.NotFound'));
  await h.syncer.syncOnce();
  await h.syncer.syncOnce();
  await h.syncer.syncOnce();
  t.same(h.rebuilds, [false, false, true, false], 'rebuild requested once, after the auth failure');
});

t.test('a missing RAM policy backs off for a minute or more, keeps the client and says which action', async (t) => {
  const h = harness({ random: () => 0, config: config(entries, { maxBackoffMs: 600_000 }) });
  await h.syncer.syncOnce();
  const denied = new PldnsError('PL_FORBIDDEN', 'ListVpcEndpoints denied: Forbidden.RAM', { details: { action: 'ListVpcEndpoints', apiCode: 'Forbidden.RAM', ramAction: 'privatelink:ListVpcEndpoints' } });
  h.api.failNext('listVpcEndpoints', denied);
  const out = await h.syncer.syncOnce();
  t.same(out.errors.map((e) => e.code), ['PL_FORBIDDEN', 'PL_FORBIDDEN'], 'both entries share the denied listing');
  const b = h.syncer.backoff();
  t.equal(b.attempts, 1);
  t.equal(b.untilMs - h.clock.now(), 30_000, 'random 0: half of the 60 s floor, far more than full jitter alone (0)');
  t.same(b.reason, { code: 'PL_FORBIDDEN', message: 'ListVpcEndpoints denied: Forbidden.RAM' });
  t.match(h.lines.find((l) => l.ramAction === 'privatelink:ListVpcEndpoints'), { level: 50 }, 'logged at error with the RAM action');
  h.syncer.start();
  h.sched.tick();
  await h.clock.advance(10_000);
  t.equal(h.api.count('listVpcEndpoints'), 3, 'no sync during the backoff (2 first sync + 1 denied)');
  await h.syncer.stop();
  await h.syncer.syncOnce();
  t.same(h.rebuilds, [false, false, false], 'the client and its credential are kept (no rebuild)');
});

t.test('an API provider that throws fails the sync without losing data', async (t) => {
  const h = harness();
  await h.syncer.syncOnce();
  let fail = true;
  h.syncer.reconfigure(config(), {
    api: () => {
      if (fail) throw new PldnsError('PL_CREDENTIALS', 'no credentials');
      return h.api;
    },
  });
  const out = await h.syncer.syncOnce();
  t.equal(out.result, 'failure');
  t.same(out.errors.map((e) => e.code), ['PL_CREDENTIALS', 'PL_CREDENTIALS']);
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), ['10.0.0.1', '10.0.0.2']);
  fail = false;
  t.equal((await h.syncer.syncOnce()).result, 'success');
});

t.test('a hung call times out instead of blocking every later sync', async (t) => {
  const h = harness({ entryTimeoutMs: 3000 });
  h.api.gate = () => new Promise<void>(() => undefined);
  const run = h.syncer.syncOnce();
  await h.clock.advance(3000);
  const out = await run;
  t.equal(out.result, 'failure');
  t.same(out.errors.map((e) => e.code), ['PL_NETWORK', 'PL_NETWORK']);
});

t.test('stop waits for the running sync', async (t) => {
  const h = harness();
  const gate = deferred();
  h.api.gate = () => gate.promise;
  h.syncer.start();
  await h.clock.advance(0);
  let stopped = false;
  const stopping = h.syncer.stop().then(() => (stopped = true));
  await flush();
  t.equal(stopped, false);
  gate.resolve();
  await stopping;
  t.equal(h.updates.length, 1, 'the running sync completed');
});

t.test('reconfigure keeps unchanged entries and syncs new ones', async (t) => {
  const h = harness();
  h.api.endpoints.push(endpoint('ep-c', [zone('k', '10.0.2.1')]));
  h.syncer.start();
  await h.clock.advance(0);
  const aFetched = h.syncer.current().state.entries[0]?.fetchedAtMs;
  await h.clock.advance(1000);

  const gate = deferred();
  h.api.gate = () => gate.promise;
  const next: EntryConfig[] = [
    { kind: 'endpoint', names: ['renamed.example.com'], endpointId: 'ep-a' },
    { kind: 'endpoint', names: ['new.example.com'], endpointId: 'ep-c' },
  ];
  h.syncer.reconfigure(config(next, { refresh: '0 * * * * *' }));
  const update = h.updates.at(-1);
  t.same(update?.info, { tableChanged: true, reason: 'reconfigure' });
  t.same(update?.state.entries.map((e) => e.id), ['ep-a', 'ep-c']);
  t.match(update?.state.entries[0], { names: ['renamed.example.com'], fetchedAtMs: aFetched, stale: false }, 'ep-a keeps its data');
  t.same(h.ips('renamed.example.com'), ['10.0.0.1', '10.0.0.2']);
  t.same(h.ips('new.example.com'), [], 'new entry managed before its first sync');
  t.equal(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), undefined, 'removed entry gone');
  t.same(await metric(h.metrics, 'usableIps'), { 'ep-a': 2, 'ep-c': 0 }, 'metric series of removed entries dropped');
  t.same(h.sched.expressions, ['*/30 * * * * *', '0 * * * * *'], 'schedule re-armed');
  t.equal(h.sched.active, 1);

  gate.resolve();
  await h.clock.advance(0);
  t.same(h.ips('new.example.com'), ['10.0.2.1'], 'the new entry was synced at once');
  await h.syncer.stop();
});

t.test('a reload while a sync runs: the result follows the new config', async (t) => {
  const h = harness();
  const gate = deferred();
  h.api.gate = () => gate.promise;
  const run = h.syncer.syncOnce();
  h.syncer.reconfigure(config([entries[0]!]));
  gate.resolve();
  const out = await run;
  t.same(out.state.entries.map((e) => e.id), ['ep-a']);
  t.equal(h.ips('registry-cn-hangzhou-vpc.ack.aliyuncs.com'), undefined);
});

t.test('a region change drops data of the old region', async (t) => {
  const h = harness();
  await h.syncer.syncOnce();
  h.syncer.reconfigure(config(entries, {}, 'cn-beijing'));
  t.same(h.ips('cs-anony-vpc.cn-hangzhou.aliyuncs.com'), []);
  t.equal(h.updates.at(-1)?.state.entries[0]?.fetchedAtMs, undefined);
});

t.test('the default scheduler is node-cron and stops for good', async (t) => {
  const { logger } = captureLogger();
  let ticks = 0;
  const job = cronScheduler('* * * * * *', () => ticks++, logger);
  await new Promise((r) => setTimeout(r, 1100));
  job.stop();
  const seen = ticks;
  t.ok(seen >= 1, 'ticked within a second');
  await new Promise((r) => setTimeout(r, 1100));
  t.equal(ticks, seen, 'no tick after stop');
});

t.test('logs: one line per failed sync with every entry inside, info when it recovers', async (t) => {
  const h = harness();
  await h.syncer.syncOnce();
  t.notOk(h.lines.some((l) => l.msg === 'sync recovered'), 'a first success is no recovery');
  h.api.failNext('listVpcEndpointZones', new PldnsError('PL_NETWORK', 'ECONNREFUSED'), 'ep-a');
  h.api.failNext('listVpcEndpointZones', new PldnsError('PL_NETWORK', 'ECONNREFUSED'), 'ep-b');
  const before = h.lines.length;
  const out = await h.syncer.syncOnce();
  t.equal(out.result, 'failure');
  const lines = h.lines.slice(before).filter((l) => Number(l.level) >= 40 && l.msg !== 'bad item skipped');
  t.equal(lines.length, 1, 'two failed entries, one line');
  t.match(lines[0], { result: 'failure', failed: 2, consecutiveFailures: 1 });
  t.same(((lines[0]?.failures ?? []) as { entry: string }[]).map((f) => f.entry).sort(), ['ep-a', 'ep-b']);
  t.notOk(h.lines.slice(before).some((l) => l.msg === 'addresses changed'), 'stale data kept: no address change');
  await h.clock.advance(60_000);
  await h.syncer.syncOnce();
  const recovered = h.lines.filter((l) => l.msg === 'sync recovered');
  t.equal(recovered.length, 1);
  t.match(recovered[0], { level: 30, afterFailedSyncs: 1 });
  await h.syncer.syncOnce();
  t.equal(h.lines.filter((l) => l.msg === 'sync recovered').length, 1, 'only the first success after failures');
});

t.test('the inputs of one state are built once: the start\'s address log and first table share them', async (t) => {
  const h = harness();
  const first = h.syncer.current();
  t.equal(h.syncer.current().inputs, first.inputs, 'the same inputs for the same state');
  await h.syncer.syncOnce();
  const synced = h.syncer.current();
  t.not(synced.state, first.state);
  t.not(synced.inputs, first.inputs, 'a new state, new inputs');
  t.equal(h.updates.at(-1)?.inputs, synced.inputs, 'what was published is what current() gives');
  h.syncer.reconfigure(config());
  t.not(h.syncer.current().inputs, synced.inputs, 'a new config, new inputs');
});
