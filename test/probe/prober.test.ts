import t from 'tap';
import { Prober, type ProbeObserver } from '../../src/probe/prober';
import { probeSettingsFor } from '../../src/probe/probe-settings';
import { AnswerTable, type TableEntryInput } from '../../src/resolve/table';
import type { ProbeConfig, RecordsConfig } from '../../src/config/schema';
import type { ProbeResult, RunningProbe } from '../../src/probe/tcp-probe';
import { createLogger } from '../../src/runtime/log';

const CONFIG: ProbeConfig = { port: 443, intervalMs: 1000, timeoutMs: 200, failAfter: 2, passAfter: 2, idleMs: 60_000, maxConcurrent: 64 };
const flush = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

type Behaviour = 'ok' | 'fail' | 'hang';

function harness(inputs: TableEntryInput[], over: Partial<ProbeConfig> = {}, records: Partial<RecordsConfig> = {}) {
  const config = { ...CONFIG, ...over };
  let now = 1_000_000;
  const behaviour = new Map<string, Behaviour>();
  const started: string[] = [];
  const results: string[] = [];
  const gauges = new Map<string, number>();
  let degraded = 0;
  let changes = 0;
  let table = AnswerTable.build(inputs);
  const observer: ProbeObserver = {
    probed: (r) => results.push(r),
    reachable: (entry, _zone, ip, v) => (v === undefined ? gauges.delete(`${entry} ${ip}`) : gauges.set(`${entry} ${ip}`, v)),
    degraded: (n) => (degraded = n),
  };
  const prober = new Prober({
    config,
    settingsFor: probeSettingsFor({ ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [], probe: config, ...records }),
    table: () => table,
    onChange: () => {
      changes++;
      table = AnswerTable.build(prober.apply(inputs), table.version + 1);
    },
    observer,
    logger: createLogger('silent'),
    nowMs: () => now,
    random: () => 0.5,
    start: (ip: string): RunningProbe => {
      started.push(ip);
      const b = behaviour.get(ip) ?? 'ok';
      let settle: (r: ProbeResult) => void = () => {};
      const done = new Promise<ProbeResult>((resolve) => (settle = resolve));
      if (b === 'ok') settle({ ok: true });
      if (b === 'fail') settle({ ok: false, reason: 'unreachable' });
      return { done, cancel: () => settle({ ok: false, reason: 'timeout' }) };
    },
  });
  table = AnswerTable.build(prober.apply(inputs), 1);
  const ask = (name: string): void => {
    const m = table.lookup(name);
    if (!m) throw new Error(`no ${name}`);
    m.record.rotation++;
  };
  /** Advances time in tick-sized steps, letting probe results and swaps settle. */
  const run = async (ms: number, step = 50): Promise<void> => {
    for (let i = 0; i < ms / step; i++) {
      now += step;
      prober.tick();
      await flush();
    }
  };
  return { prober, behaviour, started, results, gauges, ask, run, answers: (name: string) => table.lookup(name)?.record.ipv4, get degraded() { return degraded; }, get changes() { return changes; } };
}

const TWO: TableEntryInput[] = [
  { id: 'ep-1', names: ['a.example.com'], ipv4: ['198.18.1.1', '198.18.2.1'], ipv6: [] },
  { id: 'ep-2', names: ['b.example.com'], ipv4: ['198.18.3.1'], ipv6: [] },
];

t.test('names no one asked for are not probed', async (t) => {
  const h = harness(TWO);
  await h.run(5000);
  t.same(h.started, []);
  h.ask('a.example.com');
  await h.run(3000);
  t.ok(h.started.length >= 4, `probed: ${h.started.length}`);
  t.same([...new Set(h.started)].sort(), ['198.18.1.1', '198.18.2.1'], 'only the asked name\'s IPs');
});

t.test('a failing IP leaves the answers after fail_after, and comes back after pass_after', async (t) => {
  const h = harness(TWO);
  h.ask('a.example.com');
  await h.run(1500);
  t.same(h.answers('a.example.com'), ['198.18.1.1', '198.18.2.1']);
  h.behaviour.set('198.18.2.1', 'fail');
  await h.run(CONFIG.intervalMs * CONFIG.failAfter + 200);
  t.same(h.answers('a.example.com'), ['198.18.1.1'], 'left out');
  t.equal(h.gauges.get('ep-1 198.18.2.1'), 0);
  t.equal(h.gauges.get('ep-1 198.18.1.1'), 1);
  t.equal(h.degraded, 0);
  h.behaviour.set('198.18.2.1', 'ok');
  await h.run(CONFIG.intervalMs);
  t.same(h.answers('a.example.com'), ['198.18.1.1'], 'one pass is not enough');
  await h.run(CONFIG.intervalMs + 200);
  t.same(h.answers('a.example.com'), ['198.18.1.1', '198.18.2.1'], 'back');
  t.ok(h.results.includes('unreachable') && h.results.includes('ok'));
});

