import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateConfig } from '../../src/config/validate';
import { parseDurationMs } from '../../src/config/units';
import type { Config } from '../../src/config/schema';

/**
 * docs/configuration.md against src/config/validate.ts: every key the validator accepts is
 * documented, every documented key is accepted, and the documented defaults are the real ones.
 */

const ROOT = resolve(__dirname, '..', '..');
// Every file of src/config that reads a section; each is scanned on its own (path variables resolve within it).
const SECTION_FILES = ['validate.ts', 'transfer.ts', 'primaries.ts', 'tsig-key.ts', 'credentials.ts', 'probe.ts'];
const sources = SECTION_FILES.map((f) => readFileSync(resolve(ROOT, 'src/config', f), 'utf8'));
const doc = readFileSync(resolve(ROOT, 'docs/configuration.md'), 'utf8');

/**
 * Keys the validator accepts: TOP_KEYS plus every `r.section(value, 'path', [keys])`, plus TSIG_KEY_KEYS under
 * every path a `readTsigKey(r, value, 'path', ...)` call reads a key mapping at.
 */
function acceptedKeys(): Set<string> {
  const keys = new Set<string>();
  const top = /const TOP_KEYS = \[([^\]]*)\]/.exec(sources[0]);
  if (!top) throw new Error('TOP_KEYS not found in validate.ts');
  for (const k of top[1].matchAll(/'([^']+)'/g)) keys.add(k[1]);
  const keyKeys = /TSIG_KEY_KEYS[^=]*= \[([^\]]*)\]/.exec(sources[3]);
  if (!keyKeys) throw new Error('TSIG_KEY_KEYS not found in tsig-key.ts');
  for (const source of sources) {
    for (const m of source.matchAll(/readTsigKey\(r, [^,]+, (?:'([^']*)'|`([^`]*)`)/g)) {
      const path = (m[1] ?? m[2]).replace(/\[\$\{\w+\}\]/g, '[]');
      for (const k of keyKeys[1].matchAll(/'([^']+)'/g)) keys.add(`${path}.${k[1]}`);
    }
    addSectionKeys(source, keys);
  }
  return keys;
}

