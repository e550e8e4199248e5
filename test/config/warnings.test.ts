import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, startDaemon } from '../helpers/daemon';
import { STATIC_BASE_YAML } from '../helpers/configs';

/**
 * Settings that are valid but refuse or miss clients are warned about by `check`
 * (which still exits 0) and by the daemon at start: `access.allow: []` refuses everyone, loopback
 * included; `[::]` alone listens on IPv6 only.
 */
function check(yaml: string): { code: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-warn-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BASE = STATIC_BASE_YAML;

t.test('check warns about an empty access.allow and [::] alone, and still passes', async (t) => {
  const empty = check(`${BASE}access: { allow: [] }\n`);
  t.equal(empty.code, 0, 'exit 0');
  t.match(empty.stderr, /warning: access\.allow: empty: every client is refused, loopback included/);
  const v6 = check(`${BASE}listen: { dns: ["[::]:5353"] }\n`);
  t.equal(v6.code, 0, 'exit 0');
  t.match(v6.stderr, /warning: listen\.dns: \[::\] listens on IPv6 only/);
  const both = check(`${BASE}listen: { dns: ["[::]:5353", "0.0.0.0:5353"] }\n`);
  t.equal(both.stderr, '', 'no warning with both families');
  const plain = check(BASE);
  t.equal(plain.stderr, '', 'no warning for the defaults');
});

t.test('the daemon logs the warning at start', async (t) => {
  const d = await startDaemon(`${BASE}listen: { dns: ["127.0.0.1:0"], http: false }\naccess: { allow: [] }\n`);
  t.teardown(() => d.stop());
  const line = await d.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('config: access.allow'), 5000);
  t.equal(line.level, 'warn', 'at warn level');
});

t.test('check warns when STS goes over the VPC but the API endpoint is its public host (issue 25 item 1)', async (t) => {
  const rrsa = (endpoint: string, extra = '') => `region: cn-hangzhou\nprivatelink:\n  endpoint: ${endpoint}\n${extra}  credentials: { type: oidc_role_arn, sts_region: cn-hangzhou, sts_vpc: true }\n` +
    'records: { entries: [ { names: ["cs-anony-vpc.{region}.aliyuncs.com"], endpoint: ep-bp1aaaaaaaaaaaaaaaaa, vpc: vpc-bp1ddddddddddddddddd } ] }\nstate_dir: false\n';
  const mixed = check(rrsa('privatelink.cn-hangzhou.aliyuncs.com'));
  t.equal(mixed.code, 0, 'exit 0');
  t.match(mixed.stderr, /warning: privatelink\.endpoint: privatelink\.cn-hangzhou\.aliyuncs\.com is the API's public host while STS goes over the VPC/);
  t.match(mixed.stderr, /privatelink-vpc\.cn-hangzhou\.aliyuncs\.com/, 'names the VPC host to use');
  t.equal(check(rrsa('privatelink-vpc.cn-hangzhou.aliyuncs.com')).stderr, '', 'the API over the VPC too: no warning');
  t.equal(check(rrsa('privatelink.cn-hangzhou.aliyuncs.com', '  connect_to: 192.168.10.30\n')).stderr, '', 'connect_to an endpoint of the API: no warning');
  const publicSts = check(rrsa('privatelink.cn-hangzhou.aliyuncs.com').replace('sts_vpc: true', 'sts_vpc: false'));
  t.equal(publicSts.stderr, '', 'both public: no warning');
});
