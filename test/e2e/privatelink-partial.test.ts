import t from 'tap';
import { dig } from '../helpers/dig';
import { startDaemon } from '../helpers/daemon';
import { endpoint, startSimulatorProcess, zone } from '../helpers/simulator-process';

/**
 * A listing that breaks half-way (page 1 of ListVpcEndpointZones answers, page 2 fails) must not
 * replace the endpoint's IPs with page 1 alone: the daemon keeps the last complete listing, marked
 * stale, until a sync completes again. Real client, simulator as a child process, dig over TCP.
 */
const ID = 'ep-bp1partial0001';
const zones = (third: number): Record<string, unknown>[] =>
  Array.from({ length: 120 }, (_, i) => zone(ID, `cn-hangzhou-p${String(i).padStart(3, '0')}`, `10.${third}.${Math.floor(i / 100)}.${(i % 100) + 1}`));
const sorted = (ips: string[]): string[] => [...ips].sort();

t.test('a partial zone listing never replaces the last complete one', async (t) => {
  const before = zones(30);
  const after = zones(40);
  const sim = await startSimulatorProcess({ endpoints: [endpoint(ID, before)] });
  t.teardown(() => sim.stop());
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
privatelink:
  endpoint: "${sim.endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "*/1 * * * * *"
  jitter: 0s
  timeout: 2s
records: { entries: [ { names: ["partial.pl.example"], endpoint: ${ID} } ] }
state_dir: false
limits: { lameduck: 0s }
`);
  t.teardown(() => daemon.stop());
  const status = async (): Promise<any> => (await fetch(`http://127.0.0.1:${daemon.httpPort}/status`)).json();
  const answers = async (): Promise<string[]> => sorted((await dig(daemon.dnsPort, 'partial.pl.example', 'A', ['+tcp'])).answers.map((a) => a.data));

  const oldIps = sorted(before.map((z) => z.EniIp as string));
  for (let i = 0; i < 80 && (await answers()).length !== 120; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(await answers(), oldIps, 'all 120 IPs of the first complete listing');

  // New data in the API, but every zone listing now fails on its second page.
  await sim.control('POST', 'faults', { action: 'ListVpcEndpointZones', after: 1, status: 503, code: 'ServiceUnavailable' });
  await sim.setState({ endpoints: [endpoint(ID, after)] });
  let seen: any;
  for (let i = 0; i < 100; i++) {
    const s = await status();
    const e = s.endpoints[0];
    if (e.lastError?.code === 'PL_SERVER') {
      seen = e;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(seen, 'a sync failed on page 2 with PL_SERVER');
  t.equal(seen?.stale, true, 'the entry is marked stale');
  t.same(sorted(seen?.answers.ipv4 ?? []), oldIps, '/status still answers the old complete set');
  t.same(await answers(), oldIps, 'dig: still exactly the old 120 IPs, not page 1 of the new listing');
  const calls = await sim.calls();
  t.comment(`calls so far: ${JSON.stringify(calls)}`);

  // The fault goes away: the next complete listing replaces the table.
  await sim.control('DELETE', 'faults');
  const newIps = sorted(after.map((z) => z.EniIp as string));
  let now: string[] = [];
  for (let i = 0; i < 150; i++) {
    now = await answers();
    if (now.length === 120 && now[0] === newIps[0]) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.same(now, newIps, 'after recovery: the new complete listing');
});
