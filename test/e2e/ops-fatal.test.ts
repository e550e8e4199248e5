import t from 'tap';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';

/**
 * Why the daemon could not start is a JSON line like every other (`journalctl -o cat | jq .`
 * must not break on it), with the stable error code, and the exit code tells systemd whether a
 * restart can help (RestartPreventExitStatus=2).
 */

async function serve(yaml: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-fatal-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml);
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += String(d)));
  proc.stderr.on('data', (d) => (stderr += String(d)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('a port already taken: one fatal JSON line with LISTEN_FAILED, exit 1, nothing on stderr', async (t) => {
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((r) => holder.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => holder.close());
  const port = holder.address().port;
  const r = await serve(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:${port}"] }
upstream: { servers: [] }
records: { entries: [{ names: ["a.internal.example"], addresses: ["10.0.0.1"] }] }
state_dir: false
`);
  t.equal(r.code, 1);
  t.equal(r.stderr, '', 'no plain-text line outside the JSON stream');
  const lines = jsonLines(r.stdout);
  const fatal = lines.filter((l) => l.level === 'fatal');
  t.equal(fatal.length, 1, r.stdout);
  t.match(fatal[0], { code: 'LISTEN_FAILED', service: 'privatelink-dns', msg: new RegExp(`LISTEN_FAILED: cannot bind .*127\\.0\\.0\\.1:${port}.*EADDRINUSE`) });
});

t.test('an invalid config: fatal JSON line with CONFIG_INVALID and every problem, exit 2', async (t) => {
  const r = await serve(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"] }
upstream: { servers: [] }
records: { ttl: -5, entries: [] }
bogus_key: 1
`);
  t.equal(r.code, 2, 'a restart cannot fix it');
  t.equal(r.stderr, '');
  const fatal = jsonLines(r.stdout).filter((l) => l.level === 'fatal');
  t.equal(fatal.length, 1, r.stdout);
  t.match(fatal[0], { code: 'CONFIG_INVALID', configPath: /config\.yaml$/ });
  const problems = fatal[0]?.problems as string[];
  t.ok(problems.some((p) => p.includes('bogus_key')), JSON.stringify(problems));
  t.ok(problems.some((p) => p.startsWith('records.ttl')), JSON.stringify(problems));
});
