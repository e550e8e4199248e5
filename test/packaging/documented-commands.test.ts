import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI } from '../helpers/daemon';
import { STATIC_ONLY_CONFIG } from '../helpers/configs';

/**
 * Issue 24 item 2: every `privatelink-dns check|sync|export` line in a code block of README.md and
 * docs/ runs as written (the config path, `...` and `--out DIR` pointed at a test config and a
 * temp dir; no cloud: the config has static entries) and exits 0: no unknown command or flag, no
 * format that does not exist. test/packaging/deb.test.ts shows the same command is on PATH after
 * the package install with no Node.js. (`serve` and `simulate` lines are run by the README
 * quick-start test and the simulator tests.)
 */

const ROOT = resolve(__dirname, '..', '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function documentedLines(): { file: string; line: string }[] {
  const out: { file: string; line: string }[] = [];
  for (const file of DOCS) {
    let inBlock = false;
    for (const raw of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
      if (/^\s*```/.test(raw)) {
        inBlock = !inBlock;
        continue;
      }
      const line = raw.trim();
      if (inBlock && /^privatelink-dns (check|sync|export)\b/.test(line)) out.push({ file, line });
    }
  }
  return out;
}

t.test('every documented check/sync/export command line runs as written', async (t) => {
  const lines = documentedLines();
  t.ok(lines.length >= 8, `${lines.length} documented command lines`);
  const dir = mkdtempSync(join(tmpdir(), 'pldns-doccmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, STATIC_ONLY_CONFIG);
  for (const [i, { file, line }] of lines.entries()) {
    // The command itself: up to a comment, `&&`, a pipe or a redirection.
    const command = line.split(/\s+#\s|\s&&\s|\s\|\s|\s>\s/)[0].trim();
    const args = command
      .split(/\s+/)
      .slice(1)
      .map((a) => (a === '...' || a === '/etc/privatelink-dns/config.yaml' || a === 'PATH' ? config : a));
    const out = args.indexOf('--out');
    if (out >= 0) args[out + 1] = join(dir, `out-${i}`);
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, `${file}: ${command}\n${r.stderr}`);
    t.notMatch(r.stderr, /unknown (option|command)|needs a value/, `${file}: ${command}: arguments accepted`);
  }
});
