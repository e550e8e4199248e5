import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatProblems, parseConfigText } from '../../src/config/load';
import { DEFAULTS, type Config } from '../../src/config/schema';
import type { SecretFiles } from '../../src/config/tsig-key';
import { STATIC_RECORDS_YAML } from '../helpers/configs';

/** Fleet mode config: raw YAML text → the expected value, or the expected `path: problem` line. */

const SECRET32 = randomBytes(32);
const B64 = SECRET32.toString('base64');
const B64_64 = randomBytes(64).toString('base64');
// 32 bytes of base64'd text: long enough for hmac-sha256, but a passphrase, not a key.
const TEXT32 = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
// What config/fleet.key shipped before it held no secret at all: public, so refused.
const OLD_PLACEHOLDER = 'UkVQTEFDRSBNRTogbWFrZSBhIHJlYWwga2V5IHdpdGggdHNpZy1rZXlnZW4=';

// Key files without touching the disk: a missing path fails as fs does.
const KEY_FILES: Record<string, string> = {
  '/keys/plain.key': `${B64}\n`,
  '/keys/bind.key': `key "fleet" {\n\talgorithm hmac-sha512;\n\tsecret "${B64_64}";\n};\n`,
  '/keys/empty.key': '\n',
  '/keys/placeholder.key': readFileSync(resolve(__dirname, '..', '..', 'config', 'fleet.key'), 'utf8'),
};
const FILES: SecretFiles = {
  baseDir: '/keys',
  readText: (path) => {
    const text = KEY_FILES[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  },
};

const REGION = 'region: cn-hangzhou\n';
const EDGE = 'primaries: { servers: ["192.0.2.53"], managed: ["svc.example.internal"] }\n';
const STATIC = STATIC_RECORDS_YAML;
const key = (extra: string): string => `${REGION}transfer:\n  allow: ["key:fleet"]\n  keys: [ { name: fleet, ${extra} } ]\n`;

function parse(text: string): { config?: Config; lines: string[] } {
  const { config, problems } = parseConfigText(text, { files: FILES });
  return { config, lines: formatProblems(problems) };
}

const GOOD: [string, string, (c: Config) => unknown, unknown][] = [
  ['no fleet sections: unchanged', `${REGION}${STATIC}`, (c) => [c.source, c.transfer, c.primaries], ['privatelink', null, null]],
  [
    'hub with defaults',
    `${REGION}transfer: { allow: ["10.0.0.0/8"] }\n`,
    (c) => [c.source, c.transfer],
    [
      'privatelink',
      {
        zone: 'privatelink.rpz', allow: { networks: ['10.0.0.0/8'], keys: [] }, keys: [], notify: [], journalMaxChanges: 100,
        soa: { refreshS: 60, retryS: 10, expireS: 1_209_600, minimumS: 30 },
      },
    ],
  ],
  ['zone normalised', `${REGION}transfer: { zone: PrivateLink.RPZ., allow: ["10.0.0.0/8"] }\n`, (c) => c.transfer?.zone, 'privatelink.rpz'],
  [
    'bare addresses allow one host',
    `${REGION}transfer: { allow: ["10.0.0.7", "::1", "2001:db8::/32"] }\n`,
    (c) => c.transfer?.allow.networks,
    ['10.0.0.7/32', '::1/128', '2001:db8::/32'],
  ],
  [
    'inline key, names normalised',
    `${REGION}transfer:\n  allow: ["key:Fleet."]\n  keys: [ { name: FLEET, secret: "${B64}" } ]\n`,
    (c) => [c.transfer?.allow.keys, c.transfer?.keys.map((k) => [k.name, k.algorithm, k.secret.equals(SECRET32)])],
    [['fleet'], [['fleet', 'hmac-sha256', true]]],
  ],
  [
    'hmac-sha512',
    key(`algorithm: hmac-sha512, secret: "${B64_64}"`),
    (c) => [c.transfer?.keys[0].algorithm, c.transfer?.keys[0].secret.length],
    ['hmac-sha512', 64],
  ],
  ['secret_file with a newline, relative to the config', key('secret_file: plain.key'), (c) => c.transfer?.keys[0].secret.equals(SECRET32), true],
  [
    'BIND key file gives secret and algorithm',
    key('secret_file: /keys/bind.key'),
    (c) => [c.transfer?.keys[0].algorithm, c.transfer?.keys[0].secret.length],
    ['hmac-sha512', 64],
  ],
  [
    'notify targets with default port and IPv6',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["10.0.0.2", "[::1]:5300"] }\n`,
    (c) => c.transfer?.notify,
    [{ host: '10.0.0.2', port: 53, family: 4 }, { host: '::1', port: 5300, family: 6 }],
  ],
  [
    'a notify target with its own key (one key per group of secondaries)',
    `${REGION}transfer:\n  allow: ["key:a", "key:b"]\n  keys: [ { name: a, secret: "${B64}" }, { name: b, algorithm: hmac-sha512, secret: "${B64_64}" } ]\n  notify: ["10.0.0.2", "10.0.0.4:5300  key:B."]\n`,
    (c) => c.transfer?.notify.map((n) => [n.host, n.port, n.key?.name, n.key?.algorithm]),
    [['10.0.0.2', 53, undefined, undefined], ['10.0.0.4', 5300, 'b', 'hmac-sha512']],
  ],
  [
    'soa timers',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], journal: 0, soa: { refresh: 5m, retry: 1m, expire: 7d, minimum: 0 } }\n`,
    (c) => [c.transfer?.journalMaxChanges, c.transfer?.soa],
    [0, { refreshS: 300, retryS: 60, expireS: 604_800, minimumS: 0 }],
  ],
  [
    'edge with defaults, no region',
    EDGE,
    (c) => [c.source, c.region, c.transfer, c.primaries],
    [
      'primaries', '', null,
      { zone: 'privatelink.rpz', servers: [{ host: '192.0.2.53', port: 53, family: 4 }], key: null, refreshMs: null, retryMs: 10_000, timeoutMs: 10_000, maxStaleMs: 86_400_000, managed: ['svc.example.internal'], maxRecords: 50_000, maxDropShare: 0.5, refusedRanges: [...DEFAULTS.primariesRefusedRanges] },
    ],
  ],
  [
    'edge with every key',
    'primaries:\n  zone: Other.RPZ\n  servers: ["[2001:db8::53]:5353", "192.0.2.54"]\n  key: { name: fleet, secret_file: plain.key }\n' +
      '  refresh: 30s\n  retry: 2s\n  timeout: 3s\n  max_stale: 1h\n  managed: ["Svc.Example.Internal.", "{region}.privatelink.aliyuncs.com"]\n  max_records: 2000\n  max_drop: "25%"\nregion: cn-shanghai\n',
    (c) => {
      const p = c.primaries;
      return [p?.zone, p?.servers.map((s) => `${s.host}/${s.port}`), p?.key?.name, p?.key?.secret.equals(SECRET32), p?.refreshMs, p?.retryMs, p?.timeoutMs, p?.maxStaleMs, p?.managed, p?.maxRecords, p?.maxDropShare];
    },
    ['other.rpz', ['2001:db8::53/5353', '192.0.2.54/53'], 'fleet', true, 30_000, 2000, 3000, 3_600_000, ['svc.example.internal', 'cn-shanghai.privatelink.aliyuncs.com'], 2000, 0.25],
  ],
  [
    'edge with a static entry and {region}',
    `region: cn-hangzhou\n${EDGE}records: { entries: [ { names: ["ntp.{region}.example"], addresses: ["10.0.0.123"] } ] }\n`,
    (c) => c.records.entries[0].names,
    ['ntp.cn-hangzhou.example'],
  ],
  [
    'edge re-publishing: same zone, no SOA of its own',
    `${EDGE}transfer: { allow: ["198.51.100.0/24"] }\n`,
    (c) => [c.source, c.transfer?.zone, c.transfer?.soa],
    ['primaries', 'privatelink.rpz', null],
  ],
];

