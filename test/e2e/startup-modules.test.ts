import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, startDaemon } from '../helpers/daemon';
import { STATIC_ONLY_CONFIG } from '../helpers/configs';
import { dig } from '../helpers/dig';

/**
 * `serve` answers before it loads what answering does not need. A daemon with static
 * entries only (no privatelink, transfer or primaries section) answers without ever loading the
 * cloud SDK, node-cron, fleet mode, the simulator or prom-client's index (Pushgateway, Summary).
 */

const NOT_BEFORE_ANSWER: [string, RegExp][] = [
  ['the Alibaba Cloud SDK', /node_modules\/(@alicloud|@darabonba)\//],
  ['the PrivateLink client', /dist\/privatelink\/(client|credentials)\.js$/],
  ['node-cron', /node_modules\/node-cron\//],
  ['fleet mode', /dist\/fleet\//],
  ['the simulator', /dist\/simulator\//],
  ["prom-client's index and Pushgateway", /node_modules\/prom-client\/(index|lib\/pushgateway)\.js$/],
  // The standard process metrics are ours (src/metrics/process-metrics.ts): never loaded at all.
  ["prom-client's default metrics", /node_modules\/prom-client\/lib\/(defaultMetrics|metrics\/)/],
  ["OpenTelemetry's API", /node_modules\/@opentelemetry\//],
  // Read the config, then released (config/load.ts releaseConfigParser): loaded again at SIGHUP.
  ['the YAML parser, once the config is read', /node_modules\/yaml\//],
];

t.test('a static-entries daemon answers without loading the cloud SDK, node-cron or fleet mode', async (t) => {
  const preload = resolve(__dirname, '..', 'helpers', 'module-list.cjs');
  const dir = mkdtempSync(join(tmpdir(), 'pldns-modules-'));
  const listPath = join(dir, 'modules.txt');
  const daemon = await startDaemon(STATIC_ONLY_CONFIG, {
    dir,
    command: (configPath) => [process.execPath, '-r', preload, CLI, 'serve', '--config', configPath],
    env: { PLDNS_MODULE_LIST: listPath },
  });
  t.teardown(() => daemon.stop());
  const answer = await dig(daemon.dnsPort, 'ntp.internal.example');
  t.same(answer.answers.map((a) => a.data), ['10.0.0.123']);
  daemon.proc.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (!existsSync(listPath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const loaded = readFileSync(listPath, 'utf8').split('\n');
  t.ok(loaded.some((p) => p.endsWith('dist/daemon/app.js')), 'the list is the daemon\'s');
  for (const [what, pattern] of NOT_BEFORE_ANSWER) {
    t.same(loaded.filter((p) => pattern.test(p)), [], `${what} not loaded`);
  }
});
