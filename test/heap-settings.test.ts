import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { heapFlagsFor } from '../src/heap-settings';

const DIST = path.resolve(__dirname, '..', 'dist');

t.test('the daemon keeps the young generation at its initial size unless the operator chose one', async (t) => {
  t.same(heapFlagsFor({ execArgv: [], nodeOptions: undefined }), ['--semi-space-growth-factor=1']);
  t.same(heapFlagsFor({ execArgv: ['--enable-source-maps'], nodeOptions: '--no-warnings' }), ['--semi-space-growth-factor=1']);
  t.same(heapFlagsFor({ execArgv: ['--max-semi-space-size=8'], nodeOptions: undefined }), []);
  t.same(heapFlagsFor({ execArgv: [], nodeOptions: '--trace-gc --max_semi_space_size=16' }), []);
  t.same(heapFlagsFor({ execArgv: ['--semi-space-growth-factor=2'], nodeOptions: '' }), []);
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
  const withSettings = newSpaceAfterChurn([path.join(DIST, 'heap-settings-apply.js')]);
  t.ok(without > 4 * MiB, `without: the new space grew (${without} bytes), so the churn exercises growth`);
  t.ok(withSettings <= 2 * MiB, `with the daemon's settings: ${withSettings} bytes, the initial two 1 MiB semi-spaces`);
});

t.test('cli.js applies the settings before loading anything else', async (t) => {
  const firstRequire = /require\("([^"]+)"\)/.exec(readFileSync(path.join(DIST, 'cli.js'), 'utf8'))?.[1];
  t.equal(firstRequire, './heap-settings-apply');
});
