import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, startDaemon } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';
import { startSimulator } from '../../src/simulator';
import { BIND_CONF_FILE } from '../../src/export';

/**
 * `export --format X` through the CLI, from the snapshot a running daemon left in its state_dir
 * (the simulator is gone by then, so nothing can come from a live sync); each output is given to
 * the real server's own checker.
 */

const EP = 'ep-bp1exporttest000000001';
const CS = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
const OSS = 'oss-cn-hangzhou-internal.aliyuncs.com';

let stateDir = '';
let configPath = '';

t.before(async () => {
  const sim = await startSimulator({
    port: 0,
    data: {
      endpoints: [{
        EndpointId: EP,
        EndpointName: 'export',
        ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1export',
        EndpointDomain: `${EP}-x.epsrv-bp1export.cn-hangzhou.privatelink.aliyuncs.com`,
        EndpointStatus: 'Active',
        ConnectionStatus: 'Connected',
        Zones: [
          { ZoneId: 'cn-hangzhou-j', ZoneDomain: `${EP}-cn-hangzhou-j.epsrv-bp1export.cn-hangzhou.privatelink.aliyuncs.com`, EniId: 'eni-j', EniIp: '10.30.1.10', ZoneIpv6Address: 'fd00:30:1::10', VSwitchId: 'vsw-j', ZoneStatus: 'Connected' },
          { ZoneId: 'cn-hangzhou-k', ZoneDomain: `${EP}-cn-hangzhou-k.epsrv-bp1export.cn-hangzhou.privatelink.aliyuncs.com`, EniId: 'eni-k', EniIp: '10.30.2.10', VSwitchId: 'vsw-k', ZoneStatus: 'Connected' },
        ],
      }],
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'pldns-export-'));
  stateDir = join(dir, 'state');
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: [] }
privatelink:
  endpoint: "${sim.endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "0 0 * * * *"
  jitter: 0s
records:
  entries:
    - names: ["${CS}"]
      endpoint: ${EP}
    - names: ["${OSS}", "*.${OSS}"]
      addresses: ["10.30.3.10", "fd00:30:3::10"]
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: ${stateDir}
`, { dir });
  configPath = daemon.configPath;
  try {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const snap = join(stateDir, 'snapshot.json');
      if (existsSync(snap) && readFileSync(snap, 'utf8').includes('10.30.2.10')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    t.equal(await daemon.stop(), 0, 'daemon stopped cleanly');
    await sim.close();
  }
});

function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function exportAs(format: string): string {
  const r = runCli(['export', '--config', configPath, '--format', format]);
  if (r.code !== 0) throw new Error(`export --format ${format} exited ${r.code}: ${r.stderr}`);
  if (!/from the snapshot/.test(r.stderr)) throw new Error(`export did not use the snapshot: ${r.stderr}`);
  return r.stdout;
}

function check(cmd: string, args: string[]): { code: number | null; out: string } {
  requireTool(cmd);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('hosts: every line parses as address + names', async (t) => {
  const text = exportAs('hosts');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  const pairs = lines.map((l) => l.trim().split(/\s+/));
  for (const [ip, ...names] of pairs) {
    t.ok(isIP(ip) !== 0, `address ${ip}`);
    t.ok(names.length > 0 && names.every((n) => /^[a-z0-9.-]+$/.test(n)), `names ${names.join(' ')}`);
  }
  const map = pairs.map(([ip, ...n]) => `${ip} ${n.join(' ')}`);
  for (const want of [`10.30.1.10 ${CS}`, `10.30.2.10 ${CS}`, `fd00:30:1::10 ${CS}`, `10.30.3.10 ${OSS}`, '10.0.0.123 ntp.internal.example']) {
    t.ok(map.includes(want), want);
  }
});

t.test('unbound: unbound-checkconf accepts a config that includes it', async (t) => {
  const text = exportAs('unbound');
  t.match(text, `local-data: "${CS}.`);
  const dir = t.testdir({ 'privatelink.conf': text });
  writeFileSync(join(dir, 'unbound.conf'), [
    'server:', '  interface: 127.0.0.1@5353', '  chroot: ""', '  username: ""', `  directory: "${dir}"`, '  pidfile: ""',
    `include: "${join(dir, 'privatelink.conf')}"`, '',
  ].join('\n'));
  const r = check('unbound-checkconf', [join(dir, 'unbound.conf')]);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /no errors/);
});

