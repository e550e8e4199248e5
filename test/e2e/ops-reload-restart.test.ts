import t from 'tap';
import { writeFileSync } from 'node:fs';
import { startDaemon } from '../helpers/daemon';
import { STATIC_ONLY_CONFIG } from '../helpers/configs';
import { dig } from '../helpers/dig';
import { metricValue } from '../helpers/metrics';

/**
 * SIGHUP with a key that needs a restart (switching the table source to primaries): the running
 * source stays, the warning names the key, everything else in the file applies, and the
 * "configuration reloaded" line lists what changed. The readiness and age gauges are computed at
 * scrape time.
 */
t.test('a restart-only key keeps its running value; the rest applies and is named', async (t) => {
  const daemon = await startDaemon(STATIC_ONLY_CONFIG);
  t.teardown(() => daemon.stop());
  const get = async (path: string): Promise<string> => (await fetch(`http://127.0.0.1:${daemon.httpPort}${path}`)).text();
  t.same((await dig(daemon.dnsPort, 'ntp.internal.example')).answers.map((a) => a.data), ['10.0.0.123']);
  const before = await get('/metrics');
  t.equal(metricValue(before, 'privatelink_dns_ready'), 1, 'ready gauge at scrape time');
  t.equal(metricValue(before, 'privatelink_dns_table_age_seconds'), 0, 'static data has no age');

  const edge = `${STATIC_ONLY_CONFIG.replace('10.0.0.123', '10.0.0.124')}primaries: { servers: ["127.0.0.1:9"], managed: ["svc.example.internal"] }\n`;
  writeFileSync(daemon.configPath, edge);
  daemon.proc.kill('SIGHUP');
  const warned = await daemon.waitForLog((l) => typeof l.msg === 'string' && /keep their running values until a restart/.test(l.msg));
  t.same(warned.keys, ['primaries'], 'the warning names the key');
  const reloaded = await daemon.waitForLog((l) => l.msg === 'configuration reloaded');
  t.same(reloaded.changed, ['records.entries'], 'the info line names what changed');
  t.same((await dig(daemon.dnsPort, 'ntp.internal.example')).answers.map((a) => a.data), ['10.0.0.124'], 'the rest of the file applied');
  const status = JSON.parse(await get('/status')) as { source: string; transfer?: unknown };
  t.equal(status.source, 'privatelink', 'still the running source');
  t.equal(status.transfer, undefined, 'no secondary was started');
  t.equal(daemon.proc.exitCode, null, 'still running');
});
