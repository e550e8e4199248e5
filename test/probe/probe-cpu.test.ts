import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../helpers/ports';

/**
 * The cost of probing 1,000 IPs at the default interval (5 s: 200 connects a second), as process
 * CPU time over wall time, in a plain node process running dist/ (`npm run build` first).
 */

const IPS = 1000;
const INTERVAL_MS = 5000;
const MEASURE_MS = 20_000;

t.test('probing 1,000 IPs: CPU time per second of wall time', async (t) => {
  const port = await freePort();
  const runner = join(__dirname, '..', 'helpers', 'probe-cpu-runner.cjs');
  const r = spawnSync(process.execPath, [runner, String(IPS), String(port), String(INTERVAL_MS), String(INTERVAL_MS + 1000), String(MEASURE_MS)], { encoding: 'utf8', timeout: 90_000 });
  t.equal(r.status, 0, `runner exit: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { probes: number; results: Record<string, number>; userUs: number; systemUs: number; wallUs: number };
  const expected = (IPS * MEASURE_MS) / INTERVAL_MS;
  t.ok(m.probes >= expected * 0.85 && m.probes <= expected * 1.15, `about ${expected} probes in ${MEASURE_MS} ms: ${m.probes}`);
  t.same(Object.keys(m.results), ['ok'], 'every probe succeeded');
  const user = m.userUs / m.wallUs;
  const total = (m.userUs + m.systemUs) / m.wallUs;
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  t.comment(`figure: ${m.probes} probes in ${(m.wallUs / 1e6).toFixed(1)} s; user ${pct(user)} + system ${pct(total - user)} = ${pct(total)} of a core; `
    + `${((m.userUs + m.systemUs) / m.probes).toFixed(1)} µs per probe (${(m.userUs / m.probes).toFixed(1)} user)`);
  // The figure above is what the issue asks to report (measured quiet: user 0.3–0.7 %, total 1.0–1.4 %
  // of a core); CPU time per probe grows when the machine is busy, so the assertion is only a guard
  // against a pathological regression (a busy loop, a probe per tick): ten times the quiet cost.
  const perProbeUs = (m.userUs + m.systemUs) / Math.max(1, m.probes);
  t.ok(perProbeUs < 700, `CPU per probe under 700 µs (quiet: 50–70 µs): ${perProbeUs.toFixed(1)} µs`);
});