t.test('every IP failing: all answered, degraded', async (t) => {
  const h = harness(TWO);
  h.behaviour.set('198.18.1.1', 'fail');
  h.behaviour.set('198.18.2.1', 'fail');
  h.ask('a.example.com');
  await h.run(CONFIG.intervalMs * 3);
  t.same(h.answers('a.example.com'), ['198.18.1.1', '198.18.2.1']);
  t.equal(h.degraded, 1);
  t.same((h.prober.status().degraded).map((d) => d.id), ['ep-1']);
  t.equal(h.prober.status().down, 2);
});

t.test('a probe that hangs is cut at the timeout', async (t) => {
  const h = harness(TWO);
  h.behaviour.set('198.18.2.1', 'hang');
  h.ask('a.example.com');
  await h.run(CONFIG.intervalMs * 3);
  t.ok(h.results.filter((r) => r === 'timeout').length >= 2, 'timeouts counted');
  t.same(h.answers('a.example.com'), ['198.18.1.1']);
});

t.test('at most `concurrency` probes in flight', async (t) => {
  const inputs: TableEntryInput[] = [{ id: 'ep-1', names: ['a.example.com'], ipv4: Array.from({ length: 10 }, (_, i) => `198.18.0.${i + 1}`), ipv6: [] }];
  const h = harness(inputs, { maxConcurrent: 3, timeoutMs: 100_000, intervalMs: 100_000 });
  for (const ip of inputs[0]!.ipv4) h.behaviour.set(ip, 'hang');
  h.ask('a.example.com');
  await h.run(2000);
  t.equal(h.started.length, 3);
});

t.test('idle: probing stops and what was known is forgotten', async (t) => {
  const h = harness(TWO, { idleMs: 5000 });
  h.behaviour.set('198.18.2.1', 'fail');
  h.ask('a.example.com');
  await h.run(3000);
  t.same(h.answers('a.example.com'), ['198.18.1.1']);
  await h.run(3000);
  t.same(h.answers('a.example.com'), ['198.18.1.1', '198.18.2.1'], 'idle: answered again');
  t.equal(h.gauges.size, 0, 'gauges dropped');
  const count = h.started.length;
  await h.run(3000);
  t.equal(h.started.length, count, 'no more probes');
  t.equal(h.prober.status().probing, 0);
});

t.test('static entries are probed only when they ask for it; probe: false turns an entry off', async (t) => {
  const inputs: TableEntryInput[] = [
    { id: 'static:s.example.com', names: ['s.example.com'], ipv4: ['198.18.5.1', '198.18.5.2'], ipv6: [] },
    { id: 'ep-off', names: ['o.example.com'], ipv4: ['198.18.6.1', '198.18.6.2'], ipv6: [] },
    { id: 'ep-on/zone-a', names: ['z.example.com'], ipv4: ['198.18.7.1'], ipv6: [] },
  ];
  const records: Partial<RecordsConfig> = {
    entries: [
      { kind: 'static', names: ['s.example.com'], ipv4: ['198.18.5.1', '198.18.5.2'], ipv6: [] },
      { kind: 'endpoint', names: ['o.example.com'], endpointId: 'ep-off', probe: null },
      { kind: 'endpoint', names: ['on.example.com'], endpointId: 'ep-on', probe: { ...CONFIG, port: 6443 } },
    ],
  };
  const h = harness(inputs, {}, records);
  for (const n of ['s.example.com', 'o.example.com', 'z.example.com']) h.ask(n);
  await h.run(2000);
  t.same([...new Set(h.started)], ['198.18.7.1'], 'only the zone domain of the probed entry');
  t.same(h.prober.status().ips.map((i) => `${i.ip}:${i.port}`), ['198.18.7.1:6443'], 'its own port');
});

t.test('probe results survive a new table with the same IPs', async (t) => {
  const h = harness(TWO);
  h.behaviour.set('198.18.2.1', 'fail');
  h.ask('a.example.com');
  await h.run(3000);
  const next = TWO.map((i) => ({ ...i }));
  t.same(h.prober.apply(next).find((i) => i.id === 'ep-1')?.ipv4, ['198.18.1.1'], 'still left out after a sync');
});

t.test('a name is never narrowed to an IP that is failing too', async (t) => {
  const h = harness(TWO);
  h.behaviour.set('198.18.1.1', 'fail');
  h.behaviour.set('198.18.2.1', 'hang');
  h.ask('a.example.com');
  for (let i = 0; i < 40; i++) {
    await h.run(100);
    t.equal(h.answers('a.example.com')?.length, 2, `both answered at step ${i}`);
  }
  t.equal(h.degraded, 1, 'failing open');
  h.behaviour.set('198.18.2.1', 'ok');
  await h.run(CONFIG.intervalMs * CONFIG.passAfter + 400);
  t.same(h.answers('a.example.com'), ['198.18.2.1'], 'once the other is back, the down IP leaves');
  t.equal(h.degraded, 0);
});