function addSectionKeys(source: string, keys: Set<string>): void {
  for (const m of source.matchAll(/\.section\([^,]+,\s*(?:'([^']*)'|`([^`]*)`|(\w+)),\s*\[([^\]]*)\]/g)) {
    let path = m[1] ?? m[2] ?? m[3];
    // A variable holding the path: its nearest `const NAME = '...'` (or template) above the call.
    if (m[3] !== undefined) {
      const defs = [...source.slice(0, m.index).matchAll(new RegExp(`const ${m[3]} = (?:'([^']+)'|\`([^\`]+)\`)`, 'g'))];
      const def = defs[defs.length - 1];
      if (!def) throw new Error(`cannot resolve section path variable ${m[3]}`);
      path = def[1] ?? def[2];
    }
    path = path.replace(/\[\$\{\w+\}\]/g, '[]');
    for (const k of m[4].matchAll(/'([^']+)'/g)) keys.add(path === '' ? k[1] : `${path}.${k[1]}`);
  }
}

interface Row { key: string; type: string; def: string; meaning: string }

function documentedRows(): Row[] {
  const rows: Row[] = [];
  for (const line of doc.split('\n')) {
    const m = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (!m) continue;
    const cells = m[2].split(/(?<!\\)\|/).map((c) => c.trim());
    rows.push({ key: m[1], type: cells[0] ?? '', def: cells[1] ?? '', meaning: cells[2] ?? '' });
  }
  return rows;
}

const accepted = acceptedKeys();
const rows = documentedRows();
const documented = new Set(rows.map((r) => r.key));

t.test('the extraction from validate.ts finds the known sections', async (t) => {
  for (const k of [
    'region', 'listen.dns', 'access.rate_limit.slip', 'privatelink.credentials.role_arn', 'records.entries[].names', 'limits.lameduck', 'log.queries',
    'transfer.allow', 'transfer.soa.expire', 'transfer.keys[].secret_file', 'primaries.max_stale', 'primaries.key.algorithm',
  ]) {
    t.ok(accepted.has(k), `${k} extracted`);
  }
  t.ok(accepted.size > 50, `${accepted.size} keys`);
});

t.test('every accepted key is documented', async (t) => {
  const missing = [...accepted].filter((k) => !documented.has(k));
  t.same(missing, [], 'keys missing from docs/configuration.md');
});

t.test('every documented key is accepted', async (t) => {
  const extra = [...documented].filter((k) => !accepted.has(k));
  t.same(extra, [], 'keys in docs/configuration.md that validate.ts does not accept');
  t.equal(rows.length, documented.size, 'no key documented twice');
});

t.test('every row has a type and a meaning', async (t) => {
  for (const r of rows) {
    t.ok(r.type !== '', `${r.key}: type`);
    t.ok(r.meaning.length >= 5, `${r.key}: meaning`);
  }
});

t.test('documented defaults are the validator defaults', async (t) => {
  const result = validateConfig({ region: 'cn-hangzhou' });
  if (!result.config) throw new Error(JSON.stringify(result.problems));
  const c: Config = result.config;
  t.equal(c.records.probe, null, 'records.probe is off unless asked for; its keys default as below when on');
  const probe = validateConfig({ region: 'cn-hangzhou', records: { probe: true } }).config?.records.probe;
  const ms = (key: string): number => {
    const row = rows.find((r) => r.key === key);
    const text = /`([^`]+)`/.exec(row?.def ?? '')?.[1] ?? '';
    return parseDurationMs(text) ?? NaN;
  };
  const num = (key: string): number => Number(/`([^`]+)`/.exec(rows.find((r) => r.key === key)?.def ?? '')?.[1]);
  const str = (key: string): string => /`([^`]+)`/.exec(rows.find((r) => r.key === key)?.def ?? '')?.[1] ?? '';
  const durations: [string, number][] = [
    ['upstream.timeout', c.upstream.timeoutMs],
    ['upstream.health_check', c.upstream.healthCheckIntervalMs],
    ['cache.max_ttl', c.cache.maxTtlS * 1000],
    ['cache.serve_stale', c.cache.serveStaleMs],
    ['privatelink.jitter', c.privatelink.jitterMs],
    ['privatelink.timeout', c.privatelink.timeoutMs],
    ['privatelink.max_stale', c.privatelink.maxStaleMs],
    ['privatelink.max_backoff', c.privatelink.maxBackoffMs],
    ['limits.tcp_idle_timeout', c.limits.tcpIdleTimeoutMs],
    ['limits.shutdown_grace', c.limits.shutdownGraceMs],
    ['limits.lameduck', c.limits.lameduckMs],
    ['limits.http_request_timeout', c.listen.httpLimits.requestTimeoutMs],
    ['limits.http_headers_timeout', c.listen.httpLimits.headersTimeoutMs],
    ['limits.http_keep_alive_timeout', c.listen.httpLimits.keepAliveTimeoutMs],
    ['records.probe.interval', probe?.intervalMs ?? NaN],
    ['records.probe.timeout', probe?.timeoutMs ?? NaN],
    ['records.probe.idle', probe?.idleMs ?? NaN],
  ];
  for (const [key, want] of durations) t.equal(ms(key), want, `${key} default`);
  const numbers: [string, number][] = [
    ['access.rate_limit.responses_per_second', c.access.rateLimit?.responsesPerSecond ?? NaN],
    ['access.rate_limit.burst', c.access.rateLimit?.burst ?? NaN],
    ['access.rate_limit.slip', c.access.rateLimit?.slip ?? NaN],
    ['upstream.max_fails', c.upstream.maxFails],
    ['cache.size', c.cache.size],
    ['records.ttl', c.records.ttl],
    ['limits.tcp_max_connections', c.limits.tcpMaxConnections],
    ['limits.tcp_max_connections_per_client', c.limits.tcpMaxConnectionsPerClient],
    ['limits.tcp_max_in_flight', c.limits.tcpMaxInFlight],
    ['limits.tcp_max_write_buffer', c.limits.tcpMaxWriteBufferBytes],
    ['limits.max_forwards_in_flight', c.limits.maxForwardsInFlight],
    ['access.refused_rate_limit.responses_per_second', c.access.refusedRateLimit.responsesPerSecond],
    ['access.refused_rate_limit.burst', c.access.refusedRateLimit.burst],
    ['limits.http_max_connections', c.listen.httpLimits.maxConnections],
    ['limits.http_max_connections_per_client', c.listen.httpLimits.maxConnectionsPerClient],
    ['limits.http_max_header_bytes', c.listen.httpLimits.maxHeaderBytes],
    ['limits.http_max_headers', c.listen.httpLimits.maxHeaders],
    ['records.probe.port', probe?.port ?? NaN],
    ['records.probe.fail_after', probe?.failAfter ?? NaN],
    ['records.probe.pass_after', probe?.passAfter ?? NaN],
    ['records.probe.concurrency', probe?.maxConcurrent ?? NaN],
  ];
  for (const [key, want] of numbers) t.equal(num(key), want, `${key} default`);
  const strings: [string, string][] = [
    ['upstream.policy', c.upstream.policy],
    ['privatelink.protocol', c.privatelink.protocol],
    ['privatelink.refresh', c.privatelink.refresh],
    ['records.on_unavailable', c.records.onUnavailable],
    ['state_dir', c.stateDir ?? 'false'],
    ['log.level', c.log.level],
    ['log.queries', String(c.log.queries)],
    ['listen.http', `${c.listen.http?.host}:${c.listen.http?.port}`],
    ['privatelink.credentials', c.privatelink.credentials.type],
  ];
  for (const [key, want] of strings) t.equal(str(key), want, `${key} default`);
  t.equal(str('listen.dns'), JSON.stringify(c.listen.dns.map((h) => `${h.host}:${h.port}`)), 'listen.dns default');
  const allow = rows.find((r) => r.key === 'access.allow')?.def.replaceAll('`', '').split(',').map((s) => s.trim());
  t.same(allow, c.access.allow, 'access.allow default');
  t.equal(str('privatelink.endpoint').replace('{region}', 'cn-hangzhou'), c.privatelink.endpoint, 'privatelink.endpoint default');
});

