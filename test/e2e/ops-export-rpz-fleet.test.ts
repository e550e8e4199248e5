import t from 'tap';
import { execFile } from 'node:child_process';
import { CLI, startDaemon } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';
import { MANAGED, hubYaml, startEdge, startSimulatorProcess, startUpstream, fleetData } from '../helpers/fleet';
import { ownTempDirs } from '../helpers/temp-dirs';

/**
 * `export --format rpz` prints the zone a hub publishes for the same data: the same serial, the same
 * SOA timers (transfer.soa or the hub's defaults) and the same records, so a BIND or Unbound loading
 * the file and a secondary transferring from the hub hold one zone. On an edge it prints the zone as
 * received. Real processes: the simulator, a hub, an edge, `dig` for the AXFR and the CLI's export.
 */

const tempDir = ownTempDirs(t);

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Zone {
  readonly soa: string[];
  readonly records: string[];
}

/** Zone-file or dig lines → the SOA's fields after its owner, class and type, and the other records as "name type data". */
function parseZone(text: string): Zone {
  let soa: string[] = [];
  const records = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(';') || line.startsWith('$')) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[2] !== 'IN') continue;
    const [name, , , type, ...data] = f as [string, string, string, string, ...string[]];
    if (type === 'SOA') soa = data.map((d) => d.toLowerCase());
    else records.add(`${name.toLowerCase()} ${type} ${data.join(' ').toLowerCase()}`);
  }
  return { soa, records: [...records].sort() };
}

async function axfr(port: number): Promise<Zone> {
  requireTool('dig');
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), 'privatelink.rpz', 'AXFR', '+nocmd', '+nostats']);
  return parseZone(r.stdout);
}

async function exportRpz(configPath: string): Promise<Zone & { stderr: string }> {
  const r = await run(process.execPath, [CLI, 'export', '--format', 'rpz', '--config', configPath]);
  if (r.code !== 0) throw new Error(`export exited ${r.code}: ${r.stderr}`);
  return { ...parseZone(r.stdout), stderr: r.stderr };
}

for (const c of [
  { title: 'default SOA timers', soa: '', timers: ['60', '10', '1209600'] },
  { title: 'transfer.soa set', soa: '  soa: { refresh: 45s, retry: 7s, expire: 2d }\n', timers: ['45', '7', '172800'] },
]) {
  t.test(`a hub and its rpz export hold one zone (${c.title})`, async (t) => {
    const sim = await startSimulatorProcess(fleetData());
    t.teardown(() => sim.stop());
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const dir = tempDir('pldns-hub-');
    const yaml = hubYaml({ sim, upstreamPort: upstream.port, stateDir: dir, refresh: '0 0 1 1 *' }).replace('transfer:\n', `transfer:\n${c.soa}`);
    const hub = await startDaemon(yaml, { dir });
    t.teardown(() => hub.stop());
    const published = await hub.waitForLog((l) => l.msg === 'policy zone published' && l.zone === 'privatelink.rpz');
    const fromHub = await axfr(hub.dnsPort);
    t.ok(fromHub.records.some((r) => r.startsWith(`${MANAGED}.privatelink.rpz. A `)), 'the AXFR names the managed name');
    t.equal(fromHub.soa[2], String(published.serial), 'the AXFR carries the published serial');
    t.same(fromHub.soa.slice(3, 6), c.timers, 'the hub publishes the configured timers');

    const edge = await startEdge({ hubPorts: [hub.dnsPort], upstreamPort: upstream.port });
    t.teardown(() => edge.stop());
    await edge.waitForLog((l) => l.msg === 'zone received from the primaries' && l.serial === published.serial);
    await edge.stop();
    await hub.stop();

    const exported = await exportRpz(hub.configPath);
    t.match(exported.stderr, /from the snapshot/, 'the export reads the hub\'s snapshot');
    t.same(exported.soa, fromHub.soa, `hub export SOA = the hub's SOA: ${fromHub.soa.join(' ')}`);
    t.same(exported.records, fromHub.records, `and the same ${fromHub.records.length} records`);

    const fromEdge = await exportRpz(edge.configPath);
    t.same(fromEdge.soa, fromHub.soa, 'the edge exports the zone as received: the hub\'s SOA');
    t.same(fromEdge.records, fromHub.records, 'and its records');
  });
}
