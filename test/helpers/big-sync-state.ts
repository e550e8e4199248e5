/** A large sync state (one endpoint, `zones` zones) for the snapshot tests; `tag` sets its IPs. */
import type { SyncState } from '../../src/privatelink/model';

export function bigState(tag: string, zones = 4000): SyncState {
  return {
    entries: [
      {
        id: 'ep-a',
        kind: 'endpoint',
        names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'],
        endpoint: { endpointId: 'ep-a', endpointName: tag, serviceName: 's', endpointDomain: 'ep-a.example.com', endpointStatus: 'Active', connectionStatus: 'Connected' },
        zones: Array.from({ length: zones }, (_, i) => ({ zoneId: `z${i}`, zoneDomain: `z${i}.ep-a.example.com`, eniId: `eni-${tag}-${i}`, eniIp: `10.${tag === 'A' ? 1 : 2}.${(i >> 8) & 255}.${i & 255}`, ipv6: '', vSwitchId: 'v', status: 'Connected' })),
        source: 'sync',
        fetchedAtMs: 1,
        stale: false,
      },
    ],
  };
}