t.test('dnsmasq: dnsmasq --test accepts it', async (t) => {
  const text = exportAs('dnsmasq');
  t.match(text, CS);
  const dir = t.testdir({ 'privatelink.conf': text });
  writeFileSync(join(dir, 'dnsmasq.conf'), `no-resolv\nno-hosts\nconf-file=${join(dir, 'privatelink.conf')}\n`);
  const r = check('dnsmasq', ['--test', '-C', join(dir, 'dnsmasq.conf')]);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /syntax check OK/);
});

t.test('bind: --out DIR writes one zone per file and a named.conf fragment that named-checkconf -z loads', async (t) => {
  const dir = join(t.testdir({}), 'bind');
  const r = runCli(['export', '--config', configPath, '--format', 'bind', '--out', dir]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '', 'nothing on stdout: the files are the output');
  t.match(r.stderr, `include "${join(dir, BIND_CONF_FILE)}";`);
  const conf = readFileSync(join(dir, BIND_CONF_FILE), 'utf8');
  const zones = [...conf.matchAll(/^zone "([^"]+)" \{ type primary; file "([^"]+)"; \};$/gm)].map((m) => m[1] as string);
  for (const z of [CS, 'ntp.internal.example', OSS, `${EP}-x.epsrv-bp1export.cn-hangzhou.privatelink.aliyuncs.com`]) t.ok(zones.includes(z), `zone ${z}`);
  for (const zone of zones) {
    const c = check('named-checkzone', ['-k', 'fail', '-n', 'fail', zone, join(dir, `${zone}.zone`)]);
    t.equal(c.code, 0, `${zone}: ${c.out.trim()}`);
    t.notMatch(c.out, /ignoring/i);
  }
  const main = join(dir, 'main.conf');
  writeFileSync(main, `options { directory "${dir}"; };\ninclude "${join(dir, BIND_CONF_FILE)}";\n`);
  const all = check('named-checkconf', ['-z', main]);
  t.equal(all.code, 0, all.out);
  t.equal(all.out.match(/loaded serial/g)?.length, zones.length, all.out);
});

t.test('bind without --out is a usage error (one stream would let named-checkzone skip zones)', async (t) => {
  const r = runCli(['export', '--config', configPath, '--format', 'bind']);
  t.equal(r.code, 2);
  t.match(r.stderr, /USAGE: .*--out DIR/);
  t.equal(r.stdout, '');
});

t.test('rpz: named-checkzone accepts the policy zone, which names every managed name', async (t) => {
  const text = exportAs('rpz');
  t.match(text, /^\$ORIGIN privatelink\.rpz\.$/m);
  t.match(text, `${CS}.privatelink.rpz.\t30\tIN\tA\t10.30.2.10`);
  t.match(text, `*.${OSS}.privatelink.rpz.\t30\tIN\tAAAA\tfd00:30:3::10`);
  t.match(text, `ntp.internal.example.privatelink.rpz.\t30\tIN\tA\t10.0.0.123`);
  const file = join(t.testdir({}), 'privatelink.rpz.zone');
  writeFileSync(file, text);
  const r = check('named-checkzone', ['-k', 'fail', '-n', 'fail', 'privatelink.rpz', file]);
  t.equal(r.code, 0, r.out.trim());
  t.match(r.out, /OK/);
});

t.test('coredns: balanced server-block syntax naming every managed name (no coredns binary on Debian)', async (t) => {
  const text = exportAs('coredns');
  const body = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  let depth = 0;
  let minDepth = 0;
  for (const ch of body.replace(/"(?:[^"\\]|\\.)*"/g, '')) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    minDepth = Math.min(minDepth, depth);
  }
  t.equal(minDepth, 0, 'never closes more blocks than it opened');
  t.equal(depth, 0, 'braces balance');
  t.match(body, /\bhosts\b/);
  for (const n of [CS, OSS, 'ntp.internal.example']) t.match(body, n);
});

t.test('an unknown format is a usage error (exit 2)', async (t) => {
  const r = runCli(['export', '--config', configPath, '--format', 'tinydns']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--format must be one of/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
