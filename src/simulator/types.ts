/**
 * The simulator's data: the API's own PascalCase field names, as in SPEC ("The PrivateLink
 * simulator") and `--data FILE`. Every status is an open string, as in the real API.
 */
export interface SimZone {
  ZoneId: string;
  ZoneDomain?: string;
  EniId?: string;
  EniIp?: string;
  ZoneIpv6Address?: string;
  VSwitchId?: string;
  ZoneStatus?: string;
}

export interface SimEndpoint {
  EndpointId: string;
  EndpointName?: string;
  EndpointDomain?: string;
  EndpointStatus?: string;
  ConnectionStatus?: string;
  EndpointBusinessStatus?: string;
  EndpointType?: string;
  ServiceId?: string;
  ServiceName?: string;
  VpcId?: string;
  /** When set, the endpoint is listed only for this RegionId; otherwise for any region. */
  RegionId?: string;
  CreateTime?: string;
  Zones: SimZone[];
}

export interface SimulatorData {
  endpoints: SimEndpoint[];
}

/** An API answer before it is written: status, JSON body, extra headers. */
export interface ApiReply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}
