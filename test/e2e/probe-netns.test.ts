import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';
import { sh, TestNetns } from '../helpers/netns';

/**
 * Reachability probes over a real link: namespace "node" runs privatelink-dns, namespace "zones"
 * holds two endpoint IPs serving TCP, joined by a veth pair (198.18.0.0/15, RFC 2544 benchmark
 * space). A blackhole route in the node namespace cuts one IP, then both. Needs root (ip netns).
 */

const NODE = `pldns-probe-node-${process.pid}`;
const ZONES = `pldns-probe-zones-${process.pid}`;
const NAME = 'registry.example.test';
const IP_A = '198.18.1.1';
const IP_B = '198.18.2.1';
const INTERVAL_MS = 1000;
const FAIL_AFTER = 2;
const PASS_AFTER = 2;
// How long to keep asking (not a pass/fail bound: those count probes).
const SLACK_MS = 10_000;
/** Probes that may complete between the one that changes an answer and the answer being read. */
const EXTRA_PROBES = 3;

const netns = new TestNetns(t);

function inNs(ns: string, ...cmd: string[]): { code: number; out: string } {
  return sh('ip', ['netns', 'exec', ns, ...cmd]);
}

function answers(): string[] {
  const r = inNs(NODE, 'dig', '@127.0.0.1', NAME, 'A', '+short', '+tries=1', '+time=2');
  return r.out.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l)).sort();
}

