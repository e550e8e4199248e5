import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { MANAGED, fleetData, hubYaml, startEdge, startSimulatorProcess, startUpstream } from '../helpers/fleet';
import { freePort } from '../helpers/ports';
import { requireTool } from '../helpers/tools';

/**
 * The Grafana dashboard and the Prometheus rules against a real Prometheus (Debian's) scraping a
 * real hub and edge: every panel query returns data, the rules' own unit tests pass under
 * promtool, and injected faults make the matching alerts fire.
 */

const ROOT = resolve(__dirname, '..', '..');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'privatelink-dns.json');
const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yaml');
const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yaml');

interface Target {
  readonly expr: string;
  readonly refId: string;
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: Target[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: string | { query: string };
}
interface Dashboard {
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** A panel's query as Grafana sends it with "All" selected and the variables' defaults. */
function expand(expr: string): string {
  const defaults = new Map(dashboard.templating.list.filter((v) => v.type === 'textbox').map((v) => [v.name, String(v.query)]));
  return expr
    .replaceAll('$__rate_interval', '20s')
    .replaceAll('$__range', '1h')
    .replaceAll('$job', '.*')
    .replaceAll('$instance', '.*')
    .replace(/\$(\w+)/g, (m, name: string) => defaults.get(name) ?? m);
}

t.test('promtool: the rules are valid and their unit tests pass', async (t) => {
  requireTool('promtool');
  const check = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8', timeout: 60_000 });
  t.equal(check.status, 0, `promtool check rules: ${check.stdout}${check.stderr}`);
  t.match(check.stdout, /SUCCESS: 15 rules found/);
  const unit = spawnSync('promtool', ['test', 'rules', ALERT_TESTS], { encoding: 'utf8', timeout: 60_000 });
  t.equal(unit.status, 0, `promtool test rules: ${unit.stdout}${unit.stderr}`);
});

t.test('the dashboard is importable as is: datasource, job and instance variables, every panel on it', async (t) => {
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  t.equal(vars.get('datasource')?.type, 'datasource');
  t.equal(vars.get('job')?.type, 'query');
  t.equal(vars.get('instance')?.type, 'query');
  const text = readFileSync(DASHBOARD, 'utf8');
  t.notMatch(text, /"uid":\s*"(?!\$\{datasource\}|privatelink-dns")/, 'no datasource uid but the variable');
  const titles = dashboard.panels.map((p) => p.title).join('\n');
  for (const want of [/Answers per second/, /by rcode/, /latency/, /Cache hit ratio/, /Upstream health/, /Upstream exchanges/, /Sync results/, /max_stale/, /quota/, /Probe-degraded/, /Memory/, /CPU/, /published by hubs, received by edges/, /SOA checks/]) {
    t.match(titles, want, `a panel for ${want.source}`);
  }
});

async function promQuery(base: string, expr: string): Promise<unknown[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data?.result ?? [];
}

interface FiringAlert {
  readonly labels: Record<string, string>;
  readonly state: string;
}

async function alerts(base: string): Promise<FiringAlert[]> {
  const res = await fetch(`${base}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) });
  return ((await res.json()) as { data: { alerts: FiringAlert[] } }).data.alerts;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls (at most `rounds` times, a second apart) until `ok` holds; returns whether it did. */
async function eventually(rounds: number, ok: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    if (await ok()) return true;
    await sleep(1000);
  }
  return false;
}

t.test('a real Prometheus scraping a hub and an edge: every panel has data, faults fire their alerts', async (t) => {
  requireTool('prometheus');
  requireTool('dig');
  const sim = await startSimulatorProcess(fleetData());
  const upstream = await startUpstream();
  const hub: RunningDaemon = await startDaemon(hubYaml({ sim, upstreamPort: upstream.port }));
  const edge = await startEdge({ hubPorts: [hub.dnsPort], upstreamPort: upstream.port, refresh: '1s' });
  // A hub whose API credentials are wrong: it never gets data, so it is never ready.
  const dataless: RunningDaemon = await startDaemon(hubYaml({ sim, upstreamPort: upstream.port }).replace('access_key_secret: simulator', 'access_key_secret: not-the-secret'));
  const promDir = mkdtempSync(join(tmpdir(), 'pldns-prom-'));
  let prom: ChildProcess | undefined;
  t.teardown(async () => {
    prom?.kill('SIGTERM');
    await Promise.all([hub.stop(), edge.stop(), dataless.stop(), sim.stop(), upstream.close()]);
    rmSync(promDir, { recursive: true, force: true });
  });

  // The rules as shipped, with `for:` cut to 0s and the 5m/10m windows to seconds so that a fault
  // shows within seconds (the expressions and labels are unchanged). "No success" windows are cut
  // shorter (15 s) than the failure windows (60 s), as 10 minutes is long against a 5-minute
  // schedule: otherwise the first failure could leave its window as the last success leaves its own
  // (a forbidden sync backs off for 30-60 s before the next call).
  const rules = readFileSync(ALERTS, 'utf8')
    .replace(/for: \d+m/g, 'for: 0s')
    .replace(/result="success"\}\[(5|10)m\]/g, 'result="success"}[15s]')
    .replace(/\[(5|10)m\]/g, '[60s]');
  writeFileSync(join(promDir, 'alerts.yaml'), rules);
  const hubTarget = `127.0.0.1:${hub.httpPort}`;
  const edgeTarget = `127.0.0.1:${edge.httpPort}`;
  const datalessTarget = `127.0.0.1:${dataless.httpPort}`;
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [alerts.yaml]
scrape_configs:
  - job_name: privatelink-dns
    static_configs:
      - targets: ["${hubTarget}", "${edgeTarget}", "${datalessTarget}"]
`,
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let promLog = '';
  prom = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prom.stderr?.on('data', (d) => (promLog = `${promLog}${d}`.slice(-4000)));
  const ready = await eventually(60, async () => (await fetch(`${base}/-/ready`).catch(() => undefined))?.status === 200);
  t.ok(ready, `prometheus is ready: ${promLog}`);

  // Traffic on both: managed names, a forwarded name asked twice (a miss, then a hit), a packet
  // too short to be a query (a drop).
  const junk = dgram.createSocket('udp4');
  const traffic = async (): Promise<void> => {
    for (const d of [hub, edge]) {
      await dig(d.dnsPort, MANAGED);
      await dig(d.dnsPort, 'www.example.net');
      await dig(d.dnsPort, 'www.example.net');
      await new Promise<void>((r) => junk.send(Buffer.from([0x12]), d.dnsPort, '127.0.0.1', () => r()));
    }
  };
  t.equal((await dig(edge.dnsPort, MANAGED)).answers.length > 0 || (await eventually(30, async () => (await dig(edge.dnsPort, MANAGED)).answers.length > 0)), true, 'the edge answers from the zone it received');

  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((tg) => ({ panel: p.title, refId: tg.refId, expr: expand(tg.expr) })));
  t.ok(queries.length >= 25, `${queries.length} panel queries`);
  const empty = new Set(queries.map((q) => `${q.panel} ${q.refId}`));
  for (let round = 0; round < 30 && empty.size > 0; round++) {
    await traffic();
    await sleep(1500);
    for (const q of queries) {
      if (empty.has(`${q.panel} ${q.refId}`) && (await promQuery(base, q.expr)).length > 0) empty.delete(`${q.panel} ${q.refId}`);
    }
  }
  junk.close();
  for (const q of queries) t.notOk(empty.has(`${q.panel} ${q.refId}`), `panel "${q.panel}" query ${q.refId} returns data: ${q.expr}`);
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /label_values\((?:(.+), )?(\w+)\)/.exec(q);
    const match = expand(m?.[1] ?? '').replaceAll('=~".*"', '=~".+"');
    const res = await fetch(`${base}/api/v1/label/${m?.[2]}/values?match[]=${encodeURIComponent(match)}`);
    const values = ((await res.json()) as { data: string[] }).data;
    t.ok(values.length > 0, `variable ${v.name} has values: ${values.join(', ')}`);
  }

