import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { STATIC_BASE_YAML, STATIC_RECORDS_YAML } from '../helpers/configs';
import { parseConfigText } from '../../src/config/load';
import { nextCronRuns } from '../../src/config/cron-schedule';
import { configWarnings, type WarningEnvironment } from '../../src/config/warnings';

/**
 * `check` pinpoints. YAML errors carry line and column, cron errors say why and a
 * valid schedule shows its next runs, records.ttl takes a duration, the config path defaults like
 * `serve`, and valid-but-wrong settings are warned about (exit 0).
 */
const NOBODY = 65534;

function check(yaml: string | null, opts: { uid?: number; dir?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const args = [CLI, 'check'];
  if (yaml !== null) {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pldns-check-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    args.push('--config', file);
  }
  // tap's process tracking (NODE_OPTIONS) writes into the worktree, which another user cannot.
  // setpriv is util-linux's; a missing one fails the test.
  const r = opts.uid === undefined
    ? spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20_000 })
    : spawnSync('setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, ...args], {
        encoding: 'utf8',
        timeout: 20_000,
      });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STATIC = `region: cn-hangzhou\n${STATIC_RECORDS_YAML}`;
const BASE = STATIC_BASE_YAML;
const CLOUD = 'region: cn-hangzhou\nstate_dir: false\nrecords: { entries: [ { names: ["oss.internal.example"], endpoint: ep-bp1abc } ] }\n';

t.test('a YAML syntax error names its line and column', async (t) => {
  const r = check('region: cn-hangzhou\nlisten:\n  dns: ["127.0.0.1:53"\nstate_dir: false\n');
  t.equal(r.code, 2);
  t.match(r.stderr, /^\(yaml line \d+, column \d+\): /m);
  t.notMatch(r.stderr, /line \?/);
  const dup = parseConfigText(`${BASE}region: cn-beijing\n`).problems;
  t.same(dup.map((p) => p.path), ['(yaml line 4, column 1)'], 'the duplicate key is on line 4, column 1');
});

t.test('a bad cron expression says why', async (t) => {
  const cases: [string, RegExp][] = [
    ['every 30 seconds', /expected 5 or 6 fields but got 3/],
    ['61 * * * *', /"61" is not valid for the minute: 0-59/],
    ['0 25 * * *', /"25" is not valid for the hour: 0-23/],
    ['0 0 31 2 *', /day of month "31" never occurs/],
  ];
  for (const [expr, why] of cases) {
    const problems = parseConfigText(`${CLOUD}privatelink: { refresh: "${expr}" }\n`).problems;
    t.equal(problems.length, 1, expr);
    t.equal(problems[0]?.path, 'privatelink.refresh');
    t.match(problems[0]?.problem, /^is not a valid cron expression: /);
    t.match(problems[0]?.problem, why, expr);
  }
});

t.test('check shows the next runs of a valid schedule', async (t) => {
  const r = check(`${CLOUD}privatelink: { refresh: "0 */6 * * *" }\n`);
  t.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('privatelink.refresh'));
  t.ok(line, r.stdout);
  const times = [...(line ?? '').matchAll(/\d{4}-\d\d-\d\dT[\d:.]+Z/g)].map((m) => new Date(m[0]).getTime());
  t.equal(times.length, 3);
  t.equal(times[1] - times[0], 6 * 3_600_000, 'six hours apart');
  t.ok(times[0] > Date.now() && times[0] <= Date.now() + 6 * 3_600_000, 'the first is within six hours');
  const fixed = nextCronRuns('*/5 * * * *', 2, new Date('2026-01-01T00:00:00Z')).map((d) => d.toISOString());
  t.same(fixed, ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']);
});

t.test('records.ttl takes a duration or seconds', async (t) => {
  const ttl = (v: string) => parseConfigText(`region: cn-hangzhou\nstate_dir: false\nrecords: { ttl: ${v}, entries: [ { names: ["a.example"], addresses: ["10.0.0.1"] } ] }\n`);
  t.equal(ttl('"5m"').config?.records.ttl, 300);
  t.equal(ttl('"30s"').config?.records.ttl, 30);
  t.equal(ttl('45').config?.records.ttl, 45);
  t.equal(ttl('0').config?.records.ttl, 0);
  for (const bad of ['"1500ms"', '1.5', '"2d"', '-1']) {
    t.match(ttl(bad).problems.map((p) => `${p.path}: ${p.problem}`).join('\n'), /records\.ttl: must be whole seconds from 0 to 86400/, bad);
  }
});

t.test('check reads /etc/privatelink-dns/config.yaml without --config, like serve', async (t) => {
  const r = check(null);
  t.not(r.stderr, '', r.stdout);
  t.notMatch(r.stderr, /needs --config/);
  t.match(r.stderr, /\/etc\/privatelink-dns\/config\.yaml/);
});

