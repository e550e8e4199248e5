import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';
import { sh, TestNetns } from '../helpers/netns';

/**
 * glibc's resolver on an "edge node": a network namespace whose resolv.conf says
 * `nameserver 127.0.0.1`, privatelink-dns on 127.0.0.1:53 inside it, and an Unbound upstream
 * inside it too (so forwarded names stay local). `getent hosts` must resolve a managed name
 * and a forwarded one. Needs root (ip netns); without it the test fails and says why.
 */

const NS = `pldns-test-${process.pid}`;
const NETNS_ETC = `/etc/netns/${NS}`;
const UPSTREAM_PORT = 5300;
const MANAGED = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
const FORWARDED = 'www.example.test';

const netns = new TestNetns(t, () => rmSync(NETNS_ETC, { recursive: true, force: true }));

async function waitForUdp53(what: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = sh('ip', ['netns', 'exec', NS, 'dig', '@127.0.0.1', '-p', String(UPSTREAM_PORT), 'ready.invalid', '+tries=1', '+time=1']);
    if (/status: /.test(r.out)) return;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  throw new Error(`${what} did not answer`);
}

t.test('getent hosts through glibc in a namespace whose resolv.conf points at privatelink-dns', async (t) => {
  for (const tool of ['ip', 'unbound', 'getent', 'dig']) requireTool(tool);
  if (!netns.add(t, NS)) return;
  const lo = sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  t.equal(lo.code, 0, `lo up: ${lo.out}`);
  // A node has a non-loopback IPv4 address; without one, getaddrinfo's AI_ADDRCONFIG (used by
  // `getent ahostsv4`) answers "not found" for AF_INET without trusting DNS. glibc counts any
  // address other than 127.0.0.1, so one on lo does (no dummy/veth module needed).
  const addr = sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', '192.0.2.1/32', 'dev', 'lo']);
  t.equal(addr.code, 0, `ip addr add 192.0.2.1/32 dev lo: ${addr.out.trim() || 'ok'}`);
  mkdirSync(NETNS_ETC, { recursive: true });
  writeFileSync(join(NETNS_ETC, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n');

  const dir = mkdtempSync(join(tmpdir(), 'pldns-netns-'));
  writeFileSync(join(dir, 'unbound.conf'), [
    'server:',
    `  interface: 127.0.0.1@${UPSTREAM_PORT}`,
    '  do-daemonize: no', '  chroot: ""', '  username: ""', '  pidfile: ""', '  use-syslog: no', '  logfile: ""',
    '  do-ip6: no', '  access-control: 127.0.0.0/8 allow', '  num-threads: 1', '  module-config: "iterator"',
    '  local-zone: "example.test." static',
    `  local-data: "${FORWARDED}. 300 IN A 192.0.2.10"`,
    '  local-zone: "aliyuncs.com." static',
    `  local-data: "${MANAGED}. 300 IN A 100.100.1.1"`,
    '',
  ].join('\n'));
  const unbound = spawn('ip', ['netns', 'exec', NS, 'unbound', '-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
  netns.track(unbound);
  await waitForUdp53('unbound in the namespace');

  writeFileSync(join(dir, 'config.yaml'), `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:53"], http: "127.0.0.1:8053" }
upstream: { servers: ["127.0.0.1:${UPSTREAM_PORT}"], timeout: 1s }
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      addresses: ["10.50.1.10"]
state_dir: false
`);
  const daemon = await netns.startIn(NS, [process.execPath, CLI, 'serve', '--config', join(dir, 'config.yaml')], (out) => out.includes('privatelink-dns started'), 'privatelink-dns in the namespace');
  t.teardown(async () => {
    if (daemon.proc.exitCode === null) {
      daemon.proc.kill('SIGTERM');
      await new Promise((r) => daemon.proc.once('exit', r));
    }
  });

  const managed = sh('ip', ['netns', 'exec', NS, 'getent', 'hosts', MANAGED]);
  t.equal(managed.code, 0, `getent hosts ${MANAGED}: ${managed.out.trim()}`);
  t.match(managed.out, new RegExp(`^10\\.50\\.1\\.10\\s+${MANAGED.replaceAll('.', '\\.')}`, 'm'), 'managed name: the endpoint IP');
  t.notMatch(managed.out, /100\.100\.1\.1/, 'never the upstream 100.64/10 address');

  const forwarded = sh('ip', ['netns', 'exec', NS, 'getent', 'hosts', FORWARDED]);
  t.equal(forwarded.code, 0, `getent hosts ${FORWARDED}: ${forwarded.out.trim()}`);
  t.match(forwarded.out, /^192\.0\.2\.10\s+www\.example\.test/m, 'forwarded name through the namespace upstream');

  const ahosts = sh('ip', ['netns', 'exec', NS, 'getent', 'ahostsv4', MANAGED]);
  t.match(ahosts.out, /^10\.50\.1\.10\s+STREAM/m, `getaddrinfo (ahostsv4) too: ${ahosts.code} ${ahosts.out.trim()}`);

  const missing = sh('ip', ['netns', 'exec', NS, 'getent', 'hosts', 'missing.example.test']);
  t.equal(missing.code, 2, 'NXDOMAIN: getent exits 2 (not found)');

  // Node's own fetch inside the namespace (no curl needed): "<status> <body>".
  const readyz = "fetch('http://127.0.0.1:8053/readyz').then(async (r) => process.stdout.write(r.status + ' ' + (await r.text())))";
  const ready = sh('ip', ['netns', 'exec', NS, process.execPath, '-e', readyz]);
  t.equal(ready.code, 0, `/readyz fetched inside the namespace: ${ready.out.trim()}`);
  t.match(ready.out, /^200 .*"ready":true/, 'ready inside the namespace');
});
