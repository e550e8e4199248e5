/**
 * The quota arithmetic `check` prints: calls per sync as the sync loop plans them, syncs per hour
 * from the cron schedule, and a warning when one instance alone takes over 1% of the quota.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { cronRate, estimateApiCalls, quotaReport } from '../../src/privatelink/quota';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');

function config(privatelink: string, entries: string[]): Config {
  const text = `region: cn-hangzhou\nprivatelink: { ${privatelink} }\nrecords:\n  entries:\n${entries.map((e) => `    - ${e}\n`).join('')}`;
  const { config: c, problems } = parseConfigText(text);
  if (!c) throw new Error(JSON.stringify(problems));
  return c;
}

const endpoints = (n: number, vpc?: string): string[] =>
  Array.from({ length: n }, (_, i) => `{ names: ["e${i}.example.com"], endpoint: ep-bp1x${i}${vpc ? `, vpc: ${vpc}` : ''} }`);

t.test('cron rates', async (t) => {
  t.same(cronRate('0 */5 * * * *'), { perHour: 12, busiestMinute: 1 });
  t.same(cronRate('*/30 * * * * *'), { perHour: 120, busiestMinute: 2 });
  t.same(cronRate('*/10 * * * *'), { perHour: 6, busiestMinute: 1 }, 'five fields: minutes');
});

t.test('the default schedule: 10 entries in one VPC cost 11 calls per sync, 12 syncs per hour', async (t) => {
  const e = estimateApiCalls(config('', endpoints(10, 'vpc-1')));
  t.same(e, { listVpcEndpointsPerSync: 1, listVpcEndpointZonesPerSync: 10, syncsPerHour: 12, peakCallsPerMinute: 2, instancesToQuota: 500 });
  t.equal(quotaReport(config('', endpoints(10, 'vpc-1')))?.warning, undefined, 'no warning');
  // Without vpc the first listing per entry is counted (an upper bound until the VPC is learned).
  t.equal(estimateApiCalls(config('', endpoints(10)))?.listVpcEndpointsPerSync, 10);
});

t.test('every 30 s with 5 s jitter: syncs fall in the same minute on every node, and check warns', async (t) => {
  const c = config('refresh: "*/30 * * * * *", jitter: 5s', endpoints(10, 'vpc-1'));
  t.same(estimateApiCalls(c), { listVpcEndpointsPerSync: 1, listVpcEndpointZonesPerSync: 10, syncsPerHour: 120, peakCallsPerMinute: 20, instancesToQuota: 50 });
  t.match(quotaReport(c)?.warning, /20 API calls per minute .* fleet edges \(docs\/fleet\.md/);
});

t.test('check prints the estimate, and the warning on stderr with exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-quota-'));
  const path = join(dir, 'busy.yaml');
  writeFileSync(path, `region: cn-hangzhou\nprivatelink: { refresh: "* * * * * *", jitter: 0s }\nrecords:\n  entries:\n${endpoints(3, 'vpc-1').map((e) => `    - ${e}\n`).join('')}`);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', path], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /up to 1 ListVpcEndpoints \+ 3 ListVpcEndpointZones calls per sync, 3600 syncs per hour: about 180 calls per minute per instance;.* about 5 instances/);
  t.match(r.stderr, /^warning: privatelink\.refresh: 180 API calls per minute/m);

  const quiet = spawnSync(process.execPath, [CLI, 'check', '--config', resolve(__dirname, '..', '..', 'config', 'edge-node.yaml')], { encoding: 'utf8', timeout: 20_000 });
  t.equal(quiet.status, 0);
  // Whether /var/lib/privatelink-dns can be created depends on the user running the test (check.test.ts tests it).
  t.equal(quiet.stderr.replace(/^.*: warning: state_dir: \/var\/lib\/privatelink-dns .*\n/m, ''), '', 'the shipped edge-node example does not warn');
});

t.test('privatelink.quota_per_minute is the figure the estimate and the warning use (issue 25 item 8)', async (t) => {
  const defaults = config('', endpoints(10, 'vpc-1'));
  t.equal(defaults.privatelink.quotaPerMinute, 1000, 'default 1,000');
  t.equal(estimateApiCalls(defaults)?.instancesToQuota, 500);
  const small = config('quota_per_minute: 100', endpoints(10, 'vpc-1'));
  t.equal(estimateApiCalls(small)?.instancesToQuota, 50, 'a tenth of the quota: a tenth of the instances');
  const report = quotaReport(small);
  t.match(report?.info, /the account's quota \(100 per minute per action, shared; privatelink\.quota_per_minute, the real figure is in Quota Center → API rate limits\) is reached by about 50 instances/);
  t.match(report?.warning, /2 API calls per minute is over 1% of the account's quota/, '2 calls a minute is over 1% of 100');
  t.equal(quotaReport(config('quota_per_minute: 5000', endpoints(10, 'vpc-1')))?.warning, undefined);
  t.same(parseConfigText('region: cn-hangzhou\nprivatelink: { quota_per_minute: 0 }\n').problems.map((p) => p.path), ['privatelink.quota_per_minute']);
});