const env = (local: string[], stateDirProblem?: string): WarningEnvironment => ({ localAddresses: () => local, stateDirProblem: () => stateDirProblem });
function warnings(yaml: string, e: WarningEnvironment = env(['127.0.0.1', '::1', '10.1.2.3'])): string[] {
  const { config, problems } = parseConfigText(yaml);
  if (!config) throw new Error(problems.map((p) => `${p.path}: ${p.problem}`).join('\n'));
  return configWarnings(config, e).map((w) => `${w.setting}: ${w.message}`);
}

t.test('warnings: listen outside access.allow, wildcard loops, 0.0.0.0 upstream', async (t) => {
  t.same(warnings(BASE), [], 'defaults: none');
  t.match(warnings(`${BASE}listen: { dns: ["100.64.1.1:53"] }\n`), [/^listen\.dns\[0\]: 100\.64\.1\.1:53 is outside access\.allow: clients on its own network are refused/]);
  t.same(warnings(`${BASE}listen: { dns: ["100.64.1.1:53"] }\naccess: { allow: ["100.64.0.0/10"] }\n`), [], 'inside: none');
  t.same(warnings(`${BASE}listen: { dns: ["0.0.0.0:53"] }\n`), [], 'a wildcard listener is inside by definition');

  const loop = warnings(`${BASE}listen: { dns: ["0.0.0.0:53"] }\nupstream: { servers: ["127.0.0.53:53", "10.1.2.3:53", "10.9.9.9:53", "127.0.0.1:5353"] }\n`);
  t.equal(loop.length, 2, loop.join('\n'));
  t.match(loop[0], /^upstream\.servers\[0\]: 127\.0\.0\.53:53 is a local address on the port of the wildcard listener 0\.0\.0\.0:53/);
  t.match(loop[1], /^upstream\.servers\[1\]: 10\.1\.2\.3:53 is a local address/, 'an interface address counts as local');
  t.match(warnings(`${BASE}listen: { dns: ["[::]:53", "0.0.0.0:53"] }\nupstream: { servers: ["[::1]:53"] }\n`), [/^upstream\.servers\[0\]: \[::1\]:53 is a local address.*\[::\]:53/]);
  t.same(warnings(`${BASE}listen: { dns: ["127.0.0.1:53"] }\nupstream: { servers: ["127.0.0.53:53"] }\n`), [], 'no wildcard: no loop');

  t.match(warnings(`${BASE}upstream: { servers: ["0.0.0.0:53"] }\n`), [/^upstream\.servers\[0\]: 0\.0\.0\.0:53 means "any address"/]);
});

t.test('warnings: a missing or unwritable state_dir (the real file system, as an unprivileged user)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-check-'));
  chmodSync(dir, 0o755);
  const missing = check(`${STATIC}state_dir: ${dir}/state/sub\n`, { uid: NOBODY, dir });
  t.equal(missing.code, 0, missing.stderr);
  t.match(missing.stderr, new RegExp(`warning: state_dir: ${dir}/state/sub does not exist and cannot be created by this user \\(${dir}: EACCES\\)`));
  const creatable = check(`${STATIC}state_dir: ${dir}/state/sub\n`, { dir });
  t.equal(creatable.stderr, '', 'missing but creatable (the first write makes it): no warning');

  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o755 });
  const ro = check(`${STATIC}state_dir: ${state}\n`, { uid: NOBODY, dir });
  t.equal(ro.code, 0, ro.stderr);
  t.match(ro.stderr, new RegExp(`warning: state_dir: ${state} is not writable by this user \\(EACCES\\)`));

  chownSync(state, NOBODY, NOBODY);
  const ok = check(`${STATIC}state_dir: ${state}\n`, { uid: NOBODY, dir });
  t.equal(ok.stderr, '', 'writable: no warning');
  t.same(readdirSync(state), [], 'the write probe leaves nothing behind');
});

t.test('warnings: a state_dir whose permission bits allow writing but whose file system does not (/sys, as root)', async (t) => {
  const sys = check(`${STATIC}state_dir: /sys/kernel/pldns-check-test\n`);
  t.equal(sys.code, 0, sys.stderr);
  t.match(sys.stderr, /warning: state_dir: \/sys\/kernel\/pldns-check-test does not exist and cannot be created by this user \(\/sys\/kernel: E(PERM|ROFS|ACCES)\)/);
});

t.test('an unreadable snapshot is reported as unreadable, not as invalid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-check-'));
  chmodSync(dir, 0o755);
  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o755 });
  chownSync(state, NOBODY, NOBODY);
  writeFileSync(join(state, 'snapshot.json'), '{}\n', { mode: 0o600 }); // owned by root: nobody cannot read it
  const r = check(`${STATIC}state_dir: ${state}\n`, { uid: NOBODY, dir });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /warning: state_dir: SNAPSHOT_READ: cannot read .*snapshot\.json: EACCES/);
  t.notMatch(r.stderr, /SNAPSHOT_INVALID/);
  chmodSync(join(state, 'snapshot.json'), 0o644);
  const corrupt = check(`${STATIC}state_dir: ${state}\n`, { uid: NOBODY, dir });
  t.match(corrupt.stderr, /warning: state_dir: SNAPSHOT_INVALID: .*not a privatelink-dns snapshot/, 'a readable but wrong file is still invalid');
});
