/**
 * The shipped configs are true for their use: simulator.yaml syncs as-is against the simulator's
 * demo data; every config that syncs from PrivateLink does so against a simulator holding an
 * endpoint for each of its entries (only the API address and key are swapped for the
 * simulator's), and answers every configured name; check passes without a quota warning.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { formatProblems, parseConfigText } from '../../src/config/load';
import type { Config, EntryConfig } from '../../src/config/schema';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import {
  DEMO_ENTRIES, DEMO_SIMULATOR_DATA, SIMULATOR_DEFAULT_ACCESS_KEY_ID, SIMULATOR_DEFAULT_ACCESS_KEY_SECRET, SIMULATOR_DEFAULT_HOST, SIMULATOR_DEFAULT_PORT,
  startSimulator, type SimEndpoint, type SimulatorData,
} from '../../src/simulator';
import { captureLogger, simulatorApiConfig } from '../helpers/privatelink-fake';
import { examplesDirWithKey, examplesWithKey } from '../helpers/example-files';

const ROOT = resolve(__dirname, '..', '..');
const CONFIG_DIR = join(ROOT, 'config');
const CLI = join(ROOT, 'dist', 'cli.js');
// The key file the fleet examples name, as the install step leaves it (the shipped one is a refused placeholder).
const FILES = examplesWithKey();

function load(text: string): Config {
  const { config, problems } = parseConfigText(text, { files: FILES });
  if (!config) throw new Error(formatProblems(problems).join('\n'));
  return config;
}

/** The config with only the API address and key pointed at a simulator. */
function againstSimulator(config: Config, endpoint: string): Config {
  return { ...config, privatelink: simulatorApiConfig(endpoint, { refresh: config.privatelink.refresh }) };
}

async function syncOnce(config: Config) {
  const { logger } = captureLogger();
  const clients = new ApiClientProvider(config, logger);
  try {
    return await new Syncer({ api: clients.provide, config, observer: noSyncObserver, logger, onState: () => {} }).syncOnce();
  } finally {
    clients.close();
  }
}

/** One Active endpoint per cloud entry, in the entry's VPC, with two connected zones. */
function dataFor(entries: readonly EntryConfig[]): SimulatorData {
  return {
    endpoints: entries.flatMap((e, i): SimEndpoint[] => {
      if (e.kind === 'static') return [];
      const id = e.kind === 'endpoint' ? e.endpointId : `ep-bp1svc${i}`;
      return [{
        EndpointId: id,
        EndpointDomain: `${id}.epsrv-bp1x${i}.cn-hangzhou.privatelink.aliyuncs.com`,
        EndpointStatus: 'Active',
        ConnectionStatus: 'Connected',
        ServiceName: e.kind === 'service' ? e.serviceName : `com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1x${i}`,
        VpcId: e.vpcId ?? 'vpc-bp1ddddddddddddddddd',
        RegionId: 'cn-hangzhou',
        Zones: [
          { ZoneId: 'cn-hangzhou-j', EniIp: `192.168.${20 + i}.10`, ZoneStatus: 'Connected' },
          { ZoneId: 'cn-hangzhou-k', EniIp: `192.168.${20 + i}.11`, ZoneStatus: 'Connected' },
        ],
      }];
    }),
  };
}

t.test('simulator.yaml works as-is with `privatelink-dns simulate`', async (t) => {
  const config = load(readFileSync(join(CONFIG_DIR, 'simulator.yaml'), 'utf8'));
  t.equal(config.privatelink.endpoint, `${SIMULATOR_DEFAULT_HOST}:${SIMULATOR_DEFAULT_PORT}`, "simulate's default address");
  t.equal(config.privatelink.protocol, 'http');
  t.same(config.privatelink.credentials, { type: 'access_key', accessKeyId: SIMULATOR_DEFAULT_ACCESS_KEY_ID, accessKeySecret: SIMULATOR_DEFAULT_ACCESS_KEY_SECRET });
  const ids = (entries: readonly EntryConfig[]) => entries.map((e) => (e.kind === 'endpoint' ? e.endpointId : e.kind === 'service' ? e.serviceName : ''));
  t.same(ids(config.records.entries), DEMO_ENTRIES.map((e) => ('endpoint' in e ? e.endpoint : e.service)), 'the demo data ids');
  t.same(config.records.entries.map((e) => e.names), DEMO_ENTRIES.map((e) => e.names), 'the demo names');

  // The test's simulator listens on a free port; everything else is the file as shipped.
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const out = await syncOnce({ ...config, privatelink: { ...config.privatelink, endpoint: sim.endpoint } });
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  for (const entry of config.records.entries) {
    const input = out.inputs.find((i) => i.names.includes(entry.names[0] as string));
    t.ok((input?.ipv4.length ?? 0) > 0, `${entry.names[0]} answers`);
  }
  t.same(sim.calls(), { total: 5, ListVpcEndpoints: 1, ListVpcEndpointZones: 4 }, 'one listing of the demo VPC serves all four entries');
});

