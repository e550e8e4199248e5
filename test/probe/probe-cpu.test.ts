import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../helpers/ports';

/**
 * Probing 1,000 IPs at the default interval (5 s: 200 connects a second) in a plain node process
 * running dist/ (`npm run build` first): the probes are spread over the interval (one interval's
 * window holds one round, not zero or two), every one succeeds, and CPU per probe stays far from
 * a pathological cost. The CPU figure itself, over a longer window, is `node bench/probe-cpu.mjs`.
 */

const IPS = 1000;
const INTERVAL_MS = 5000;
/** One interval: a round that came as a burst would put 0 or 2,000 probes in it, not ~1,000. */
const MEASURE_MS = INTERVAL_MS;

t.test('probing 1,000 IPs: one round per interval, all succeed, CPU per probe bounded', async (t) => {
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
  // The figure is bench/probe-cpu.mjs's (measured quiet: user 0.3–0.7 %, total 1.0–1.4 % of a core);
  // CPU time per probe grows when the machine is busy, so the assertion is only a guard against a
  // pathological regression (a busy loop, a probe per tick): ten times the quiet cost.
  const perProbeUs = (m.userUs + m.systemUs) / Math.max(1, m.probes);
  t.ok(perProbeUs < 700, `CPU per probe under 700 µs (quiet: 50–70 µs): ${perProbeUs.toFixed(1)} µs`);
});
