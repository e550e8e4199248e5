import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dig } from '../helpers/dig';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { freePort } from '../helpers/ports';
import { requireTool } from '../helpers/tools';

/**
 * The zone-forwarding snippets exactly as docs/deployment.md shows them (only the
 * privatelink-dns addresses are replaced by this test's loopback port): a real Unbound and a
 * real dnsmasq forward aliyuncs.com to privatelink-dns and resolve a managed name through it.
 */

const DOC = resolve(__dirname, '..', '..', 'docs', 'deployment.md');
const DOC_ADDRESSES = ['10.0.0.53', '10.0.0.54'];

/** The fenced block that follows `<!-- tested: NAME ... -->` in the deployment guide. */
function documentedSnippet(name: string): string {
  const text = readFileSync(DOC, 'utf8');
  const m = new RegExp(`<!-- tested: ${name}\\b[^>]*-->\\s*\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(text);
  if (!m) throw new Error(`docs/deployment.md has no snippet marked "<!-- tested: ${name} -->"`);
  return m[1];
}

function pointAt(snippet: string, sep: string, port: number): string {
  let out = snippet;
  for (const a of DOC_ADDRESSES) out = out.replaceAll(`${a}${sep}53`, `127.0.0.1${sep}${port}`);
  return out;
}

const MANAGED = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
let upstream: RunningUnbound;
let daemon: RunningDaemon;

t.before(async () => {
  // privatelink-dns's own upstream: resolves unmanaged aliyuncs.com names itself (never forwards
  // them back), and serves a public-looking 100.64/10 answer for the managed name that must never leak.
  upstream = await startUnbound([
    'local-zone: "aliyuncs.com." static',
    `local-data: "${MANAGED}. 300 IN A 100.100.1.1"`,
    'local-data: "ecs.cn-hangzhou.aliyuncs.com. 300 IN A 192.0.2.77"',
  ]);
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: false }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      addresses: ["10.40.1.10", "10.40.2.10"]
    - names: ["*.oss-{region}-internal.aliyuncs.com"]
      addresses: ["10.40.3.10"]
state_dir: false
`);
});

t.teardown(async () => {
  await daemon?.stop();
  await upstream?.stop();
});

t.test('Unbound with the documented forward-zone snippet', async (t) => {
  const snippet = documentedSnippet('unbound');
  t.match(snippet, /forward-zone:/);
  const conf = pointAt(snippet, '@', daemon.dnsPort);
  t.notMatch(conf, /10\.0\.0\.5[34]/, 'every documented address was replaced');
  const unbound = await startUnbound(['cache-max-ttl: 0'], conf.split('\n'));
  t.teardown(() => unbound.stop());
  const a = await dig(unbound.port, MANAGED);
  t.equal(a.status, 'NOERROR', a.status === 'NOERROR' ? 'NOERROR through Unbound' : a.raw);
  t.same(a.answers.map((x) => x.data).sort(), ['10.40.1.10', '10.40.2.10'], 'managed name resolved through privatelink-dns');
  t.notMatch(a.raw, /100\.100\.1\.1/);
  const wild = await dig(unbound.port, 'bucket.oss-cn-hangzhou-internal.aliyuncs.com');
  t.same(wild.answers.map((x) => x.data), ['10.40.3.10'], 'wildcard too');
  const other = await dig(unbound.port, 'ecs.cn-hangzhou.aliyuncs.com');
  t.same(other.answers.map((x) => x.data), ['192.0.2.77'], 'an unmanaged name in the zone still resolves');
});

t.test('dnsmasq with the documented server=/zone/ip#port snippet', async (t) => {
  requireTool('dnsmasq');
  const snippet = documentedSnippet('dnsmasq');
  t.match(snippet, /^server=\/aliyuncs\.com\//m);
  const conf = pointAt(snippet, '#', daemon.dnsPort);
  t.notMatch(conf, /10\.0\.0\.5[34]/, 'every documented address was replaced');
  const dir = mkdtempSync(join(tmpdir(), 'pldns-dnsmasq-'));
  writeFileSync(join(dir, 'privatelink-dns.conf'), `${conf}\n`);
  writeFileSync(join(dir, 'dnsmasq.conf'), `conf-file=${join(dir, 'privatelink-dns.conf')}\ncache-size=0\n`);
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  const proc = spawn('dnsmasq', ['-k', '-C', join(dir, 'dnsmasq.conf'), '--no-resolv', '--no-hosts', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', `--pid-file=${join(dir, 'pid')}`, '--log-facility=-', ...user], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  t.teardown(async () => {
    clearTimeout(killer);
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });
  let a = await dig(port, MANAGED, 'A', ['+time=1']);
  for (let i = 0; i < 30 && a.status === 'NO_ANSWER'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    a = await dig(port, MANAGED, 'A', ['+time=1']);
  }
  t.equal(a.status, 'NOERROR', a.status === 'NOERROR' ? 'NOERROR through dnsmasq' : `${a.raw}\n${output}`);
  t.same(a.answers.map((x) => x.data).sort(), ['10.40.1.10', '10.40.2.10'], 'managed name resolved through privatelink-dns');
  t.notMatch(a.raw, /100\.100\.1\.1/);
  const other = await dig(port, 'ecs.cn-hangzhou.aliyuncs.com');
  t.same(other.answers.map((x) => x.data), ['192.0.2.77'], 'an unmanaged name in the zone still resolves');
});
