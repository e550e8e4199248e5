import t from 'tap';
import { computeReadiness, computeStatus, type SourceView, type StatusInputs } from '../../src/http/status';
import { syncNotReadyReasons, syncStatus } from '../../src/privatelink/sync-status';
import { parseConfigText } from '../../src/config/load';
import { AnswerTable } from '../../src/resolve/table';
import type { EntryState, SyncState } from '../../src/privatelink/model';

/** Readiness and the /status document as pure functions of what the app hands them (the sync's part through its source view). */

const NOW = Date.parse('2026-11-29T12:00:00Z');
const parsed = parseConfigText(`
region: cn-hangzhou
privatelink: { max_stale: 10m }
records:
  prefer_zones: ["cn-hangzhou-j"]
  entries:
    - { names: ["cs.example.internal"], endpoint: ep-1 }
    - { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] }
state_dir: false
`);
if (!parsed.config) throw new Error(JSON.stringify(parsed.problems));
const config = parsed.config;

const zone = (zoneId: string, eniIp: string, status = 'Connected') => ({ zoneId, zoneDomain: '', eniId: `eni-${zoneId}`, eniIp, ipv6: '', vSwitchId: 'vsw-1', status });
function endpointEntry(over: Partial<EntryState> = {}): EntryState {
  return {
    id: 'ep-1',
    kind: 'endpoint',
    names: ['cs.example.internal'],
    endpoint: { endpointId: 'ep-1', endpointName: 'cs', serviceName: 'com.example.cs', endpointDomain: 'ep-1.example.internal', endpointStatus: 'Active', connectionStatus: 'Connected' },
    zones: [zone('cn-hangzhou-h', '10.1.0.1'), zone('cn-hangzhou-j', '10.1.0.2'), zone('cn-hangzhou-k', '10.1.0.3', 'Deleting')],
    source: 'sync',
    fetchedAtMs: NOW - 60_000,
    stale: false,
    ...over,
  };
}
const staticEntry: EntryState = { id: 'static:ntp.internal.example', kind: 'static', names: ['ntp.internal.example'], zones: [], addresses: { ipv4: ['10.0.0.123'], ipv6: [] }, source: 'static', stale: false };

/** The table the sync would build from these entries (endpoint answers the preferred zone). */
function tableFor(ep: EntryState): AnswerTable {
  const ipv4 = ep.endpoint ? ['10.1.0.2'] : [];
  return AnswerTable.build([
    { id: 'ep-1', names: ep.names, ipv4, ipv6: [] },
    { id: staticEntry.id, names: staticEntry.names, ipv4: ['10.0.0.123'], ipv6: [] },
  ]);
}

type Backoff = { attempts: number; untilMs: number };

/** The PrivateLink source as readiness and /status see it, over a fixed sync state. */
function syncSource(state: SyncState | undefined, backoff?: Backoff): SourceView {
  return {
    name: 'privatelink',
    notReadyReasons: (nowMs, table) => (state ? syncNotReadyReasons(state, table, config, nowMs) : []),
    status: (nowMs, table) => syncStatus({ state, table, config, nowMs, backoff, apiCalls: undefined }),
  };
}

function inputs(ep: EntryState, over: Partial<StatusInputs> = {}, sync: { state?: SyncState | null; backoff?: Backoff } = {}): StatusInputs {
  const syncState: SyncState = { entries: [ep, staticEntry], lastAttempt: { startedAtMs: NOW - 60_000, durationMs: 120, result: 'success' }, lastSuccessMs: NOW - 60_000 };
  return {
    lifecycle: 'running', listenersBound: true, table: tableFor(ep), config, nowMs: NOW,
    source: syncSource(sync.state === null ? undefined : (sync.state ?? syncState), sync.backoff),
    version: '0.1.0', configPath: '/etc/privatelink-dns/config.yaml', startedAtMs: NOW - 3_600_000, upstreams: [], cacheEntries: 3,
    listeners: [{ address: '127.0.0.1:53', udp: 53, tcp: 53, udpIo: 'dgram' }], extras: undefined,
    ...over,
  };
}

t.test('ready: listeners bound, every entry has fresh usable IPs', async (t) => {
  t.same(computeReadiness(inputs(endpointEntry())), { ready: true, reasons: [] });
});

