import t from 'tap';
import { createServer } from 'node:net';
import { startDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { MANAGED, edgeYaml, fleetData, hubYaml, startUpstream, NO_CREDENTIALS } from '../helpers/fleet';
import { freePort } from '../helpers/ports';
import { startSimulatorProcess } from '../helpers/simulator-process';

/**
 * Fleet mode with probes: the endpoint has two zones, one serving the probed port and one
 * refusing it. The hub and the edge each answer only the reachable IP (each probes for itself),
 * while the zone the hub publishes keeps both: what an edge can reach is the edge's business.
 */

const REACHABLE = '127.0.0.21';
const REFUSING = '127.0.0.22';
const probeYaml = (port: number): string => `  probe: { port: ${port}, interval: 500ms, timeout: 200ms, fail_after: 2, pass_after: 1 }\n`;

async function answersOf(port: number): Promise<string[]> {
  return (await dig(port, MANAGED)).answers.filter((a) => a.type === 'A').map((a) => a.data).sort();
}

async function askUntil(port: number, want: string[], limitMs: number): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 200 && Date.now() - start < limitMs; i++) {
    if ((await answersOf(port)).join() === want.join()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

t.test('hub and edge answer only the reachable zone; the published zone keeps both', async (t) => {
  const probePort = await freePort(REACHABLE);
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(probePort, REACHABLE, r));
  t.teardown(() => server.close());

  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const sim = await startSimulatorProcess(fleetData(REFUSING, REACHABLE));
  t.teardown(() => sim.stop());
  const hubConfig = hubYaml({ sim, upstreamPort: upstream.port }).replace('records:\n  ttl: 30\n', `records:\n  ttl: 1\n${probeYaml(probePort)}`);
  t.match(hubConfig, /probe: \{ port/, 'probe settings in the hub config');
  const hub = await startDaemon(hubConfig);
  t.teardown(() => hub.stop());
  // The endpoint IPs here are loopback addresses (probed on this machine): the edge must accept them.
  const edgeConfig = edgeYaml({ hubPorts: [hub.dnsPort], upstreamPort: upstream.port }).replace('  managed:', '  refused_ranges: ["100.64.0.0/10"]\n  managed:');
  const edge = await startDaemon(`${edgeConfig}records:\n${probeYaml(probePort)}`, { env: NO_CREDENTIALS });
  t.teardown(() => edge.stop());

  const hubMs = await askUntil(hub.dnsPort, [REACHABLE], 15_000);
  t.ok(hubMs >= 0, `hub: only ${REACHABLE} after ${hubMs} ms`);
  const edgeMs = await askUntil(edge.dnsPort, [REACHABLE], 15_000);
  t.ok(edgeMs >= 0, `edge: only ${REACHABLE} after ${edgeMs} ms`);
  if (edgeMs < 0) t.comment(`edge answers ${JSON.stringify(await answersOf(edge.dnsPort))}; status ${JSON.stringify(await (await fetch(`http://127.0.0.1:${edge.httpPort}/status`)).json())}`);

  const axfr = await dig(hub.dnsPort, 'privatelink.rpz', 'AXFR');
  // AXFR output has no section headers: one record per line.
  const published = axfr.raw.split('\n').map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === `${MANAGED}.privatelink.rpz.` && f[3] === 'A').map((f) => f[4] ?? '').sort();
  t.same(published, [REACHABLE, REFUSING], 'the hub publishes every IP');

  const status = await (await fetch(`http://127.0.0.1:${hub.httpPort}/status`)).json() as { probes: { ips: { ip: string; zone: string | null; state: string; lastResult: string | null }[] } };
  const refused = status.probes.ips.find((i) => i.ip === REFUSING);
  t.equal(refused?.state, 'down');
  t.equal(refused?.lastResult, 'refused');
  t.equal(refused?.zone, 'cn-hangzhou-k', 'the zone of the IP, from the sync state');
  t.equal(status.probes.ips.find((i) => i.ip === REACHABLE)?.state, 'up');
});
