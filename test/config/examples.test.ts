import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblems, parseConfigText } from '../../src/config/load';
import { CONFIG_DIR, examplesWithKey } from '../helpers/example-files';

// Key files the examples name (fleet.key) sit next to them, as they would next to /etc/privatelink-dns/config.yaml,
// with the real key the install step puts there (the shipped one is a refused placeholder).
const EXAMPLE_FILES = examplesWithKey();

t.test('every shipped example validates with zero problems', async (t) => {
  const files = readdirSync(CONFIG_DIR).filter((f) => /\.ya?ml$/.test(f));
  t.ok(files.length >= 5, `examples found: ${files.join(', ')}`);
  for (const f of files) {
    const { config, problems } = parseConfigText(readFileSync(join(CONFIG_DIR, f), 'utf8'), { files: EXAMPLE_FILES });
    t.same(formatProblems(problems), [], `${f}: no problems`);
    t.ok(config, `${f}: a config`);
    // An edge's names come from its primaries; every other example names its own.
    if (config?.source !== 'primaries') t.ok((config?.records.entries.length ?? 0) > 0, `${f}: manages at least one name`);
    for (const e of config?.records.entries ?? []) {
      if (e.kind === 'static') {
        for (const ip of e.ipv4) t.notOk(ip.startsWith('100.'), `${f}: ${ip} is not a 100.64/10-style answer`);
      }
    }
  }
});

