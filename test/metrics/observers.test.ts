import t from 'tap';
import { Metrics, pipelineCounters, snapshotObserver, syncObserver } from '../../src/metrics';
import { metricValue } from '../helpers/metrics';

async function text(m: Metrics): Promise<string> {
  return m.registry.metrics();
}

t.test('syncObserver: a sync result feeds the attempt counter, duration and last-success time', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const o = syncObserver(m);
  o.synced('success', 1500, 1_700_000_000_900);
  o.synced('partial', 500, 1_700_000_100_000);
  const body = await text(m);
  t.equal(metricValue(body, 'privatelink_dns_sync_attempts_total', { result: 'success' }), 1);
  t.equal(metricValue(body, 'privatelink_dns_sync_attempts_total', { result: 'partial' }), 1);
  t.equal(metricValue(body, 'privatelink_dns_sync_duration_seconds_sum'), 2);
  t.equal(metricValue(body, 'privatelink_dns_last_successful_sync_timestamp_seconds'), 1_700_000_000, 'only a success moves it, in whole seconds');
});

t.test('syncObserver: usable IPs are the complete set, so a removed entry loses its series', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const o = syncObserver(m);
  o.usableIps(new Map([['ep-a', 2], ['ep-b', 1]]));
  o.usableIps(new Map([['ep-a', 3]]));
  const body = await text(m);
  t.equal(metricValue(body, 'privatelink_dns_endpoint_usable_ips', { entry: 'ep-a' }), 3);
  t.notMatch(body, /entry="ep-b"/);
});

t.test('syncObserver: API calls, stale entries and table age', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const o = syncObserver(m);
  o.apiCall('ListVpcEndpoints', 'ok');
  o.apiCall('ListVpcEndpoints', 'PL_THROTTLED');
  o.apiCall('ListVpcEndpoints', 'PL_THROTTLED');
  o.staleEntries(4);
  o.tableAge(12.5);
  const body = await text(m);
  t.equal(metricValue(body, 'privatelink_dns_api_calls_total', { action: 'ListVpcEndpoints', result: 'PL_THROTTLED' }), 2);
  t.equal(metricValue(body, 'privatelink_dns_api_calls_total', { result: 'ok' }), 1);
  t.equal(metricValue(body, 'privatelink_dns_stale_entries'), 4);
  t.equal(metricValue(body, 'privatelink_dns_table_age_seconds'), 12.5);
});

t.test('snapshotObserver counts writes by result', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const o = snapshotObserver(m);
  o.written('ok');
  o.written('ok');
  o.written('error');
  const body = await text(m);
  t.equal(metricValue(body, 'privatelink_dns_snapshot_writes_total', { result: 'ok' }), 2);
  t.equal(metricValue(body, 'privatelink_dns_snapshot_writes_total', { result: 'error' }), 1);
});

t.test('pipelineCounters: a client refused by access control is a REFUSED response too', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const e = pipelineCounters(m);
  e.rejected('refused', 'udp');
  e.rejected('refused', 'tcp');
  e.rejected('formerr', 'udp');
  const body = await text(m);
  t.equal(metricValue(body, 'privatelink_dns_responses_total', { rcode: 'REFUSED' }), 2);
  t.equal(metricValue(body, 'privatelink_dns_dropped_packets_total', { reason: 'refused' }), 2, 'and still counted by reason');
  t.notMatch(body, /rcode="FORMERR"/, 'other rejections are not counted as a REFUSED response');
});
