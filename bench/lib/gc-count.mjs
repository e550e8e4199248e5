// The gc pass of the issue 26 table: young-generation collections in a real daemon across 100,000
// cached and 100,000 managed answers. It runs test/e2e/gc-steady-state.test.ts (the daemon with the
// gc probe preloaded, a paced client on loopback) and reads the counts the test prints, so the
// bench row and the test measure the same thing the same way.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const TEST = path.join('test', 'e2e', 'gc-steady-state.test.ts');

export async function measureGcCount({ root }) {
  const r = spawnSync('npx', ['tap', '--reporter=tap', '--disable-coverage', TEST], { cwd: root, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const counts = {};
  for (const m of out.matchAll(/# (cached|managed): (\{[^}]*\}) over (\d+) answers/g)) counts[m[1]] = { ...JSON.parse(m[2]), answers: Number(m[3]) };
  if (!counts.cached || !counts.managed) throw new Error(`${TEST} printed no counts (exit ${r.status}): ${out.slice(-400)}`);
  return {
    answers: counts.cached.answers,
    scavenges: counts.cached.minor,
    full: counts.cached.major,
    managed: { answers: counts.managed.answers, scavenges: counts.managed.minor, full: counts.managed.major },
    loops: { cached: counts.cached.loops, managed: counts.managed.loops },
    testPassed: r.status === 0,
  };
}
