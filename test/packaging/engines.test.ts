import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * `npm install` on the Node the README names prints no EBADENGINE warning: every package in the
 * lock file (dev dependencies included: the README's second command installs them) accepts this
 * Node. The ranges are checked with the semver module npm itself uses, so "accepts" means what
 * npm's own check means.
 */

const ROOT = resolve(__dirname, '..', '..');

function npmSemver(): { satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean } {
  const cli = execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  // npm-cli.js lives in <npm>/bin; its bundled modules in <npm>/node_modules.
  return require(join(dirname(dirname(cli)), 'node_modules', 'semver'));
}

t.test('every locked package accepts this Node (no EBADENGINE at npm install)', async (t) => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
  const semver = npmSemver();
  const refused: string[] = [];
  let checked = 0;
  for (const [path, pkg] of Object.entries(lock.packages)) {
    const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
    if (!range) continue;
    checked++;
    if (!semver.satisfies(process.version, range, { includePrerelease: true })) refused.push(`${path || 'privatelink-dns'}@${pkg.version ?? ''} wants node ${range}`);
  }
  t.ok(checked > 10, `${checked} packages declare a node range`);
  t.same(refused, [], `all accept ${process.version}`);
  t.notOk(semver.satisfies('20.0.0', '>=22'), 'and the check is real: 20 does not satisfy >=22');
});

t.test('package.json engines names the Node the README and the package use', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  t.ok(npmSemver().satisfies(process.version, pkg.engines.node), `${process.version} satisfies ${pkg.engines.node}`);
});