t.test('good fleet configs give the expected value', async (t) => {
  for (const [what, text, pick, want] of GOOD) {
    const { config, lines } = parse(text);
    t.same(lines, [], `${what}: no problems`);
    if (config) t.same(pick(config), want, what);
  }
});

t.test('the config is frozen with its secrets intact', async (t) => {
  const { config } = parse(key(`secret: "${B64}"`));
  t.ok(Object.isFrozen(config?.transfer?.keys[0]), 'key frozen');
  t.ok(config?.transfer?.keys[0].secret.equals(SECRET32), 'secret bytes intact');
});

const BAD: [string, string, string][] = [
  ['privatelink and primaries', `${EDGE}privatelink: { endpoint: 127.0.0.1:8054 }\n`, 'primaries: cannot be combined with privatelink'],
  ['an empty privatelink section with primaries', `${EDGE}privatelink: {}\n`, 'primaries: cannot be combined with privatelink'],
  [
    'endpoint entry on an edge',
    `${EDGE}records: { entries: [ { names: ["a.example.com"], endpoint: ep-bp1abc } ] }\n`,
    'records.entries[0].endpoint: needs PrivateLink',
  ],
  [
    'service entry on an edge',
    `${EDGE}records: { entries: [ { names: ["a.example.com"], service: com.aliyuncs.privatelink.x } ] }\n`,
    'records.entries[0].service: needs PrivateLink',
  ],
  ['prefer_zones on an edge', `${EDGE}records: { prefer_zones: ["cn-hangzhou-k"] }\n`, 'records.prefer_zones: has no effect with primaries'],
  [
    '{region} on an edge without region',
    `${EDGE}records: { entries: [ { names: ["ntp.{region}.example"], addresses: ["10.0.0.1"] } ] }\n`,
    'records.entries[0].names[0]: uses "{region}" but region is not set',
  ],
  ['hub still needs region', 'transfer: { allow: ["10.0.0.0/8"] }\n', 'region: is required'],
  ['primaries without servers', 'primaries: { zone: privatelink.rpz }\n', 'primaries.servers: is required'],
  ['primaries with no servers', 'primaries: { servers: [] }\n', 'primaries.servers: must not be empty'],
  ['primaries empty', 'primaries:\n', 'primaries: must be a mapping'],
  ['primary as a hostname', 'primaries: { servers: ["hub.example:53"] }\n', 'primaries.servers[0]: must be an IP address, not a hostname'],
  ['primary 0.0.0.0', 'primaries: { servers: ["0.0.0.0"] }\n', 'primaries.servers[0]: 0.0.0.0:53 is not a destination'],
  ['primary port 0', 'primaries: { servers: ["192.0.2.53:0"] }\n', 'primaries.servers[0]: port 0 is not a destination'],
  [
    'primary is ourselves',
    'listen: { dns: ["127.0.0.1:5353"] }\nprimaries: { servers: ["127.0.0.1:5353"] }\n',
    'primaries.servers[0]: 127.0.0.1:5353 is this daemon itself',
  ],
  ['primaries refresh not a duration', 'primaries: { servers: ["192.0.2.53"], refresh: soon }\n', 'primaries.refresh: must be a duration'],
  ['primaries refresh too short', 'primaries: { servers: ["192.0.2.53"], refresh: 10ms }\n', 'primaries.refresh: must be between 1000ms'],
  ['primaries unknown key', 'primaries: { servers: ["192.0.2.53"], masters: ["192.0.2.1"] }\n', 'primaries.masters: unknown key'],
  ['primaries key as a word', 'primaries: { servers: ["192.0.2.53"], key: fleet }\n', 'primaries.key: must be a mapping'],
  ['primaries key too short', 'primaries: { servers: ["192.0.2.53"], key: { name: fleet, secret: "c2hvcnQ=" } }\n', 'primaries.key.secret: decodes to 5 bytes'],
  ['transfer empty', `${REGION}transfer:\n`, 'transfer: must be a mapping'],
  ['transfer without allow', `${REGION}transfer: { zone: privatelink.rpz }\n`, 'transfer.allow: is required'],
  ['transfer with empty allow', `${REGION}transfer: { allow: [] }\n`, 'transfer.allow: must not be empty'],
  ['allow names an unknown key', `${REGION}transfer: { allow: ["key:nope"] }\n`, 'transfer.allow[0]: key "nope" is not defined in transfer.keys'],
  ['allow with a bad CIDR', `${REGION}transfer: { allow: ["10.0.0.0/33"] }\n`, 'transfer.allow[0]: "10.0.0.0/33" is neither a CIDR'],
  ['bad zone', `${REGION}transfer: { zone: "bad zone", allow: ["10.0.0.0/8"] }\n`, 'transfer.zone: label "bad zone" is not valid'],
  ['key with secret and secret_file', key(`secret: "${B64}", secret_file: plain.key`), 'transfer.keys[0]: needs exactly one of "secret" or "secret_file"'],
  ['key with no secret', key('algorithm: hmac-sha256'), 'transfer.keys[0]: needs exactly one of "secret" or "secret_file"'],
  ['key secret not base64', key('secret: "not base64!"'), 'transfer.keys[0].secret: is not valid base64'],
  ['key secret badly padded', key('secret: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"'), 'transfer.keys[0].secret: is not valid base64'],
  ['key secret too short', key('secret: "MDEyMzQ1Njc="'), 'transfer.keys[0].secret: decodes to 8 bytes; hmac-sha256 needs at least 32'],
  ['hmac-sha256 secret of 31 bytes', key(`secret: "${randomBytes(31).toString('base64')}"`), 'transfer.keys[0].secret: decodes to 31 bytes; hmac-sha256 needs at least 32 (RFC 8945'],
  ['hmac-sha512 secret of 32 bytes', key(`algorithm: hmac-sha512, secret: "${B64}"`), 'transfer.keys[0].secret: decodes to 32 bytes; hmac-sha512 needs at least 64'],
  ['primaries hmac-sha512 secret of 63 bytes', `primaries: { servers: ["192.0.2.53"], key: { name: fleet, algorithm: hmac-sha512, secret: "${randomBytes(63).toString('base64')}" } }\n`, 'primaries.key.secret: decodes to 63 bytes; hmac-sha512 needs at least 64'],
  ['the old shipped placeholder', key(`secret: "${OLD_PLACEHOLDER}"`), 'transfer.keys[0].secret: is the placeholder shipped in config/fleet.key, not a key'],
  ['the shipped placeholder', key('secret: "REPLACE-WITH-tsig-keygen-OUTPUT"'), 'transfer.keys[0].secret: is the placeholder shipped in config/fleet.key, not a key'],
  ['the shipped placeholder on an edge', 'primaries: { servers: ["192.0.2.53"], key: { name: fleet, secret_file: placeholder.key } }\n', 'primaries.key.secret_file: is the placeholder shipped in config/fleet.key'],
  ['a base64 passphrase', key(`secret: "${TEXT32}"`), 'transfer.keys[0].secret: decodes to printable text, not random bytes'],
  ['key algorithm unsupported', key(`algorithm: hmac-md5, secret: "${B64}"`), 'transfer.keys[0].algorithm: must be one of: hmac-sha256, hmac-sha512'],
  ['key without a name', `${REGION}transfer: { allow: ["10.0.0.0/8"], keys: [ { secret: "${B64}" } ] }\n`, 'transfer.keys[0].name: is required'],
  [
    'key with a bad name',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], keys: [ { name: "two words", secret: "${B64}" } ] }\n`,
    'transfer.keys[0].name: label "two words" is not valid',
  ],
  ['keys not a list', `${REGION}transfer: { allow: ["10.0.0.0/8"], keys: { name: fleet } }\n`, 'transfer.keys: must be a list'],
  [
    'duplicate key names',
    `${REGION}transfer:\n  allow: ["key:fleet"]\n  keys: [ { name: fleet, secret: "${B64}" }, { name: Fleet., secret: "${B64_64}" } ]\n`,
    'transfer.keys[1].name: "fleet" is already defined in transfer.keys[0]',
  ],
  ['secret_file missing', key('secret_file: missing.key'), 'transfer.keys[0].secret_file: cannot read /keys/missing.key: ENOENT'],
  ['secret_file empty', key('secret_file: empty.key'), 'transfer.keys[0].secret_file: /keys/empty.key is empty'],
  [
    'BIND file disagrees on algorithm',
    key('algorithm: hmac-sha256, secret_file: bind.key'),
    'transfer.keys[0].secret_file: the file says algorithm hmac-sha512, the config says hmac-sha256',
  ],
  ['notify 0.0.0.0', `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["0.0.0.0:53"] }\n`, 'transfer.notify[0]: 0.0.0.0:53 is not a destination'],
  ['notify ::', `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["[::]:53"] }\n`, 'transfer.notify[0]: [::]:53 is not a destination'],
  [
    'notify hostname',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["ns1.example:53"] }\n`,
    'transfer.notify[0]: must be an IP address, not a hostname',
  ],
  ['notify with an unknown key', `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["10.0.0.2 key:nope"] }\n`, 'transfer.notify[0]: key "nope" is not defined in transfer.keys'],
  ['notify with a word after the address', `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["10.0.0.2 fleet"] }\n`, 'transfer.notify[0]: "10.0.0.2 fleet" is neither "ADDRESS" nor "ADDRESS key:NAME"'],
  ['notify bad port', `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["10.0.0.2:99999"] }\n`, 'transfer.notify[0]: port 99999 is out of range'],
  [
    'notify IPv6 without brackets and port',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], notify: ["2001:db8::1:53:x"] }\n`,
    'transfer.notify[0]: "2001:db8::1:53:x" is not a valid address',
  ],
  ['journal negative', `${REGION}transfer: { allow: ["10.0.0.0/8"], journal: -1 }\n`, 'transfer.journal: must be an integer from 0 to 100000'],
  ['soa in fractions of a second', `${REGION}transfer: { allow: ["10.0.0.0/8"], soa: { refresh: 1500ms } }\n`, 'transfer.soa.refresh: must be whole seconds'],
  [
    'soa expire too short',
    `${REGION}transfer: { allow: ["10.0.0.0/8"], soa: { refresh: 1h, expire: 1h } }\n`,
    'transfer.soa.expire: must be longer than refresh + retry',
  ],
  ['soa unknown key', `${REGION}transfer: { allow: ["10.0.0.0/8"], soa: { serial: 7 } }\n`, 'transfer.soa.serial: unknown key'],
  [
    're-publishing another zone',
    `${EDGE}transfer: { zone: other.rpz, allow: ["198.51.100.0/24"] }\n`,
    'transfer.zone: must be primaries.zone ("privatelink.rpz")',
  ],
  [
    're-publishing with SOA timers',
    `${EDGE}transfer: { allow: ["198.51.100.0/24"], soa: { refresh: 30s } }\n`,
    "transfer.soa: is not used with primaries: the primaries' SOA is passed on unchanged",
  ],
];

t.test('bad fleet configs give the expected problem line', async (t) => {
  for (const [what, text, want] of BAD) {
    const { config, lines } = parse(text);
    t.equal(config, undefined, `${what}: rejected`);
    t.ok(lines.some((l) => l.startsWith(want)), `${what}: expected a line starting "${want}", got ${JSON.stringify(lines)}`);
  }
});

t.test('a key that is not a mapping is one problem line', async (t) => {
  t.same(parse(`${EDGE.slice(0, -3)}, key: fleet }\n`).lines, ['primaries.key: must be a mapping with name, algorithm and secret or secret_file']);
});

t.test('a key with a bad secret is reported once, not again as an unknown key in allow', async (t) => {
  t.same(parse(key('secret: "MDEyMzQ1Njc="')).lines, ['transfer.keys[0].secret: decodes to 8 bytes; hmac-sha256 needs at least 32 (RFC 8945 §6: as long as its output; tsig-keygen -a hmac-sha256 makes 32)']);
});

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');
const check = (path: string): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', path], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

t.test('check through the CLI: exit 2 with one line per problem, 0 for the fleet examples', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-fleetcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'fleet.key'), `${B64}\n`);
  const good = join(dir, 'edge.yaml');
  writeFileSync(good, 'primaries: { servers: ["127.0.0.1:5300"], key: { name: fleet, secret_file: fleet.key }, managed: ["svc.example.internal"] }\nstate_dir: false\n');
  const ok = check(good);
  t.equal(ok.status, 0, `a valid edge with a key file next to it: ${ok.out}`);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, [
    'privatelink: { endpoint: "127.0.0.1:8054", protocol: http }',
    'primaries: { servers: ["0.0.0.0"], key: { name: fleet, secret_file: missing.key }, managed: ["*.com", "com"] }',
    'records: { entries: [ { names: ["a.example.com"], endpoint: ep-bp1abc } ] }',
    'transfer: { allow: ["key:nope"], notify: ["[::]:53"] }',
    '',
  ].join('\n'));
  const r = check(bad);
  t.equal(r.status, 2, 'exit 2');
  const lines = r.out.trim().split('\n');
  t.same(lines.sort(), [
    'primaries.key.secret_file: cannot read ' + join(dir, 'missing.key') + ': ENOENT',
    'primaries.servers[0]: 0.0.0.0:53 is not a destination (0.0.0.0 and :: mean "any address")',
    'primaries.managed[0]: is a suffix already (it covers every name below it): drop the "*."',
    'primaries.managed[1]: must have at least two labels (a whole top-level domain cannot be managed)',
    'primaries: cannot be combined with privatelink: a hub syncs from PrivateLink, an edge transfers from primaries (remove one)',
    'records.entries[0].endpoint: needs PrivateLink, and with primaries there is none: the hub publishes cloud names; an edge entry may only have "addresses"',
    'transfer.allow[0]: key "nope" is not defined in transfer.keys',
    'transfer.notify[0]: [::]:53 is not a destination (0.0.0.0 and :: mean "any address")',
  ].sort(), 'every problem, one line each, nothing else');

  // The examples as shipped name config/fleet.key, a placeholder: refused until a real key is put there.
  const examples = resolve(__dirname, '..', '..', 'config');
  writeFileSync(join(dir, 'fleet.key'), `key "fleet" {\n\talgorithm hmac-sha256;\n\tsecret "${B64}";\n};\n`);
  for (const example of ['hub.yaml', 'edge-fleet.yaml']) {
    const shipped = check(join(examples, example));
    t.equal(shipped.status, 2, `${example} as shipped: ${shipped.out}`);
    t.match(shipped.out, /^(transfer\.keys\[0\]|primaries\.key)\.secret_file: is the placeholder shipped in config\/fleet\.key, not a key/m);
    writeFileSync(join(dir, example), readFileSync(join(examples, example)));
    const withKey = check(join(dir, example));
    t.equal(withKey.status, 0, `${example} next to a real key: ${withKey.out}`);
  }
});
