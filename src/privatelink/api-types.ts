/**
 * The narrow PrivateLink API surface privatelink-dns uses. Method names, request fields and
 * response shapes mirror the generated `@alicloud/privatelink20200415` SDK (camelCase models
 * over the API's PascalCase wire fields), so that SDK can replace our client by changing an
 * import. Tests fake this interface; the real implementation is `client.ts`.
 */
export interface ListVpcEndpointsRequest {
  regionId: string;
  endpointId?: string;
  endpointName?: string;
  endpointStatus?: string;
  connectionStatus?: string;
  endpointType?: string;
  serviceName?: string;
  vpcId?: string;
  maxResults?: number;
  nextToken?: string;
}

export interface ListVpcEndpointZonesRequest {
  regionId: string;
  endpointId: string;
  maxResults?: number;
  nextToken?: string;
}

export interface GetVpcEndpointAttributeRequest {
  regionId: string;
  endpointId: string;
}

export interface VpcEndpoint {
  endpointId?: string;
  endpointName?: string;
  endpointDomain?: string;
  endpointStatus?: string;
  connectionStatus?: string;
  endpointBusinessStatus?: string;
  endpointType?: string;
  serviceId?: string;
  serviceName?: string;
  vpcId?: string;
  regionId?: string;
  createTime?: string;
  zoneAffinityEnabled?: boolean;
  addressIpVersion?: string;
}

export interface VpcEndpointZone {
  zoneId?: string;
  zoneDomain?: string;
  eniId?: string;
  eniIp?: string;
  zoneIpv6Address?: string;
  vSwitchId?: string;
  zoneStatus?: string;
  regionId?: string;
}

export interface ListVpcEndpointsResponseBody {
  requestId?: string;
  nextToken?: string;
  maxResults?: number;
  totalCount?: number;
  endpoints?: VpcEndpoint[];
}

export interface ListVpcEndpointZonesResponseBody {
  requestId?: string;
  nextToken?: string;
  maxResults?: number;
  totalCount?: number;
  zones?: VpcEndpointZone[];
}

export interface GetVpcEndpointAttributeResponseBody extends VpcEndpoint {
  requestId?: string;
  payer?: string;
  zonePrivateIpAddressCount?: number;
}

export interface ApiResponse<B> {
  headers?: Record<string, string>;
  statusCode?: number;
  body?: B;
}

export interface PrivateLinkApi {
  listVpcEndpoints(request: ListVpcEndpointsRequest): Promise<ApiResponse<ListVpcEndpointsResponseBody>>;
  listVpcEndpointZones(request: ListVpcEndpointZonesRequest): Promise<ApiResponse<ListVpcEndpointZonesResponseBody>>;
  getVpcEndpointAttribute(request: GetVpcEndpointAttributeRequest): Promise<ApiResponse<GetVpcEndpointAttributeResponseBody>>;
}
