import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireTool } from '../helpers/tools';

const ROOT = resolve(__dirname, '..', '..');
const UNIT = readFileSync(join(ROOT, 'systemd', 'privatelink-dns.service'), 'utf8');
const INSTALL_DIR = '/usr/lib/privatelink-dns';

/** `Key=value` lines of the [Service] section (repeated keys keep every value). */
function serviceDirectives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

t.test('systemd-analyze verify accepts the unit without warnings', async (t) => {
  requireTool('systemd-analyze');
  // Only the install path changes: the build in this checkout stands in for /usr/lib/privatelink-dns.
  const dir = t.testdir({});
  const copy = join(dir, 'privatelink-dns.service');
  writeFileSync(copy, UNIT.split(INSTALL_DIR).join(ROOT));
  const exec = serviceDirectives(readFileSync(copy, 'utf8')).get('ExecStart')?.[0] ?? '';
  t.ok(existsSync(exec.split(' ')[0]), `the ExecStart binary exists: ${exec}`);
  const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 30_000 });
  const out = `${r.stdout}${r.stderr}`;
  t.equal(r.status, 0, out);
  const aboutUnit = out.split('\n').filter((l) => l.includes('privatelink-dns'));
  t.same(aboutUnit, [], 'no warnings about the unit');
});

t.test('hardening directives', async (t) => {
  const d = serviceDirectives(UNIT);
  const expect: Record<string, string> = {
    Type: 'notify',
    NotifyAccess: 'main',
    RestartPreventExitStatus: '2',
    ExecStart: `/usr/bin/node ${INSTALL_DIR}/dist/cli.js serve --config /etc/privatelink-dns/config.yaml`,
    ExecReload: '/bin/kill -HUP $MAINPID',
    Restart: 'on-failure',
    DynamicUser: 'yes',
    AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
    CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
    NoNewPrivileges: 'yes',
    StateDirectory: 'privatelink-dns',
    ConfigurationDirectory: 'privatelink-dns',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectKernelLogs: 'yes',
    ProtectControlGroups: 'yes',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX AF_NETLINK',
    RestrictNamespaces: 'yes',
    LockPersonality: 'yes',
    MemoryDenyWriteExecute: 'no',
    SystemCallFilter: '@system-service',
  };
  for (const [key, value] of Object.entries(expect)) t.same(d.get(key), [value], `${key}=${value}`);
  for (const key of ['RestartSec', 'TimeoutStopSec', 'LimitNOFILE', 'WatchdogSec']) t.ok(d.has(key), `${key} is set`);
  t.ok(d.get('RestrictAddressFamilies')?.[0]?.split(' ').includes('AF_UNIX'), 'AF_UNIX: sd_notify is a unix datagram');
  t.ok(d.get('Environment')?.includes('ALIBABA_CLOUD_ECS_METADATA_DISABLED=true'), 'no ECS metadata lookups on premises');
  t.match(UNIT, /JIT/, 'MemoryDenyWriteExecute=no is explained');
  t.notOk(d.has('User'), 'no fixed user next to DynamicUser');
  t.notOk(d.has('PrivateUsers'), 'PrivateUsers would take CAP_NET_BIND_SERVICE away from the host network');
});
