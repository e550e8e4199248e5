/**
 * Demo data for `serve --demo`: PrivateLink endpoints in cn-hangzhou for the names an ACK Edge
 * node needs over a leased line. Addresses are private (192.168/16, 172.16/12), never 100.64/10,
 * which is exactly what the daemon exists to avoid handing out. The registry endpoint is found by
 * service name, one zone is Disconnected and one has IPv6, so the demo shows each answering rule.
 */
import type { SimEndpoint, SimZone, SimulatorData } from './types';

export const DEMO_REGION = 'cn-hangzhou';
const VPC_ID = 'vpc-bp1x7r4k2d9m3q8w5t6yz';

/** The registry endpoint is configured by this service name rather than by endpoint id. */
export const DEMO_REGISTRY_SERVICE_NAME = 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1r2g7s4t8y6u3i9o0p';

const VSWITCH: Record<string, string> = {
  'cn-hangzhou-h': 'vsw-bp1h5n8c2v6b9m4x7z1q',
  'cn-hangzhou-j': 'vsw-bp1j3k6l9p2o5i8u1y4t',
  'cn-hangzhou-k': 'vsw-bp1k7g4f1d8s5a2q9w6e',
};

function zone(endpointId: string, serviceId: string, zoneId: string, eniId: string, eniIp: string, extra: Partial<SimZone> = {}): SimZone {
  return {
    ZoneId: zoneId,
    ZoneDomain: `${endpointId}-${zoneId}.${serviceId}.${DEMO_REGION}.privatelink.aliyuncs.com`,
    EniId: eniId,
    EniIp: eniIp,
    VSwitchId: VSWITCH[zoneId],
    ZoneStatus: 'Connected',
    ...extra,
  };
}

function endpoint(endpointId: string, serviceId: string, name: string, zones: SimZone[]): SimEndpoint {
  return {
    EndpointId: endpointId,
    EndpointName: name,
    EndpointDomain: `${endpointId}.${serviceId}.${DEMO_REGION}.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active',
    ConnectionStatus: 'Connected',
    EndpointType: 'Interface',
    ServiceId: serviceId,
    ServiceName: `com.aliyuncs.privatelink.${DEMO_REGION}.${serviceId}`,
    VpcId: VPC_ID,
    RegionId: DEMO_REGION,
    CreateTime: '2024-05-20T08:12:45Z',
    Zones: zones,
  };
}

export const DEMO_ENDPOINT_IDS = {
  controlPlane: 'ep-bp1g7k2m9x4q8w3z5',
  registry: 'ep-bp1r5t8y2u6i9o3p7',
  oss: 'ep-bp1o4s9s2d7f5g8h3',
  vpcApi: 'ep-bp1v6p3c8x2z5b9n4',
} as const;

const CONTROL_PLANE_SERVICE = 'epsrv-bp1c5s8a2n6o9n3y7v0p';
const REGISTRY_SERVICE = 'epsrv-bp1r2g7s4t8y6u3i9o0p';
const OSS_SERVICE = 'epsrv-bp1o8s3s6i2n4t7e5r1n';
const VPC_API_SERVICE = 'epsrv-bp1v3p9c6a2p4i8v5p7c';

export const DEMO_SIMULATOR_DATA: SimulatorData = {
  endpoints: [
    endpoint(DEMO_ENDPOINT_IDS.controlPlane, CONTROL_PLANE_SERVICE, 'ack-edge-control-plane', [
      zone(DEMO_ENDPOINT_IDS.controlPlane, CONTROL_PLANE_SERVICE, 'cn-hangzhou-h', 'eni-bp1a3f7k2m9x4q8w3z5c', '192.168.10.21'),
      zone(DEMO_ENDPOINT_IDS.controlPlane, CONTROL_PLANE_SERVICE, 'cn-hangzhou-j', 'eni-bp1b6g2l8n4r7t1y5u9i', '192.168.20.21'),
      zone(DEMO_ENDPOINT_IDS.controlPlane, CONTROL_PLANE_SERVICE, 'cn-hangzhou-k', 'eni-bp1c9h5m1p7s3v6x2z8b', '192.168.30.21', {
        ZoneIpv6Address: 'fd00:a8c0:1e::21',
      }),
    ]),
    endpoint(DEMO_ENDPOINT_IDS.registry, REGISTRY_SERVICE, 'ack-edge-registry', [
      zone(DEMO_ENDPOINT_IDS.registry, REGISTRY_SERVICE, 'cn-hangzhou-h', 'eni-bp1d2j8o4q1u7w3y9a5c', '192.168.10.22'),
      zone(DEMO_ENDPOINT_IDS.registry, REGISTRY_SERVICE, 'cn-hangzhou-j', 'eni-bp1e5k1p7r4v8x2z6b3d', '192.168.20.22'),
      // Being migrated away: the daemon must not answer with this address.
      zone(DEMO_ENDPOINT_IDS.registry, REGISTRY_SERVICE, 'cn-hangzhou-k', 'eni-bp1f8l4q2s6w9y3a7c1e', '192.168.30.22', { ZoneStatus: 'Disconnected' }),
    ]),
    endpoint(DEMO_ENDPOINT_IDS.oss, OSS_SERVICE, 'ack-edge-oss', [
      zone(DEMO_ENDPOINT_IDS.oss, OSS_SERVICE, 'cn-hangzhou-h', 'eni-bp1g1m7r3t9x5z2b8d4f', '192.168.10.23'),
      zone(DEMO_ENDPOINT_IDS.oss, OSS_SERVICE, 'cn-hangzhou-k', 'eni-bp1h4n1s6u2y8a5c9e3g', '192.168.30.23'),
    ]),
    endpoint(DEMO_ENDPOINT_IDS.vpcApi, VPC_API_SERVICE, 'ack-virtual-node-vpc-api', [
      zone(DEMO_ENDPOINT_IDS.vpcApi, VPC_API_SERVICE, 'cn-hangzhou-j', 'eni-bp1i7o4t1v5z9b3d6f2h', '172.16.20.24'),
      zone(DEMO_ENDPOINT_IDS.vpcApi, VPC_API_SERVICE, 'cn-hangzhou-k', 'eni-bp1j2p8u4w7a1c5e9g3i', '172.16.30.24'),
    ]),
  ],
};

/** A `records.entries` item in its raw YAML shape, before config validation. */
export type DemoEntry = { names: string[]; endpoint: string } | { names: string[]; service: string };

export const DEMO_ENTRIES: readonly DemoEntry[] = [
  { names: [`cs-anony-vpc.${DEMO_REGION}.aliyuncs.com`], endpoint: DEMO_ENDPOINT_IDS.controlPlane },
  { names: [`registry-${DEMO_REGION}-vpc.ack.aliyuncs.com`], service: DEMO_REGISTRY_SERVICE_NAME },
  { names: [`oss-${DEMO_REGION}-internal.aliyuncs.com`, `*.oss-${DEMO_REGION}-internal.aliyuncs.com`], endpoint: DEMO_ENDPOINT_IDS.oss },
  { names: [`vpc-vpc.${DEMO_REGION}.aliyuncs.com`], endpoint: DEMO_ENDPOINT_IDS.vpcApi },
];
