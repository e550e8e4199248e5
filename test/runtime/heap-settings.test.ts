import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { YoungGenerationCap, growthFactorFor, heapPlanFor } from '../../src/runtime/heap-settings';

const DIST = path.resolve(__dirname, '..', '..', 'dist');

t.test('the daemon sets its heap flags unless the operator chose them', async (t) => {
  const both = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'];
  t.same(heapPlanFor({ execArgv: [], nodeOptions: undefined }), { flags: both, capYoungGeneration: true });
  t.same(heapPlanFor({ execArgv: ['--enable-source-maps'], nodeOptions: '--no-warnings' }), { flags: both, capYoungGeneration: true });
  t.same(heapPlanFor({ execArgv: ['--max-semi-space-size=8'], nodeOptions: undefined }), { flags: ['--heap-growing-percent=50'], capYoungGeneration: false });
  t.same(heapPlanFor({ execArgv: [], nodeOptions: '--trace-gc --max_semi_space_size=16' }).capYoungGeneration, false, 'underscores too');
  t.same(heapPlanFor({ execArgv: ['--semi-space-growth-factor=2'], nodeOptions: '' }).capYoungGeneration, false);
  t.same(heapPlanFor({ execArgv: ['--heap-growing-percent=20'], nodeOptions: '' }), { flags: ['--semi-space-growth-factor=1'], capYoungGeneration: true });
});

t.test('the young generation cap: double while that stays within 4 MiB and forwards are in flight, then stop', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(growthFactorFor(1 * MiB), 2);
  t.equal(growthFactorFor(2 * MiB), 2);
  t.equal(growthFactorFor(4 * MiB), 1);
  t.equal(growthFactorFor(8 * MiB), 1);
  let semi = 1 * MiB;
  const set: string[] = [];
  let onGc = (): void => {};
  let disconnected = false;
  let busy = true;
  const cap = new YoungGenerationCap(() => busy, () => semi, (f) => set.push(f), (f) => {
    onGc = f;
    return () => {
      disconnected = true;
    };
  });
  t.same(set, [], 'nothing set before the first collection');
  onGc();
  t.same(set, ['--semi-space-growth-factor=2'], 'below the cap: growth allowed');
  semi = 2 * MiB;
  cap.check();
  t.same(set.length, 1, 'no change while still below');
  semi = 4 * MiB;
  cap.check();
  t.same(set, ['--semi-space-growth-factor=2', '--semi-space-growth-factor=1'], 'at the cap: growth stopped');
  semi = 1 * MiB;
  cap.check();
  t.equal(set.at(-1), '--semi-space-growth-factor=2', 'V8 shrank it after the load: it may grow again');
  busy = false;
  cap.check();
  t.equal(set.at(-1), '--semi-space-growth-factor=1', 'few forwards in flight: no growth, whatever the size');
  cap.stop();
  t.ok(disconnected, 'stop() ends the observation');
});

/** Allocates short-lived objects the way a busy daemon does, then reports the new space's size. */
function newSpaceAfterChurn(preload: string[]): number {
  const script = `
    ${preload.map((p) => `require(${JSON.stringify(p)});`).join('\n')}
    let keep = [];
    for (let round = 0; round < 1500; round++) {
      for (let i = 0; i < 1000; i++) keep.push({ i, s: 'x' + i, a: [i, i] });
      if (keep.length > 50000) keep = keep.slice(25000);
    }
    const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    process.stdout.write(String(s.space_size));
  `;
  const env = { ...process.env, NODE_OPTIONS: '' };
  return Number(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }));
}

t.test('set from inside the process, the setting holds the new space down under allocation churn', async (t) => {
  const MiB = 1024 * 1024;
  const without = newSpaceAfterChurn([]);
  const withSettings = newSpaceAfterChurn([path.join(DIST, 'runtime', 'heap-settings-apply.js')]);
  t.ok(without > 8 * MiB, `without: the new space grew (${without} bytes), so the churn exercises growth`);
  // Growth factor 1 keeps the initial 1 MiB semi-spaces (2 MiB); a run on a loaded machine once
  // read 4 MiB. What matters is that V8's own growth (to 2 × 16 MiB) does not happen.
  t.ok(withSettings <= 4 * MiB, `with the daemon's settings: ${withSettings} bytes, at most two 2 MiB semi-spaces (without: ${without})`);
});

t.test('cli.js applies the settings before loading anything else', async (t) => {
  const firstRequire = /require\("([^"]+)"\)/.exec(readFileSync(path.join(DIST, 'cli.js'), 'utf8'))?.[1];
  t.equal(firstRequire, './runtime/heap-settings-apply');
});
