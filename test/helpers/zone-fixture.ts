// Sync states for the zone tests: one endpoint in two availability zones (one zone domain each),
// a static entry with a wildcard, and an endpoint with no usable zone. Not a test file itself.
import type { EntryState, ZoneState } from '../../src/privatelink/model';

export const CS = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
export const OSS = 'oss-cn-hangzhou-internal.aliyuncs.com';
export const REGISTRY = 'registry-cn-hangzhou-vpc.ack.aliyuncs.com';
export const EP_DOMAIN = 'ep-cs.epsrv-1.cn-hangzhou.privatelink.aliyuncs.com';
export const J_DOMAIN = 'ep-cs-cn-hangzhou-j.epsrv-1.cn-hangzhou.privatelink.aliyuncs.com';
export const K_DOMAIN = 'ep-cs-cn-hangzhou-k.epsrv-1.cn-hangzhou.privatelink.aliyuncs.com';

export function zone(zoneId: string, eniIp: string, extra: Partial<ZoneState> = {}): ZoneState {
  return { zoneId, zoneDomain: '', eniId: `eni-${zoneId}`, eniIp, ipv6: '', vSwitchId: `vsw-${zoneId}`, status: 'Connected', ...extra };
}

export function endpoint(id: string, names: string[], zones: ZoneState[], extra: Partial<EntryState> = {}): EntryState {
  return {
    id,
    kind: 'endpoint',
    names,
    endpoint: { endpointId: id, endpointName: id, serviceName: `svc-${id}`, endpointDomain: '', endpointStatus: 'Active', connectionStatus: 'Connected' },
    zones,
    source: 'sync',
    stale: false,
    ...extra,
  };
}

export function states(): EntryState[] {
  const cs = endpoint('ep-cs', [CS], [
    zone('cn-hangzhou-j', '10.0.1.10', { zoneDomain: J_DOMAIN, ipv6: 'fd00:0:0:1:0:0:0:10' }),
    zone('cn-hangzhou-k', '10.0.2.10', { zoneDomain: K_DOMAIN }),
  ]);
  (cs.endpoint as { endpointDomain: string }).endpointDomain = EP_DOMAIN;
  return [
    cs,
    {
      id: `static:${OSS}`, kind: 'static', names: [OSS, `*.${OSS}`], zones: [],
      addresses: { ipv4: ['10.0.3.10'], ipv6: ['fd00::3:10'] }, source: 'static', stale: false,
    },
    endpoint('ep-reg', [REGISTRY], [zone('cn-hangzhou-k', '10.0.4.10', { status: 'Disconnected' })]),
  ];
}