t.test('example.yaml sets every key the validator accepts', async (t) => {
  const text = readFileSync(join(CONFIG_DIR, 'example.yaml'), 'utf8');
  const keys = [
    'region', 'listen', 'dns', 'http', 'udp_io', 'access', 'allow', 'rate_limit', 'responses_per_second', 'burst', 'slip',
    'upstream', 'servers', 'timeout', 'policy', 'max_fails', 'health_check', 'cache', 'size', 'max_ttl', 'serve_stale',
    'privatelink', 'endpoint', 'protocol', 'credentials', 'bootstrap', 'refresh', 'jitter', 'max_stale', 'max_backoff',
    'records', 'ttl', 'prefer_zones', 'on_unavailable', 'entries', 'names', 'service', 'vpc', 'addresses',
    'limits', 'tcp_max_connections', 'tcp_max_connections_per_client', 'tcp_idle_timeout', 'tcp_max_in_flight',
    'tcp_max_write_buffer', 'max_forwards_in_flight', 'shutdown_grace', 'state_dir', 'log', 'level', 'queries',
  ];
  for (const k of keys) t.match(text, new RegExp(`^\\s*(- )?${k}:`, 'm'), `${k} is set`);
  for (const form of ['type: access_key', 'type: ram_role_arn', 'type: ecs_ram_role']) t.match(text, form, `credentials form "${form}" is documented`);
  const { config } = parseConfigText(text);
  t.equal(config?.region, 'cn-hangzhou');
  t.same(config?.records.entries.map((e) => e.names[0]), ['cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'registry-cn-hangzhou-vpc.ack.aliyuncs.com', 'oss-cn-hangzhou-internal.aliyuncs.com', 'ntp.internal.example'], '{region} is replaced');
});

// Raw config text → the one `path.to.key: problem` line `check` prints for it.
const BASE = 'region: cn-hangzhou\n';
const BAD: [string, string, string][] = [
  ['unknown top-level key', `${BASE}colour: blue\n`, 'colour: unknown key'],
  ['unknown nested key', `${BASE}upstream: { servers: ["10.0.0.2:53"], retries: 3 }\n`, 'upstream.retries: unknown key'],
  ['bad duration', `${BASE}upstream: { timeout: 2 seconds }\n`, 'upstream.timeout: must be a duration'],
  ['duration out of range', `${BASE}upstream: { timeout: 5ms }\n`, 'upstream.timeout: must be between'],
  ['bad CIDR', `${BASE}access: { allow: ["10.0.0.0/33"] }\n`, 'access.allow[0]: "10.0.0.0/33" is not a CIDR'],
  ['bad name', `${BASE}records: { entries: [ { names: ["bad_name-.example.com"], addresses: ["10.0.0.1"] } ] }\n`, 'records.entries[0].names[0]: label "bad_name-" is not valid'],
  ['single-label name', `${BASE}records: { entries: [ { names: ["localhost"], addresses: ["10.0.0.1"] } ] }\n`, 'records.entries[0].names[0]: must have at least two labels'],
  ['wildcard not leading', `${BASE}records: { entries: [ { names: ["a.*.example.com"], addresses: ["10.0.0.1"] } ] }\n`, 'records.entries[0].names[0]:'],
  [
    'duplicate name across entries',
    `${BASE}records:\n  entries:\n    - { names: ["a.example.com"], addresses: ["10.0.0.1"] }\n    - { names: ["A.example.com."], addresses: ["10.0.0.2"] }\n`,
    'records.entries[1].names[0]: "a.example.com" is already defined in records.entries[0]',
  ],
  ['missing region', 'listen: { dns: ["127.0.0.1:53"] }\n', 'region: is required'],
  ['bad region', 'region: Hangzhou\n', 'region: must be a region id'],
  ['entry with two sources', `${BASE}records: { entries: [ { names: ["a.example.com"], endpoint: ep-bp1abc, addresses: ["10.0.0.1"] } ] }\n`, 'records.entries[0]: needs exactly one of "endpoint", "service" or "addresses"'],
  ['entry with no source', `${BASE}records: { entries: [ { names: ["a.example.com"] } ] }\n`, 'records.entries[0]: needs exactly one of'],
  ['bad endpoint id', `${BASE}records: { entries: [ { names: ["a.example.com"], endpoint: "vpc-123" } ] }\n`, 'records.entries[0].endpoint: must be an endpoint id'],
  ['vpc on a static entry', `${BASE}records: { entries: [ { names: ["a.example.com"], addresses: ["10.0.0.1"], vpc: vpc-1 } ] }\n`, 'records.entries[0].vpc: only applies to an "endpoint" or "service" entry'],
  ['bad static address', `${BASE}records: { entries: [ { names: ["a.example.com"], addresses: ["10.0.0.300"] } ] }\n`, 'records.entries[0].addresses[0]: "10.0.0.300" is not an IPv4 or IPv6 address'],
  ['scheme in privatelink.endpoint', `${BASE}privatelink: { endpoint: "https://privatelink.cn-hangzhou.aliyuncs.com" }\n`, 'privatelink.endpoint: must be host[:port] without a scheme'],
  ['upstream equal to our listen address', `${BASE}listen: { dns: ["127.0.0.1:53"] }\nupstream: { servers: ["127.0.0.1:53"] }\n`, 'upstream.servers[0]: 127.0.0.1:53 is one of this daemon\'s own listen.dns addresses (forwarding loop)'],
  ['bootstrap pointing at ourselves', `${BASE}listen: { dns: ["10.0.0.53:53"] }\nprivatelink: { bootstrap: ["10.0.0.53"] }\n`, 'privatelink.bootstrap[0]: must not be this daemon itself'],
  ['hostname as listen address', `${BASE}listen: { dns: ["localhost:53"] }\n`, 'listen.dns[0]: must be an IP address, not a hostname'],
  ['bad udp_io', `${BASE}listen: { udp_io: fast }\n`, 'listen.udp_io: must be one of: auto, batch, dgram'],
  ['bad policy', `${BASE}upstream: { policy: fastest }\n`, 'upstream.policy: must be one of: sequential, random, round_robin'],
  ['bad cron', `${BASE}privatelink: { refresh: "every 30 seconds" }\n`, 'privatelink.refresh: is not a valid cron expression'],
  ['credentials missing a secret', `${BASE}privatelink: { credentials: { type: access_key, access_key_id: LTAIxxxx } }\n`, 'privatelink.credentials.access_key_secret: is required for type access_key'],
  ['credentials as an unknown word', `${BASE}privatelink: { credentials: env }\n`, 'privatelink.credentials: must be "default" or a mapping'],
  ['slip out of range', `${BASE}access: { rate_limit: { slip: 1000 } }\n`, 'access.rate_limit.slip: must be an integer from 0 to 100'],
  ['relative state_dir', `${BASE}state_dir: var/lib\n`, 'state_dir: must be an absolute path'],
  ['ttl not whole seconds', `${BASE}records: { ttl: 1.5 }\n`, 'records.ttl: must be whole seconds from 0 to 86400'],
  ['duplicate YAML key', `${BASE}region: cn-beijing\n`, '(yaml line'],
];

t.test('bad configs give the expected problem line', async (t) => {
  for (const [what, text, want] of BAD) {
    const { config, problems } = parseConfigText(text);
    const lines = formatProblems(problems);
    t.equal(config, undefined, `${what}: rejected`);
    t.ok(lines.some((l) => l.startsWith(want)), `${what}: expected a line starting "${want}", got ${JSON.stringify(lines)}`);
  }
});

t.test('hub.yaml publishes the zone to signed edges and to the resolvers', async (t) => {
  const { config, problems } = parseConfigText(readFileSync(join(CONFIG_DIR, 'hub.yaml'), 'utf8'), { files: EXAMPLE_FILES });
  t.same(formatProblems(problems), []);
  t.equal(config?.source, 'privatelink', 'a hub syncs from PrivateLink');
  t.equal(config?.primaries, null);
  const transfer = config?.transfer;
  t.equal(transfer?.zone, 'privatelink.rpz');
  t.same(transfer?.allow, { networks: ['10.0.0.2/32', '10.0.0.3/32'], keys: ['fleet'] });
  t.equal(transfer?.keys[0]?.name, 'fleet');
  t.equal(transfer?.keys[0]?.algorithm, 'hmac-sha256');
  t.equal(transfer?.keys[0]?.secret.length, 32, 'the secret comes from the BIND key file fleet.key');
  t.same(transfer?.notify.map((h) => `${h.host}:${h.port}`), ['10.0.0.2:53', '10.0.0.3:53']);
  t.same(transfer?.soa, { refreshS: 60, retryS: 10, expireS: 14 * 86_400, minimumS: 30 });
});

t.test('edge-fleet.yaml transfers from the hubs and holds no cloud settings', async (t) => {
  const text = readFileSync(join(CONFIG_DIR, 'edge-fleet.yaml'), 'utf8');
  t.notMatch(text, /^privatelink:/m, 'no privatelink section');
  t.notMatch(text, /access_key|^\s*secret:/m, 'no credentials or inline secrets');
  const { config, problems } = parseConfigText(text, { files: EXAMPLE_FILES });
  t.same(formatProblems(problems), []);
  t.equal(config?.source, 'primaries');
  t.equal(config?.transfer, null);
  const p = config?.primaries;
  t.equal(p?.zone, 'privatelink.rpz');
  t.same(p?.servers.map((h) => `${h.host}:${h.port}`), ['192.0.2.53:53', '192.0.2.54:53']);
  t.equal(p?.key?.name, 'fleet');
  t.equal(p?.key?.secret.length, 32);
  t.equal(p?.refreshMs, 30_000);
  t.equal(p?.maxStaleMs, 86_400_000);
});
