import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../helpers/ports';
import { requireTool } from '../helpers/tools';

/**
 * `npm run package` as an edge node meets it: two builds of the .deb (the previous release and
 * this one) installed, upgraded, removed and purged by the real dpkg and the package's own
 * maintainer scripts, in an overlay of this machine's root with every Node.js deleted, then the
 * .tar.gz through its install script. lintian must report no errors.
 */

const ROOT = resolve(__dirname, '..', '..');
const BUILD = join(ROOT, 'deploy', 'package', 'build.sh');
const LIFECYCLE = join(ROOT, 'test', 'helpers', 'package-lifecycle.sh');
const OLD = '0.1.0+test.1';
const NEW = '0.1.0+test.2';

interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (bounded by a kill after 300 s). */
function run(file: string, args: string[]): Promise<Ran> {
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

async function build(out: string, version: string, extra: string[]): Promise<void> {
  // dist/ is built by `npm test` before the suite; --compress none keeps the test quick.
  const r = await run(BUILD, ['--no-build', '--compress', 'none', '--version', version, '--out', out, ...extra]);
  if (r.status !== 0) throw new Error(`build.sh ${version} failed (${r.status}): ${r.stderr}`);
}

t.test('the .deb installs, upgrades, removes and purges on a root without Node.js; the .tar.gz installs', async (t) => {
  for (const tool of ['dpkg-deb', 'dpkg', 'unshare', 'chroot', 'strip', 'dig', 'lintian', 'systemd-analyze', 'named-checkconf']) requireTool(tool);
  const out = mkdtempSync(join(tmpdir(), 'pldns-pkg-'));
  const work = mkdtempSync(join(tmpdir(), 'pldns-pkgroot-'));
  t.teardown(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
  // Two builds side by side (separate staging dirs and file names), then lintian and the
  // lifecycle at the same time: the machine has two cores.
  await Promise.all([build(out, OLD, ['--no-tar']), build(out, NEW, [])]);
  const port = await freePort();
  const linted = run('lintian', ['--tag-display-limit', '0', join(out, `privatelink-dns_${NEW}_amd64.deb`)]);
  const r = await run('unshare', ['--mount', '--fork', LIFECYCLE, work, out, OLD, NEW, String(port)]);
  t.equal(r.status, 0, `the lifecycle script ran to the end: ${r.stderr}`);
  const got = new Map(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
  const v = (k: string): string => got.get(k) ?? `(no ${k})`;
  t.equal(v('done'), 'yes', 'every step reported');
  t.equal(v('node_on_path'), 'none', 'no node on PATH in the root the package is tested in');

  // install: files in place, unit enabled, not started; the command runs on the bundled runtime
  t.equal(v('install_rc'), '0', 'dpkg -i of the previous build');
  t.equal(v('install_status'), `install ok installed ${OLD}`);
  t.notMatch(v('install_calls'), /(^|;)(start|restart|try-restart) /, `first install starts nothing: ${v('install_calls')}`);
  t.match(v('install_calls'), /daemon-reload/, 'systemd re-reads its units');
  t.equal(v('enabled_link'), '/lib/systemd/system/privatelink-dns.service', 'the unit is enabled for the next boot');
  t.equal(v('version_cmd'), OLD, 'privatelink-dns --version, with no node on PATH');
  t.equal(v('conffiles').trim(), '/etc/privatelink-dns/config.yaml', 'the config is a conffile');
  t.equal(v('check_rc'), '0', 'privatelink-dns check accepts the shipped config');
  t.equal(v('unit_execstart'), 'ExecStart=/usr/lib/privatelink-dns/node /usr/lib/privatelink-dns/dist/cli.js serve --config /etc/privatelink-dns/config.yaml', 'the unit runs the bundled node');
  t.equal(v('unit_verify'), 'rc=0', 'systemd-analyze verify accepts the installed unit, no warnings');
  t.equal(v('served_answer'), '10.0.0.123', 'the installed daemon answers a managed name (dig)');
  t.equal(v('export_hosts'), '1', 'privatelink-dns export --format hosts prints the entry');
  t.equal(v('export_bind_rc'), '0', 'privatelink-dns export --format bind --out DIR');
  t.equal(v('export_bind_checkconf'), 'ok', 'named-checkconf -z accepts what it wrote');
  t.equal(v('serve_udp_io'), '"udpIo":"batch"', 'the bundled addon is loaded (batch UDP engine)');
  t.equal(v('serve_exit'), '0', 'SIGTERM: exit 0');
  t.equal(v('demo_answer'), '192.168.10.22 192.168.20.22 ', 'serve --demo: a sync through the real API client (what the prune kept of the SDK) answers dig');
  t.equal(v('demo_sync'), '"component":"sync","result":"success"');
  t.equal(v('demo_exit'), '0');
  t.equal(v('man_name'), '1', 'man 8 privatelink-dns renders the page (its NAME line)');
  t.equal(v('man_stderr'), '', 'with no warnings');

  // upgrade: the running unit is restarted on the new build, the edited config is kept
  t.equal(v('upgrade_rc'), '0', 'dpkg -i of the new build over the old one');
  t.equal(v('upgrade_status'), `install ok installed ${NEW}`);
  t.match(v('upgrade_calls'), /(^|;)try-restart privatelink-dns\.service;/, `upgrade restarts a running unit: ${v('upgrade_calls')}`);
  t.equal(v('upgrade_version_cmd'), NEW);
  t.equal(v('upgrade_config_kept'), '1', "the operator's edit of config.yaml survives the upgrade");

  // remove: stopped, program gone, config and state kept
  t.equal(v('remove_rc'), '0');
  t.match(v('remove_calls'), /(^|;)stop privatelink-dns\.service;/, `remove stops the unit: ${v('remove_calls')}`);
  t.equal(v('remove_bin'), 'no');
  t.equal(v('remove_lib'), 'no');
  t.equal(v('remove_config'), 'yes', 'remove keeps the config');
  t.equal(v('remove_state'), 'yes', 'remove keeps the saved table');

  // purge: config, state and the unit's enablement gone
  t.equal(v('purge_rc'), '0');
  t.match(v('purge_status'), /no packages found|not-installed/);
  t.equal(v('purge_config'), 'no', 'purge removes /etc/privatelink-dns');
  t.equal(v('purge_state'), 'no', 'purge removes the state directory');
  t.equal(v('purge_state_link'), 'no', 'purge removes the /var/lib/privatelink-dns link');
  t.equal(v('purge_enabled_link'), 'no', 'purge leaves no enablement behind');

  // the .tar.gz
  t.equal(v('tgz_install_rc'), '0', 'install.sh from the .tar.gz');
  t.equal(v('tgz_version_cmd'), NEW);
  t.equal(v('tgz_check_rc'), '0');
  t.equal(v('tgz_unit'), 'yes', 'the unit lands in /etc/systemd/system');
  t.equal(v('tgz_man'), 'yes', 'and the manual page in /usr/share/man/man8');
  t.match(v('tgz_calls'), /enable privatelink-dns\.service/, 'and is enabled, not started');
  t.notMatch(v('tgz_calls'), /(^|;)start /);
  t.equal(v('tgz_purge_rc'), '0');
  t.equal(v('tgz_purge_left').trim(), '', 'install.sh --purge leaves nothing behind');

  // lintian: no errors, no warnings. The test's build is not compressed (npm run package uses
  // xz), which is the one error lintian has about it, and the proof that lintian ran.
  const lint = await linted;
  const uncompressed = /uses-no-compression-for-(control|data)-tarball/;
  const errors = lint.stdout.split('\n').filter((l) => l.startsWith('E: ') && !uncompressed.test(l));
  t.same(errors, [], 'lintian reports no errors');
  t.same(lint.stdout.split('\n').filter((l) => l.startsWith('W: ')), [], 'lintian reports no warnings');
  t.match(lint.stdout, uncompressed, 'lintian ran on the package');

  // What prune.list leaves out is not in the package (build.sh checked that nothing left requires it).
  const listed = await run('dpkg-deb', ['-c', join(out, `privatelink-dns_${NEW}_amd64.deb`)]);
  const paths = listed.stdout.split('\n').map((l) => l.replace(/^.* \.\//, '/')).filter((p) => p.startsWith('/usr/lib/privatelink-dns/'));
  t.ok(paths.some((p) => p.endsWith('/node_modules/moment/moment.js')), 'the listing is read (moment.js is there)');
  const unwanted = paths.filter((p) => /(?<!\/licen[cs]e)\.(md|ts|map)$|\/node_modules\/moment\/(src|locale|min|dist)\/|\/(test|tests|docs)\/$/i.test(p));
  t.same(unwanted, [], 'no docs, TypeScript, source maps, tests, or moment sources and locales');
  t.ok(paths.some((p) => /\/node_modules\/ms\/license\.md$/i.test(p)), 'license files stay, .md ones too');
});
