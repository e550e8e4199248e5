/**
 * The three PrivateLink operations over the simulator's data: filters, paging and the real
 * service's error codes. Pure: data and parameters in, a reply out.
 */
import { randomUUID } from 'node:crypto';
import { decodeNextToken, encodeNextToken, queryFingerprint } from './paging';
import type { ApiReply, SimEndpoint, SimulatorData } from './types';

export const SIMULATED_ACTIONS = ['ListVpcEndpoints', 'ListVpcEndpointZones', 'GetVpcEndpointAttribute'] as const;
export type SimulatedAction = (typeof SIMULATED_ACTIONS)[number];

/**
 * MaxResults is documented as 1–1000 in one place and 1–50 in another; the simulator enforces the
 * stricter range so a client that works here works against either.
 */
export const MAX_RESULTS_LIMIT = 50;
const DEFAULT_MAX_RESULTS = 50;

/** ListVpcEndpoints filters that are exact matches on the endpoint field of the same name. */
const ENDPOINT_FILTERS = ['EndpointId', 'EndpointName', 'EndpointStatus', 'ConnectionStatus', 'ServiceName', 'VpcId', 'EndpointType'] as const;

export function isSimulatedAction(action: string): action is SimulatedAction {
  return (SIMULATED_ACTIONS as readonly string[]).includes(action);
}

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

/** The error body every Alibaba Cloud POP API returns. */
export function errorReply(status: number, code: string, message: string, requestId: string, hostId: string): ApiReply {
  return {
    status,
    body: {
      RequestId: requestId,
      HostId: hostId,
      Code: code,
      Message: message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=Privatelink&requestId=${requestId}`,
    },
  };
}

interface CallContext {
  requestId: string;
  hostId: string;
}

class ApiFailure {
  constructor(readonly status: number, readonly code: string, readonly message: string) {}
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === '') throw new ApiFailure(400, `Missing${name}`, `${name} is mandatory for this action.`);
  return value;
}

function maxResults(params: URLSearchParams): number {
  const text = params.get('MaxResults');
  if (text === null || text === '') return DEFAULT_MAX_RESULTS;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > MAX_RESULTS_LIMIT) {
    throw new ApiFailure(400, 'IllegalParam.MaxResults', `The specified MaxResults ${text} is invalid: it must be from 1 to ${MAX_RESULTS_LIMIT}.`);
  }
  return value;
}

function page<T>(items: T[], params: URLSearchParams, fingerprint: string) {
  const limit = maxResults(params);
  const token = params.get('NextToken');
  let offset = 0;
  if (token !== null && token !== '') {
    const decoded = decodeNextToken(token, fingerprint);
    if (decoded === undefined) throw new ApiFailure(400, 'IllegalParam.NextToken', 'The specified NextToken is invalid.');
    offset = decoded;
  }
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit < items.length ? encodeNextToken(offset + limit, fingerprint) : '';
  return { slice, next, limit, total: items.length };
}

function inRegion(endpoint: SimEndpoint, regionId: string): boolean {
  return endpoint.RegionId === undefined || endpoint.RegionId === regionId;
}

function findEndpoint(data: SimulatorData, params: URLSearchParams): SimEndpoint {
  const regionId = required(params, 'RegionId');
  const endpointId = required(params, 'EndpointId');
  const endpoint = data.endpoints.find((e) => e.EndpointId === endpointId && inRegion(e, regionId));
  if (!endpoint) throw new ApiFailure(400, 'EndpointNotFound', `The specified endpoint ${endpointId} is not found.`);
  return endpoint;
}

function endpointView(endpoint: SimEndpoint, regionId: string): Record<string, unknown> {
  return {
    EndpointId: endpoint.EndpointId,
    EndpointName: endpoint.EndpointName ?? '',
    EndpointDomain: endpoint.EndpointDomain ?? '',
    EndpointStatus: endpoint.EndpointStatus ?? 'Active',
    ConnectionStatus: endpoint.ConnectionStatus ?? 'Connected',
    EndpointBusinessStatus: endpoint.EndpointBusinessStatus ?? 'Normal',
    EndpointType: endpoint.EndpointType ?? 'Interface',
    ServiceId: endpoint.ServiceId ?? '',
    ServiceName: endpoint.ServiceName ?? '',
    VpcId: endpoint.VpcId ?? '',
    RegionId: endpoint.RegionId ?? regionId,
    CreateTime: endpoint.CreateTime ?? '2024-01-01T00:00:00Z',
    ZoneAffinityEnabled: false,
    AddressIpVersion: 'IPv4',
    ResourceGroupId: 'rg-simulator',
    Tags: [],
  };
}

function listVpcEndpoints(data: SimulatorData, params: URLSearchParams, ctx: CallContext): ApiReply {
  const regionId = required(params, 'RegionId');
  const filters: Record<string, string | undefined> = { RegionId: regionId };
  for (const name of ENDPOINT_FILTERS) {
    const value = params.get(name);
    if (value !== null && value !== '') filters[name] = value;
  }
  const matches = data.endpoints.filter((e) => {
    if (!inRegion(e, regionId)) return false;
    const view = endpointView(e, regionId);
    return ENDPOINT_FILTERS.every((name) => filters[name] === undefined || view[name] === filters[name]);
  });
  const { slice, next, limit, total } = page(matches, params, queryFingerprint('ListVpcEndpoints', filters));
  return {
    status: 200,
    body: { RequestId: ctx.requestId, NextToken: next, MaxResults: limit, TotalCount: total, Endpoints: slice.map((e) => endpointView(e, regionId)) },
  };
}

function listVpcEndpointZones(data: SimulatorData, params: URLSearchParams, ctx: CallContext): ApiReply {
  const endpoint = findEndpoint(data, params);
  const regionId = required(params, 'RegionId');
  const fingerprint = queryFingerprint('ListVpcEndpointZones', { RegionId: regionId, EndpointId: endpoint.EndpointId });
  const { slice, next, limit, total } = page(endpoint.Zones, params, fingerprint);
  return {
    status: 200,
    body: {
      RequestId: ctx.requestId,
      NextToken: next,
      MaxResults: limit,
      TotalCount: total,
      Zones: slice.map((z) => ({ ...z, ZoneStatus: z.ZoneStatus ?? 'Connected', RegionId: regionId })),
    },
  };
}

function getVpcEndpointAttribute(data: SimulatorData, params: URLSearchParams, ctx: CallContext): ApiReply {
  const endpoint = findEndpoint(data, params);
  const regionId = required(params, 'RegionId');
  return {
    status: 200,
    body: { RequestId: ctx.requestId, ...endpointView(endpoint, regionId), Payer: 'Endpoint', ZonePrivateIpAddressCount: 1 },
  };
}

const HANDLERS: Record<SimulatedAction, (data: SimulatorData, params: URLSearchParams, ctx: CallContext) => ApiReply> = {
  ListVpcEndpoints: listVpcEndpoints,
  ListVpcEndpointZones: listVpcEndpointZones,
  GetVpcEndpointAttribute: getVpcEndpointAttribute,
};

export function handleApiCall(action: SimulatedAction, data: SimulatorData, params: URLSearchParams, ctx: CallContext): ApiReply {
  try {
    return HANDLERS[action](data, params, ctx);
  } catch (err) {
    if (err instanceof ApiFailure) return errorReply(err.status, err.code, err.message, ctx.requestId, ctx.hostId);
    throw err;
  }
}
