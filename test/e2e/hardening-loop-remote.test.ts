import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { parseDig } from '../helpers/dig';
import { requireTool } from '../helpers/tools';
import { sh, TestNetns } from '../helpers/netns';

/**
 * A forwarding loop between two hosts: privatelink-dns (198.18.0.1) forwards everything to a real
 * Unbound (198.18.0.2), which forwards the zone loop.corp back to privatelink-dns. Both run in a
 * network namespace of this test's own, so the loop crosses non-loopback addresses the way it does
 * between a node and a data-center resolver: the query that comes back must be answered SERVFAIL
 * at once, long before the upstream timeout.
 */
const NS = `pldns-loop-${process.pid}`;
const netns = new TestNetns(t);

t.test('a loop through another host is answered SERVFAIL at once and counted', async (t) => {
  requireTool('ip');
  requireTool('unbound');
  requireTool('dig');
  if (!netns.add(t, NS)) return;
  t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']).code, 0, 'lo up');
  for (const a of ['198.18.0.1', '198.18.0.2']) t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${a}/32`, 'dev', 'lo']).code, 0, `${a} on lo`);

  const dir = mkdtempSync(join(tmpdir(), 'pldns-loop-remote-'));
  writeFileSync(join(dir, 'unbound.conf'), [
    'server:', '  interface: 198.18.0.2@53', '  outgoing-interface: 198.18.0.2', '  do-daemonize: no', '  chroot: ""', '  username: ""', '  pidfile: ""',
    '  use-syslog: no', '  logfile: ""', '  do-not-query-localhost: no', '  access-control: 198.18.0.0/15 allow',
    '  module-config: "iterator"', '  domain-insecure: "loop.corp."', '  num-threads: 1',
    'forward-zone:', '  name: "loop.corp."', '  forward-addr: 198.18.0.1@53', '',
  ].join('\n'));
  writeFileSync(join(dir, 'config.yaml'), `
region: cn-hangzhou
listen: { dns: ["198.18.0.1:53"], http: "198.18.0.1:8053" }
access: { allow: ["198.18.0.0/15"] }
upstream: { servers: ["198.18.0.2:53"], timeout: 3s, max_fails: 1000 }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
limits: { lameduck: 0s }
`);
  const unbound = spawn('ip', ['netns', 'exec', NS, 'unbound', '-d', '-c', join(dir, 'unbound.conf')], { stdio: 'ignore' });
  const daemon = spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'serve', '--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  netns.track(unbound);
  netns.track(daemon);
  let logs = '';
  daemon.stdout?.on('data', (d) => (logs += d));
  const digIn = (name: string): ReturnType<typeof parseDig> & { ms: number } => {
    const started = Date.now();
    const r = sh('ip', ['netns', 'exec', NS, 'dig', '@198.18.0.1', name, 'A', '+tries=1', '+time=5']);
    return { ...parseDig(r.out), ms: Date.now() - started };
  };
  for (let i = 0; i < 50 && !(digIn('ntp.internal.example').answers.length > 0 && sh('ip', ['netns', 'exec', NS, 'dig', '@198.18.0.2', 'ready.invalid', '+tries=1', '+time=1']).out.includes('status:')); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const times: number[] = [];
  for (const name of ['a.loop.corp', 'b.loop.corp']) {
    const r = digIn(name);
    times.push(r.ms);
    t.equal(r.status, 'SERVFAIL', `${name}: SERVFAIL`);
  }
  // dig waits 5 s: an answer before 3 s did not come from the upstream timeout (the counter below proves it).
  t.ok(Math.max(...times) < 3000, `answered before the 3 s upstream timeout (${times.join(', ')} ms)`);
  const metricsText = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', "fetch('http://198.18.0.1:8053/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"], { encoding: 'utf8', timeout: 20_000 }).stdout;
  const loops = Number(/^privatelink_dns_loops_detected_total (\d+)/m.exec(metricsText)?.[1] ?? '0');
  t.ok(loops >= 2, `loops_detected_total = ${loops}`);
  t.notMatch(metricsText, /^privatelink_dns_upstream_requests_total\{[^}]*result="timeout"[^}]*\} [1-9]/m, 'no upstream exchange timed out: the loop was cut at once');
  for (let i = 0; i < 20 && !/forwarding loop/.test(logs); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(logs, /forwarding loop/, 'logged');
  t.same(digIn('ntp.internal.example').answers.map((a) => a.data), ['10.0.0.123'], 'still answering');
  t.comment(`loop through 198.18.0.2: ${times.join('/')} ms to SERVFAIL, loops_detected_total=${loops}`);
});
