/**
 * PascalCase wire bodies → the camelCase models of api-types.ts, as the generated SDK's
 * `$dara.cast` would do, but checked: a field of the wrong type is dropped (the table builder then
 * sees a bad item and skips it), a body that is not an object or a list that is not an array makes
 * the whole response unusable (PL_BAD_RESPONSE).
 */
import { PldnsError } from '../errors';
import type {
  GetVpcEndpointAttributeResponseBody,
  ListVpcEndpointZonesResponseBody,
  ListVpcEndpointsResponseBody,
  VpcEndpoint,
  VpcEndpointZone,
} from './api-types';

type Wire = Record<string, unknown>;

function isObject(value: unknown): value is Wire {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The API sends numbers, but some gateways stringify them. */
function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function bool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

/** Drops undefined fields so that results compare and print cleanly. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function bodyObject(body: unknown, action: string): Wire {
  if (!isObject(body)) throw new PldnsError('PL_BAD_RESPONSE', `${action}: the response body is not a JSON object`, { details: { action } });
  return body;
}

function list(body: Wire, key: string, action: string): unknown[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new PldnsError('PL_BAD_RESPONSE', `${action}: ${key} is not an array`, { details: { action } });
  return value;
}

export function toVpcEndpoint(item: unknown): VpcEndpoint {
  if (!isObject(item)) return {};
  return compact({
    endpointId: str(item.EndpointId),
    endpointName: str(item.EndpointName),
    endpointDomain: str(item.EndpointDomain),
    endpointStatus: str(item.EndpointStatus),
    connectionStatus: str(item.ConnectionStatus),
    endpointBusinessStatus: str(item.EndpointBusinessStatus),
    endpointType: str(item.EndpointType),
    serviceId: str(item.ServiceId),
    serviceName: str(item.ServiceName),
    vpcId: str(item.VpcId),
    regionId: str(item.RegionId),
    createTime: str(item.CreateTime),
    zoneAffinityEnabled: bool(item.ZoneAffinityEnabled),
    addressIpVersion: str(item.AddressIpVersion),
  });
}

export function toVpcEndpointZone(item: unknown): VpcEndpointZone {
  if (!isObject(item)) return {};
  return compact({
    zoneId: str(item.ZoneId),
    zoneDomain: str(item.ZoneDomain),
    eniId: str(item.EniId),
    eniIp: str(item.EniIp),
    zoneIpv6Address: str(item.ZoneIpv6Address),
    vSwitchId: str(item.VSwitchId),
    zoneStatus: str(item.ZoneStatus),
    regionId: str(item.RegionId),
  });
}

function page(body: Wire) {
  return {
    requestId: str(body.RequestId),
    nextToken: str(body.NextToken),
    maxResults: num(body.MaxResults),
    totalCount: num(body.TotalCount),
  };
}

export function toListVpcEndpointsBody(raw: unknown): ListVpcEndpointsResponseBody {
  const body = bodyObject(raw, 'ListVpcEndpoints');
  const endpoints = list(body, 'Endpoints', 'ListVpcEndpoints');
  return compact({ ...page(body), endpoints: endpoints?.map(toVpcEndpoint) });
}

export function toListVpcEndpointZonesBody(raw: unknown): ListVpcEndpointZonesResponseBody {
  const body = bodyObject(raw, 'ListVpcEndpointZones');
  const zones = list(body, 'Zones', 'ListVpcEndpointZones');
  return compact({ ...page(body), zones: zones?.map(toVpcEndpointZone) });
}

export function toGetVpcEndpointAttributeBody(raw: unknown): GetVpcEndpointAttributeResponseBody {
  const body = bodyObject(raw, 'GetVpcEndpointAttribute');
  return compact({
    ...toVpcEndpoint(body),
    requestId: str(body.RequestId),
    payer: str(body.Payer),
    zonePrivateIpAddressCount: num(body.ZonePrivateIpAddressCount),
  });
}