/** privatelink_dns_probe_attempts_total for one result, from /metrics. */
function probeCount(result: string): number {
  const m = new RegExp(`^privatelink_dns_probe_attempts_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(httpGet('/metrics').body);
  return m ? Number(m[1]) : 0;
}

function httpGet(path: string): { status: number; body: string } {
  const js = `fetch('http://127.0.0.1:8053${path}').then(async (r) => process.stdout.write(r.status + ' ' + (await r.text())))`;
  const r = inNs(NODE, process.execPath, '-e', js);
  const m = /^(\d+) ([\s\S]*)$/.exec(r.out);
  return { status: m ? Number(m[1]) : -1, body: m ? m[2] : r.out };
}

/** Asks every 100 ms (so the name stays "asked") until `done(answers)`; returns the time taken, or -1. */
async function askUntil(done: (ips: string[]) => boolean, limitMs: number, each?: (ips: string[]) => void): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 400 && Date.now() - start < limitMs; i++) {
    const ips = answers();
    each?.(ips);
    if (done(ips)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

const same = (want: string[]) => (ips: string[]): boolean => ips.join() === want.join();

t.test('unreachable endpoint IPs leave the answers; all unreachable fails open', async (t) => {
  for (const tool of ['ip', 'dig']) requireTool(tool);
  if (!netns.add(t, NODE) || !netns.add(t, ZONES)) return;
  const setup: string[][] = [
    ['link', 'add', 'pl-node', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'pl-zones', 'netns', ZONES],
  ];
  for (const args of setup) t.equal(sh('ip', args).code, 0, `ip ${args.join(' ')}`);
  const steps: [string, string[]][] = [
    [NODE, ['ip', 'link', 'set', 'lo', 'up']],
    [NODE, ['ip', 'addr', 'add', '198.18.0.1/24', 'dev', 'pl-node']],
    [NODE, ['ip', 'link', 'set', 'pl-node', 'up']],
    [NODE, ['ip', 'route', 'add', '198.18.1.0/24', 'via', '198.18.0.2']],
    [NODE, ['ip', 'route', 'add', '198.18.2.0/24', 'via', '198.18.0.2']],
    [ZONES, ['ip', 'link', 'set', 'lo', 'up']],
    [ZONES, ['ip', 'addr', 'add', '198.18.0.2/24', 'dev', 'pl-zones']],
    [ZONES, ['ip', 'addr', 'add', `${IP_A}/32`, 'dev', 'pl-zones']],
    [ZONES, ['ip', 'addr', 'add', `${IP_B}/32`, 'dev', 'pl-zones']],
    [ZONES, ['ip', 'link', 'set', 'pl-zones', 'up']],
  ];
  for (const [ns, cmd] of steps) {
    const r = inNs(ns, ...cmd);
    t.equal(r.code, 0, `${cmd.join(' ')}: ${r.out.trim() || 'ok'}`);
  }

  // The "endpoints": port 443 on both zone IPs, accepting and closing.
  const serve = `const net = require('node:net'); let n = 0;
    for (const host of ['${IP_A}', '${IP_B}']) net.createServer((s) => s.destroy()).listen(443, host, () => { if (++n === 2) console.log('listening'); });`;
  await netns.startIn(ZONES, [process.execPath, '-e', serve], (out) => out.includes('listening'), 'TCP endpoints');

  const dir = mkdtempSync(join(tmpdir(), 'pldns-probe-'));
  writeFileSync(join(dir, 'config.yaml'), `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:53"], http: "127.0.0.1:8053" }
upstream: { servers: ["127.0.0.1:5300"], timeout: 1s }
records:
  ttl: 1
  probe: { port: 443, interval: ${INTERVAL_MS}ms, timeout: 500ms, fail_after: ${FAIL_AFTER}, pass_after: ${PASS_AFTER}, idle: 1m }
  entries:
    - names: ["${NAME}"]
      addresses: ["${IP_A}", "${IP_B}"]
      probe: true
state_dir: false
`);
  const daemon = await netns.startIn(NODE, [process.execPath, CLI, 'serve', '--config', join(dir, 'config.yaml')], (out) => out.includes('privatelink-dns started'), 'privatelink-dns');
  t.teardown(async () => {
    if (daemon.proc.exitCode === null) {
      daemon.proc.kill('SIGTERM');
      await new Promise((r) => daemon.proc.once('exit', r));
    }
  });

  t.same(answers(), [IP_A, IP_B], 'both IPs before any probe');
  // Asking starts the probes; wait until both IPs were probed up.
  const upMs = await askUntil(() => {
    const status = JSON.parse(httpGet('/status').body) as { probes: { ips: { ip: string; state: string }[] } };
    return status.probes.ips.filter((i) => i.state === 'up').length === 2;
  }, 10_000);
  t.ok(upMs >= 0, `both IPs probed up (${upMs} ms)`);

  // One zone unreachable from this node (failures counted from before the route changes).
  const failedBefore = probeCount('unreachable') + probeCount('timeout');
  t.equal(inNs(NODE, 'ip', 'route', 'add', 'blackhole', `${IP_B}/32`).code, 0, `blackhole ${IP_B}`);
  const bound = INTERVAL_MS * FAIL_AFTER + 1000;
  const dropMs = await askUntil(same([IP_A]), bound + SLACK_MS + 5000, (ips) => t.ok(ips.length >= 1, 'never an empty answer'));
  const failedAtDrop = probeCount('unreachable') + probeCount('timeout') - failedBefore;
  t.ok(dropMs >= 0, `only ${IP_A} answered after ${dropMs} ms`);
  // Counted in probes, not milliseconds: a busy machine delays probes, not the rule.
  t.ok(failedAtDrop >= FAIL_AFTER, `left out only after fail_after (${FAIL_AFTER}) failed probes: ${failedAtDrop}`);
  t.ok(failedAtDrop <= FAIL_AFTER + EXTRA_PROBES, `and at the first answer after them (${failedAtDrop} failed probes seen, at most ${EXTRA_PROBES} more while the answer was read)`);
  t.comment(`figure: unreachable IP left out ${dropMs} ms after the blackhole (interval × fail_after + 1 s = ${bound} ms)`);
  for (let i = 0; i < 5; i++) t.same(answers(), [IP_A], 'stays out');
  let metrics = httpGet('/metrics').body;
  t.match(metrics, new RegExp(`privatelink_dns_probe_ip_reachable\\{[^}]*ip="${IP_B.replaceAll('.', '\\.')}"[^}]*\\} 0`), 'gauge 0 for the blackholed IP');
  t.match(metrics, new RegExp(`privatelink_dns_probe_ip_reachable\\{[^}]*ip="${IP_A.replaceAll('.', '\\.')}"[^}]*\\} 1`), 'gauge 1 for the reachable IP');
  t.match(metrics, /privatelink_dns_probe_attempts_total\{result="unreachable"\} [1-9]/, 'failed probes counted as unreachable');
  t.match(metrics, /privatelink_dns_probe_degraded_names 0/, 'not degraded: one IP passes');

  // Route restored: back after pass_after passes.
  const okBefore = probeCount('ok');
  t.equal(inNs(NODE, 'ip', 'route', 'del', 'blackhole', `${IP_B}/32`).code, 0, 'restore the route');
  const backBound = INTERVAL_MS * PASS_AFTER + 1000;
  const backMs = await askUntil(same([IP_A, IP_B]), backBound + SLACK_MS + 5000);
  const okAtBack = probeCount('ok') - okBefore;
  t.ok(backMs >= 0, `both answered again after ${backMs} ms`);
  // Both IPs are probed each interval, so pass_after passes of the restored IP are at least
  // pass_after ok probes and at most 2 × (pass_after + EXTRA_PROBES) in all.
  t.ok(okAtBack >= PASS_AFTER, `not before pass_after (${PASS_AFTER}) passes: ${okAtBack} ok probes`);
  t.ok(okAtBack <= 2 * (PASS_AFTER + EXTRA_PROBES), `and soon after them: ${okAtBack} ok probes of the two IPs`);
  t.comment(`figure: restored IP answered again ${backMs} ms after the route came back (interval × pass_after + 1 s = ${backBound} ms)`);

  // Every IP unreachable: all answered (fail open), degraded in /status and metrics, still ready.
  for (const ip of [IP_A, IP_B]) t.equal(inNs(NODE, 'ip', 'route', 'add', 'blackhole', `${ip}/32`).code, 0, `blackhole ${ip}`);
  // (For a moment one IP may be out while the other has not failed fail_after times yet.)
  const degradedMs = await askUntil(() => {
    const status = JSON.parse(httpGet('/status').body) as { degraded: string[] };
    return status.degraded.includes(NAME);
  }, bound + SLACK_MS + 5000, (ips) => t.ok(ips.length >= 1, 'never an empty answer'));
  t.ok(degradedMs >= 0, `degraded in /status after ${degradedMs} ms`);
  for (let i = 0; i < 10; i++) {
    t.same(answers(), [IP_A, IP_B], 'fail open: every IP answered');
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = JSON.parse(httpGet('/status').body) as { degraded: string[]; probes: { down: number; degraded: { names: string[] }[] } };
  t.same(status.degraded, [NAME], '/status degraded lists the name');
  t.equal(status.probes.down, 2, 'both IPs down in /status');
  metrics = httpGet('/metrics').body;
  t.match(metrics, /privatelink_dns_probe_degraded_names 1/, 'degraded in metrics');
  t.equal(httpGet('/readyz').status, 200, '/readyz does not depend on probes');
  // Log lines reach stdout through a buffered stream: give them a moment.
  for (let i = 0; i < 50 && !/every IP of this name fails its probe/.test(daemon.output()); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(daemon.output(), /every IP of this name fails its probe/, 'fail open is logged');
  t.match(daemon.output(), /endpoint IP unreachable from this node/, 'IP down is logged');
  t.match(daemon.output(), /endpoint IP reachable again/, 'IP up is logged');
});
