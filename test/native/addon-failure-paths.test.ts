import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileAddon } from '../../src/native/build';

/**
 * open() (listeners) and upOpen() (upstream exchanges) failing after they acquired a socket or
 * epoll set, references to the shared Buffers and the callback, an async context, a handle and
 * a poll handle: each failure must release all of it. A test copy of the addon, built from the
 * same sources, has uv_poll_init / uv_poll_start fail on demand (helpers/native-fail-shim.c);
 * a child process makes each fail ten times and reports descriptors, Buffers and callbacks still
 * referenced, and async resources never destroyed.
 */

interface StepReport {
  errors: string[];
  fdsBefore: number;
  fdsAfter: number;
  registered: number;
  collected: number;
  liveAsyncResources: number;
}

t.test('a failed open() or upOpen() leaves nothing behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-addon-fail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const addon = join(dir, 'pldns_native_failing.node');
  const shim = resolve(__dirname, '..', 'helpers', 'native-fail-shim.c');
  const problem = compileAddon(addon, [shim, '-Duv_poll_init=shim_uv_poll_init', '-Duv_poll_start=shim_uv_poll_start']);
  t.equal(problem, undefined, 'the test build of the addon compiles (needs a C compiler, as the real build does)');
  if (problem) return;

  const child = resolve(__dirname, '..', 'helpers', 'native-failure-child.cjs');
  const out = execFileSync(process.execPath, ['--expose-gc', child, addon], { encoding: 'utf8', env: { ...process.env, PLDNS_TEST_FAIL: '' } });
  const report = JSON.parse(out) as Record<string, StepReport> & { openedPort: number };

  for (const kind of ['open', 'upOpen']) {
    for (const step of ['uv_poll_init', 'uv_poll_start']) {
      const r = report[`${kind} failing at ${step}`];
      t.same(r.errors, [`ENOMEM: ${step}: ${'Cannot allocate memory'} (ENOMEM)`], `${kind} at ${step}: each call threw the step's error`);
      t.equal(r.fdsAfter, r.fdsBefore, `${kind} at ${step}: no descriptor left open (${r.fdsBefore} before, ${r.fdsAfter} after)`);
      t.ok(r.registered > 0, `${kind} at ${step}: Buffers and callbacks were tracked (${r.registered})`);
      t.equal(r.collected, r.registered, `${kind} at ${step}: every Buffer and callback the addon had referenced was garbage-collected`);
      t.equal(r.liveAsyncResources, 0, `${kind} at ${step}: every async context was destroyed`);
    }
  }
  t.ok(report.openedPort > 0, 'the same build opens a socket when nothing is made to fail');
});
