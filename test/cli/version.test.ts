import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLI } from '../helpers/daemon';

/** `--version` and the daemon's version are package.json's, wherever the build puts version.js. */
t.test('privatelink-dns --version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const r = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), version);
  t.not(version, '0.0.0', 'a real version, not the fallback');
});
