import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { startDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { freePort } from '../helpers/ports';

/**
 * Probes through the real CLI on loopback, across SIGHUP: a reload that leaves the probe settings
 * alone keeps what the probes found; `probe: false` on the entry brings every IP back at once.
 */

const NAME = 'api.internal.example';
const REACHABLE = '127.0.0.31';
const REFUSING = '127.0.0.32';

const yaml = (port: number, probe: string, ttl = 1): string => `region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: ["127.0.0.1:9"], timeout: 1s }
records:
  ttl: ${ttl}
  probe: { port: ${port}, interval: 300ms, timeout: 100ms, fail_after: 2, pass_after: 1 }
  entries:
    - { names: ["${NAME}"], addresses: ["${REACHABLE}", "${REFUSING}"], probe: ${probe} }
state_dir: false
`;

async function answers(port: number): Promise<string[]> {
  return (await dig(port, NAME)).answers.map((a) => a.data).sort();
}

t.test('reload keeps probe results unless the probe settings change', async (t) => {
  const port = await freePort(REACHABLE);
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(port, REACHABLE, r));
  t.teardown(() => server.close());
  const daemon = await startDaemon(yaml(port, 'true'));
  t.teardown(() => daemon.stop());

  let narrowed = false;
  for (let i = 0; i < 100 && !narrowed; i++) {
    narrowed = (await answers(daemon.dnsPort)).join() === REACHABLE;
    if (!narrowed) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(narrowed, `only ${REACHABLE} answered`);

  // A reload that changes something else (the TTL): the refusing IP stays out, with no gap.
  writeFileSync(daemon.configPath, yaml(port, 'true', 2));
  daemon.proc.kill('SIGHUP');
  await daemon.waitForLog((l) => l.msg === 'configuration reloaded');
  const after = await dig(daemon.dnsPort, NAME);
  t.same(after.answers.map((a) => a.data), [REACHABLE], 'still left out after the reload');
  t.equal(after.answers[0]?.ttl, 2, 'the reload took effect');

  // Probing turned off for the entry: both answered again at once.
  writeFileSync(daemon.configPath, yaml(port, 'false', 2));
  daemon.proc.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 50 && daemon.logs().filter((l) => l.msg === 'configuration reloaded').length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(await answers(daemon.dnsPort), [REACHABLE, REFUSING], 'probe: false answers every IP');
  const status = (await (await fetch(`http://127.0.0.1:${daemon.httpPort}/status`)).json()) as { probes: { ips: unknown[] } | null };
  t.same(status.probes?.ips, [], 'nothing probed');
});