  const firing = async (name: string, instance: string): Promise<boolean> => (await alerts(base)).some((a) => a.labels.alertname === name && a.labels.instance === instance && a.state === 'firing');
  t.notOk(await firing('PrivateLinkDnsSyncForbidden', hubTarget), 'healthy: no sync alert');
  t.notOk(await firing('PrivateLinkDnsDown', hubTarget), 'healthy: the hub is up');
  t.ok(await eventually(60, () => firing('PrivateLinkDnsNotReady', datalessTarget)), 'PrivateLinkDnsNotReady fires for the hub that never got data');
  t.notOk(await firing('PrivateLinkDnsNotReady', hubTarget), 'and not for the hub with data');
  t.notOk(await firing('PrivateLinkDnsNotReady', edgeTarget), 'nor for the edge holding a zone');

  // Fault 1: the RAM policy loses its actions (the simulator answers 403 Forbidden.RAM).
  await sim.control('POST', 'faults', { action: '*', status: 403, code: 'Forbidden.RAM' });
  t.ok(await eventually(60, () => firing('PrivateLinkDnsSyncForbidden', hubTarget)), 'PrivateLinkDnsSyncForbidden fires for the hub');
  t.notOk(await firing('PrivateLinkDnsSyncAuthFailed', hubTarget), 'and not the auth alert');
  await sim.control('DELETE', 'faults');

  // Fault 2: the hub stops.
  await hub.stop();
  t.ok(await eventually(60, () => firing('PrivateLinkDnsDown', hubTarget)), 'PrivateLinkDnsDown fires for the hub');
  t.ok(await eventually(60, () => firing('PrivateLinkDnsEdgePrimariesUnreachable', edgeTarget)), 'PrivateLinkDnsEdgePrimariesUnreachable fires for the edge');
  t.notOk(await firing('PrivateLinkDnsEdgeWithoutZone', edgeTarget), 'the edge still holds its zone');
});