const syncing = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml') && f !== 'simulator.yaml');
const manifests = YAML.parseAllDocuments(readFileSync(join(ROOT, 'deploy/daemonset.yaml'), 'utf8')).map((d) => d.toJS());
const daemonsetConfig = (manifests.find((o) => o.kind === 'ConfigMap') as { data: Record<string, string> }).data['config.yaml'] as string;

t.test('every example that syncs from PrivateLink syncs against the simulator and answers its names', async (t) => {
  const texts: [string, string][] = syncing.map((f): [string, string] => [f, readFileSync(join(CONFIG_DIR, f), 'utf8')]);
  texts.push(['deploy/daemonset.yaml', daemonsetConfig]);
  let synced = 0;
  for (const [name, text] of texts) {
    const config = load(text);
    if (config.source !== 'privatelink') continue;
    synced++;
    const sim = await startSimulator({ port: 0, data: dataFor(config.records.entries) });
    try {
      const out = await syncOnce(againstSimulator(config, sim.endpoint));
      t.equal(out.result, 'success', `${name}: ${JSON.stringify(out.errors)}`);
      config.records.entries.forEach((entry, i) => {
        const state = out.state.entries[i];
        const names = entry.kind === 'static' ? entry.names : [...entry.names, state?.endpoint?.endpointDomain ?? '(none)'];
        for (const n of names) {
          const input = out.inputs.find((x) => x.names.includes(n));
          t.ok((input?.ipv4.length ?? 0) > 0, `${name}: ${n} answers`);
        }
      });
      const vpcs = new Set(config.records.entries.flatMap((e) => (e.kind === 'static' ? [] : [e.vpcId ?? ''])));
      t.equal(sim.calls().ListVpcEndpoints, vpcs.size, `${name}: one ListVpcEndpoints per VPC from the first sync (every entry names its vpc)`);
    } finally {
      await sim.close();
    }
  }
  t.ok(synced >= 6, `configs synced: ${synced}`);
});

t.test('check passes for every example, without a quota warning', async (t) => {
  const copy = examplesDirWithKey();
  t.teardown(copy.remove);
  for (const f of [...syncing, 'simulator.yaml']) {
    const r = spawnSync(process.execPath, [CLI, 'check', '--config', join(copy.dir, f)], { encoding: 'utf8', timeout: 20_000 });
    t.equal(r.status, 0, `${f}: ${r.stderr}`);
    // Whether /var/lib/privatelink-dns can be created depends on the user running the test (check.test.ts tests it).
    t.equal(r.stderr.replace(/^.*: warning: state_dir: \/var\/lib\/privatelink-dns .*\n/m, ''), '', `${f}: no warning`);
  }
  // The DaemonSet's config too: its API and STS hosts are reached the same way (no leased-line warning).
  const dir = mkdtempSync(join(tmpdir(), 'pldns-ds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), daemonsetConfig);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', join(dir, 'config.yaml')], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, `deploy/daemonset.yaml: ${r.stderr}`);
  t.equal(r.stderr.replace(/^.*: warning: state_dir: \/var\/lib\/privatelink-dns .*\n/m, ''), '', 'deploy/daemonset.yaml: no warning');
});

t.test('asm.yaml answers the EndpointDomain by service, with no name typed by hand', async (t) => {
  const config = load(readFileSync(join(CONFIG_DIR, 'asm.yaml'), 'utf8'));
  t.same(config.records.entries.map((e) => [e.kind, e.names.length]), [['service', 0]]);
  t.notMatch(readFileSync(join(CONFIG_DIR, 'asm.yaml'), 'utf8'), /^\s*- names: \["ep-/m, 'no endpoint domain typed from ids');
});

t.test('virtual-node.yaml listens where CoreDNS can reach it and gives the forward stanza', async (t) => {
  const text = readFileSync(join(CONFIG_DIR, 'virtual-node.yaml'), 'utf8');
  const config = load(text);
  const listen = config.listen.dns[0];
  t.notMatch(listen?.host, /^127\./, 'not loopback: pods cannot reach a node\'s 127.0.0.1');
  t.match(text, new RegExp(`forward \\. ${listen?.host}:${listen?.port}`), 'the CoreDNS stanza forwards to the listen address');
  for (const e of config.records.entries) t.match(text, new RegExp(`^#.*${(e.names[0] as string).replace(/\./g, '\\.')}`, 'm'), `${e.names[0]} is in the stanza`);
});

t.test("edge-node.yaml's optional SLS entry is valid when uncommented", async (t) => {
  const text = readFileSync(join(CONFIG_DIR, 'edge-node.yaml'), 'utf8');
  const uncommented = text.replace(/^ {4}# (- names: \["\{region\}-intranet\.log| {2}endpoint: ep-bp1e| {2}vpc: )/gm, '    $1');
  t.not(uncommented, text, 'the SLS block is there');
  const config = load(uncommented);
  t.ok(config.records.entries.some((e) => e.names.includes('cn-hangzhou-intranet.log.aliyuncs.com')), 'SLS entry');
});
