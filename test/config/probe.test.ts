import t from 'tap';
import { validateConfig } from '../../src/config/validate';

const entry = { names: ['api.example.com'], endpoint: 'ep-abc123' };
const records = (r: Record<string, unknown>) => validateConfig({ region: 'cn-hangzhou', records: r });

t.test('records.probe: off unless asked for; defaults, overrides', async (t) => {
  t.equal(records({}).config?.records.probe, null, 'absent: off');
  const on = records({ probe: true });
  t.same(on.config?.records.probe, { port: 443, intervalMs: 5000, timeoutMs: 1000, failAfter: 2, passAfter: 2, idleMs: 600_000, maxConcurrent: 64 });
  const set = records({ probe: { port: 6443, interval: '2s', timeout: '300ms', fail_after: 3, pass_after: 1, idle: '1m', concurrency: 8 } });
  t.same(set.config?.records.probe, { port: 6443, intervalMs: 2000, timeoutMs: 300, failAfter: 3, passAfter: 1, idleMs: 60_000, maxConcurrent: 8 });
  t.equal(records({ probe: false }).config?.records.probe, null);
});

t.test('records.probe: problems', async (t) => {
  const cases: [unknown, string, string][] = [
    [{ port: 0 }, 'records.probe.port', 'integer from 1 to 65535'],
    [{ timeout: '10s', interval: '5s' }, 'records.probe.timeout', 'not be longer than interval'],
    [{ fail_after: 0 }, 'records.probe.fail_after', 'integer'],
    [{ every: '1s' }, 'records.probe.every', 'unknown key'],
    ['yes', 'records.probe', 'mapping'],
  ];
  for (const [probe, path, text] of cases) {
    const r = records({ probe });
    t.match(r.problems, [{ path, problem: new RegExp(text) }], JSON.stringify(probe));
  }
});

t.test('records.entries[].probe: false, true, a partial override', async (t) => {
  const r = records({
    probe: { interval: '3s' },
    entries: [
      { ...entry, probe: { port: 6443 } },
      { names: ['b.example.com'], endpoint: 'ep-b', probe: false },
      { names: ['s.example.com'], addresses: ['10.0.0.1'], probe: true },
      { names: ['t.example.com'], addresses: ['10.0.0.2'] },
    ],
  });
  const e = r.config?.records.entries ?? [];
  t.same(e[0]?.probe, { port: 6443, intervalMs: 3000, timeoutMs: 1000, failAfter: 2, passAfter: 2 }, 'override on top of records.probe');
  t.equal(e[1]?.probe, null);
  t.same(e[2]?.probe, { port: 443, intervalMs: 3000, timeoutMs: 1000, failAfter: 2, passAfter: 2 });
  t.notOk('probe' in (e[3] ?? {}), 'absent stays absent');
  t.match(records({ entries: [{ ...entry, probe: { bogus: 1 } }] }).problems, [{ path: 'records.entries[0].probe.bogus' }]);
  t.match(records({ probe: false, entries: [{ ...entry, probe: { port: 1 } }] }).problems, [{ path: 'records.entries[0].probe', problem: /records.probe is false/ }]);
});
