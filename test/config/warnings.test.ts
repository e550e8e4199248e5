import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, startDaemon } from '../helpers/daemon';
import { STATIC_BASE_YAML } from '../helpers/configs';

/**
 * Settings that are valid but refuse or miss clients are warned about by `check`
 * (which still exits 0) and by the daemon at start: `access.allow: []` refuses everyone, loopback
 * included; `[::]` alone listens on IPv6 only.
 */
function check(yaml: string): { code: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-warn-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BASE = STATIC_BASE_YAML;

t.test('check warns about an empty access.allow and [::] alone, and still passes', async (t) => {
  const empty = check(`${BASE}access: { allow: [] }\n`);
  t.equal(empty.code, 0, 'exit 0');
  t.match(empty.stderr, /warning: access\.allow: empty: every client is refused, loopback included/);
  const v6 = check(`${BASE}listen: { dns: ["[::]:5353"] }\n`);
  t.equal(v6.code, 0, 'exit 0');
  t.match(v6.stderr, /warning: listen\.dns: \[::\] listens on IPv6 only/);
  const both = check(`${BASE}listen: { dns: ["[::]:5353", "0.0.0.0:5353"] }\n`);
  t.equal(both.stderr, '', 'no warning with both families');
  const plain = check(BASE);
  t.equal(plain.stderr, '', 'no warning for the defaults');
});

t.test('the daemon logs the warning at start', async (t) => {
  const d = await startDaemon(`${BASE}listen: { dns: ["127.0.0.1:0"], http: false }\naccess: { allow: [] }\n`);
  t.teardown(() => d.stop());
  const line = await d.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('config: access.allow'), 5000);
  t.equal(line.level, 'warn', 'at warn level');
});
