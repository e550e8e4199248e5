/**
 * Issue 22 item 5, through the real CLI: `check` and `serve` refuse the placeholder that
 * config/fleet.key ships (and the one older releases shipped), a secret shorter than the
 * algorithm's output (RFC 8945 §6) and a base64'd passphrase; keys made the documented ways
 * (`tsig-keygen`, `openssl rand -base64 N`) are taken.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { CONFIG_DIR } from '../helpers/example-files';
import { requireTool } from '../helpers/tools';

const OLD_PLACEHOLDER_FILE = 'key "fleet" {\n\talgorithm hmac-sha256;\n\tsecret "UkVQTEFDRSBNRTogbWFrZSBhIHJlYWwga2V5IHdpdGggdHNpZy1rZXlnZW4=";\n};\n';
const EDGE = (algorithm: string) =>
  `listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }\nupstream: { servers: [] }\nstate_dir: false\n` +
  `primaries: { servers: ["127.0.0.1:9"], managed: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com"], key: { name: fleet, algorithm: ${algorithm}, secret_file: fleet.key } }\n`;

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const dir = mkdtempSync(join(tmpdir(), 'pldns-keys-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** An edge config naming `fleet.key` with `keyText` in it; returns the config's path. */
function edgeWith(name: string, algorithm: string, keyText: string): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, 'fleet.key'), keyText, { mode: 0o600 });
  writeFileSync(join(sub, 'edge.yaml'), EDGE(algorithm));
  return join(sub, 'edge.yaml');
}

t.test('the shipped key file holds no usable secret: check and serve refuse the examples as shipped', async (t) => {
  const shipped = readFileSync(join(CONFIG_DIR, 'fleet.key'), 'utf8');
  t.match(shipped, /tsig-keygen -a hmac-sha256 fleet/, 'says how to make a key with tsig-keygen');
  t.match(shipped, /openssl rand -base64 32/, 'and with openssl');
  const secret = /secret "([^"]*)"/.exec(shipped)?.[1] ?? '';
  t.notMatch(secret, /^[A-Za-z0-9+/]+={0,2}$/, 'the placeholder is not even base64: no tool can use it as a key');

  for (const example of ['hub.yaml', 'edge-fleet.yaml']) {
    const check = run(['check', '--config', join(CONFIG_DIR, example)]);
    t.equal(check.status, 2, `check ${example}: exit 2`);
    t.match(check.out, /secret_file: is the placeholder shipped in config\/fleet\.key, not a key: make one with "tsig-keygen -a hmac-sha256 NAME"/);
    t.notMatch(check.out, /: ok$/m, 'never "ok"');
  }
  const serve = run(['serve', '--config', join(CONFIG_DIR, 'edge-fleet.yaml')]);
  t.equal(serve.status, 2, 'serve exits 2 before listening');
  t.match(serve.out, /primaries\.key\.secret_file: is the placeholder shipped in config\/fleet\.key/);
  t.notMatch(serve.out, /"started"/, 'nothing started');
});

t.test('the placeholder older releases shipped is refused too (a copy may still be on a host)', async (t) => {
  const path = edgeWith('old', 'hmac-sha256', OLD_PLACEHOLDER_FILE);
  for (const command of ['check', 'serve']) {
    const r = run([command, '--config', path]);
    t.equal(r.status, 2, `${command}: exit 2`);
    t.match(r.out, /primaries\.key\.secret_file: is the placeholder shipped in config\/fleet\.key/, command);
  }
});

t.test('a key from tsig-keygen or openssl rand is taken; a short one is refused with what the algorithm needs', async (t) => {
  requireTool('tsig-keygen');
  requireTool('openssl');
  const keygen = (algorithm: string) => execFileSync('tsig-keygen', ['-a', algorithm, 'fleet'], { encoding: 'utf8' });
  const rand = (bytes: number) => execFileSync('openssl', ['rand', '-base64', String(bytes)], { encoding: 'utf8' });
  const cases: [string, string, string, RegExp | null][] = [
    ['keygen256', 'hmac-sha256', keygen('hmac-sha256'), null],
    ['keygen512', 'hmac-sha512', keygen('hmac-sha512'), null],
    ['rand32', 'hmac-sha256', rand(32), null],
    ['rand64', 'hmac-sha512', rand(64), null],
    ['rand16', 'hmac-sha256', rand(16), /primaries\.key\.secret_file: decodes to 16 bytes; hmac-sha256 needs at least 32 \(RFC 8945 §6/],
    ['rand32for512', 'hmac-sha512', rand(32), /primaries\.key\.secret_file: decodes to 32 bytes; hmac-sha512 needs at least 64/],
    ['passphrase', 'hmac-sha256', `${Buffer.from('correct horse battery staple, twice over!').toString('base64')}\n`, /decodes to printable text, not random bytes/],
  ];
  for (const [name, algorithm, text, refused] of cases) {
    const r = run(['check', '--config', edgeWith(name, algorithm, text)]);
    if (refused === null) {
      t.equal(r.status, 0, `${name}: taken (${r.out.trim()})`);
    } else {
      t.equal(r.status, 2, `${name}: refused`);
      t.match(r.out, refused, name);
      t.notMatch(r.out, new RegExp(text.trim().replace(/[+/=]/g, '.')), `${name}: the secret is not echoed`);
    }
  }
});