t.test('not ready: each reason named', async (t) => {
  t.same(computeReadiness(inputs(endpointEntry(), { lifecycle: 'starting' })).reasons, ['starting']);
  t.same(computeReadiness(inputs(endpointEntry(), { lifecycle: 'stopping' })).reasons, ['shutting down'], 'lameduck turns it 503 first');
  t.same(computeReadiness(inputs(endpointEntry(), { listenersBound: false })).reasons, ['DNS listeners are not bound']);
  const never = endpointEntry({ endpoint: undefined, zones: [], fetchedAtMs: undefined, source: 'sync' });
  t.same(computeReadiness(inputs(never)).reasons, ['ep-1 (cs.example.internal): no usable IP (not fetched yet)']);
  const failed = endpointEntry({ endpoint: undefined, zones: [], fetchedAtMs: undefined, lastError: { code: 'PL_THROTTLED', message: 'slow down', atMs: NOW } });
  t.same(computeReadiness(inputs(failed)).reasons, ['ep-1 (cs.example.internal): no usable IP (last error PL_THROTTLED: slow down)']);
  const old = endpointEntry({ fetchedAtMs: NOW - 11 * 60_000, stale: true });
  t.same(computeReadiness(inputs(old)).reasons, ['ep-1 (cs.example.internal): data is 660s old, over max_stale']);
  const justInside = endpointEntry({ fetchedAtMs: NOW - 10 * 60_000 });
  t.equal(computeReadiness(inputs(justInside)).ready, true, 'exactly max_stale old is still ready');
});

t.test('static entries never go stale', async (t) => {
  const base = inputs(endpointEntry());
  const dayOld = { ...staticEntry, fetchedAtMs: NOW - 86_400_000 };
  t.equal(computeReadiness({ ...base, source: syncSource({ entries: [endpointEntry(), dayOld] }) }).ready, true, 'a day-old static entry');
  const dayOldEndpoint = endpointEntry({ fetchedAtMs: NOW - 86_400_000 });
  t.equal(computeReadiness({ ...base, source: syncSource({ entries: [dayOldEndpoint, dayOld] }) }).ready, false, 'a day-old endpoint is not');
});

t.test('/status: what answers and why', async (t) => {
  const s = computeStatus(inputs(endpointEntry(), { extras: { fleet: { role: 'agent' } } }, { backoff: { attempts: 2, untilMs: NOW + 4000 } })) as Record<string, any>;
  t.equal(s.uptimeSeconds, 3600);
  t.equal(s.region, 'cn-hangzhou');
  t.equal(s.ready, true);
  t.same(s.lastSync, { time: '2026-11-29T11:59:00.000Z', durationMs: 120, result: 'success', error: null });
  t.equal(s.lastSuccessfulSync, '2026-11-29T11:59:00.000Z');
  t.same(s.backoff, { attempts: 2, until: '2026-11-29T12:00:04.000Z', nextAttempt: null, reason: null });
  t.same(s.table.names, 2);
  t.same(s.cache, { entries: 3, size: config.cache.size });
  t.same(s.fleet, { role: 'agent' }, 'extras are merged in');
  const ep = s.endpoints[0];
  t.equal(ep.ageSeconds, 60);
  t.same(ep.answers, { ipv4: ['10.1.0.2'], ipv6: [] });
  t.same(ep.zones.map((z: { zoneId: string; answered: boolean }) => `${z.zoneId}=${z.answered}`), ['cn-hangzhou-h=false', 'cn-hangzhou-j=true', 'cn-hangzhou-k=false'], 'prefer_zones: only the preferred zone is answered; a Deleting zone never');
  t.equal(ep.lastError, null);
  t.same(s.endpoints[1].answers, { ipv4: ['10.0.0.123'], ipv6: [] });
  t.equal(s.endpoints[1].ageSeconds, null, 'a static entry has no age');
});

t.test('/status: no backoff shown at zero attempts; errors with their time', async (t) => {
  const ep = endpointEntry({ stale: true, lastError: { code: 'PL_SERVER', message: 'InternalError', atMs: NOW - 5000 } });
  const s = computeStatus(inputs(ep, {}, { backoff: { attempts: 0, untilMs: NOW } })) as Record<string, any>;
  t.equal(s.backoff, null);
  t.same(s.endpoints[0].lastError, { code: 'PL_SERVER', message: 'InternalError', at: '2026-11-29T11:59:55.000Z' });
  t.equal(s.endpoints[0].stale, true);
  const none = computeStatus(inputs(ep, {}, { state: null })) as Record<string, any>;
  t.equal(none.lastSync, null);
  t.same(none.endpoints, []);
});