t.test('documented fleet defaults are the validator defaults', async (t) => {
  const def = (key: string): string => /`([^`]+)`/.exec(rows.find((r) => r.key === key)?.def ?? '')?.[1] ?? '';
  const secret = Buffer.alloc(32, 7).toString('base64');
  const hub = validateConfig({ region: 'cn-hangzhou', transfer: { allow: ['key:fleet'], keys: [{ name: 'fleet', secret }] } });
  const edge = validateConfig({ primaries: { servers: ['10.0.0.53'], key: { name: 'fleet', secret }, managed: ['svc.example.internal'] } });
  if (!hub.config || !edge.config) throw new Error(JSON.stringify([hub.problems, edge.problems]));
  const transfer = hub.config.transfer;
  const primaries = edge.config.primaries;
  if (!transfer?.soa || !primaries) throw new Error('sections missing');
  const durations: [string, number][] = [
    ['transfer.soa.refresh', transfer.soa.refreshS * 1000],
    ['transfer.soa.retry', transfer.soa.retryS * 1000],
    ['transfer.soa.expire', transfer.soa.expireS * 1000],
    ['transfer.soa.minimum', transfer.soa.minimumS * 1000],
    ['primaries.retry', primaries.retryMs],
    ['primaries.timeout', primaries.timeoutMs],
    ['primaries.max_stale', primaries.maxStaleMs],
  ];
  for (const [key, want] of durations) t.equal(parseDurationMs(def(key)), want, `${key} default`);
  t.equal(Number(def('transfer.journal')), transfer.journalMaxChanges, 'transfer.journal default');
  t.equal(def('transfer.zone'), transfer.zone, 'transfer.zone default');
  t.equal(def('primaries.zone'), primaries.zone, 'primaries.zone default');
  t.equal(def('transfer.keys[].algorithm'), transfer.keys[0].algorithm, 'transfer.keys[].algorithm default');
  t.equal(def('primaries.key.algorithm'), primaries.key?.algorithm, 'primaries.key.algorithm default');
  t.equal(primaries.refreshMs, null, 'primaries.refresh defaults to the SOA refresh');
  t.match(rows.find((r) => r.key === 'primaries.refresh')?.def ?? '', /SOA refresh/, 'and the docs say so');
});
