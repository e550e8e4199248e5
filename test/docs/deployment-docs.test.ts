import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../../src/config/load';
import { SIMULATOR_DEFAULT_PORT } from '../../src/simulator/server';

/**
 * docs/deployment.md and the examples tell the truth about the export flags, the
 * systemd unit, Prometheus scraping, the simulator's port and lameduck vs shutdown_grace.
 */
const ROOT = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const deployment = read('docs/deployment.md');
const TEXT_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => `config/${f}`),
  ...readdirSync(join(ROOT, 'deploy'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ya?ml|md|sh)$/.test(f)).map((f) => `deploy/${f}`),
  'systemd/privatelink-dns.service',
];

function section(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" section`);
  const next = doc.indexOf('\n## ', start + heading.length + 2);
  return doc.slice(start, next < 0 ? undefined : next);
}

t.test('every `export --format bind` line gives --out DIR (bind writes files, never stdout)', async (t) => {
  const lines = TEXT_FILES.flatMap((f) => read(f).split('\n').filter((l) => /export .*--format bind/.test(l)).map((l) => `${f}: ${l}`));
  t.ok(lines.length > 0, 'the docs show it');
  for (const l of lines) t.match(l, /--format bind --out \S+/, l);
});

t.test('the systemd section explains Type=notify and RestartPreventExitStatus as the unit sets them', async (t) => {
  const unit = read('systemd/privatelink-dns.service');
  const systemd = section(deployment, '## systemd');
  for (const directive of ['Type', 'RestartPreventExitStatus', 'WatchdogSec']) {
    const m = new RegExp(`^${directive}=(\\S+)`, 'm').exec(unit);
    t.ok(m, `the unit sets ${directive}`);
    t.match(systemd, `${directive}=${m?.[1]}`, `the section shows ${directive}=${m?.[1]}`);
  }
  t.match(systemd, /native addon/, 'says Type=notify needs the addon');
  t.match(systemd, /SD_NOTIFY/);
  t.match(systemd, /Type=simple/, 'and how to do without it');
});

t.test('the Prometheus section: listen.metrics, unprefixed process_* and nodejs_*', async (t) => {
  const prometheus = section(deployment, '## Prometheus');
  t.match(prometheus, /`listen\.metrics`/);
  t.match(prometheus, /`process_\*`/);
  t.match(prometheus, /`nodejs_\*`/);
  const yaml = /```yaml\n(listen:[\s\S]*?)```/.exec(prometheus)?.[1] ?? '';
  const { config, problems } = parseConfigText(`region: cn-hangzhou\nstate_dir: false\n${yaml}`);
  t.same(problems, [], 'its listen snippet validates');
  const target = /targets: \["([^"]+)"\]/.exec(prometheus)?.[1];
  t.equal(target, `${config?.listen.metrics?.host}:${config?.listen.metrics?.port}`, 'Prometheus scrapes the listen.metrics address');
  t.notMatch(read('docs/metrics.md'), /Every name starts with/, 'metrics.md does not claim every name is prefixed');
});

t.test(`every simulator address in the docs and examples uses its port (${SIMULATOR_DEFAULT_PORT})`, async (t) => {
  let seen = 0;
  for (const f of TEXT_FILES) {
    for (const line of read(f).split('\n')) {
      if (!/simulat/i.test(line)) continue;
      for (const m of line.matchAll(/127\.0\.0\.1:(\d+)/g)) {
        seen++;
        // 8053 is the daemon's HTTP port in `serve --demo` lines; 0 picks a free port.
        if (m[1] !== '0' && !(/--demo|serve/.test(line) && m[1] === '8053') && !(/5353/.test(m[1]))) {
          t.equal(Number(m[1]), SIMULATOR_DEFAULT_PORT, `${f}: ${line.trim()}`);
        }
      }
    }
  }
  t.ok(seen > 0, 'some lines name the simulator address');
});

t.test('shutdown_grace is never described as the /readyz delay (that is lameduck)', async (t) => {
  for (const f of TEXT_FILES) {
    read(f).split('\n').forEach((line, i) => {
      if (/shutdown_grace/.test(line) && /readyz/.test(line) && !/lameduck/.test(line)) t.fail(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  t.pass('checked');
});
