import type { EntryConfig } from '../config/schema';
import { PldnsError } from '../errors';
import type { ApiResponse, PrivateLinkApi, VpcEndpoint, VpcEndpointZone } from './api-types';
import { toPldnsError } from './api-errors';
import { entryId, type EndpointInfo, type EntryState, type ZoneState } from './model';

/** Fetches one cloud entry (endpoint id or service name) into an EntryState. */

export type CloudEntryConfig = Extract<EntryConfig, { kind: 'endpoint' | 'service' }>;

/** What the fetch path reports; the metrics room implements it. */
export interface FetchObserver {
  /** One API call finished: `result` is 'ok' or the PldnsError code it failed with. */
  apiCall(action: string, result: string): void;
}

export interface FetchContext {
  api: PrivateLinkApi;
  regionId: string;
  observer?: FetchObserver;
  now?: () => number;
}

/** Both documented limits (1–50 and 1–1000) accept 50. */
export const PAGE_SIZE = 50;
/** 100 pages of 50 is far beyond any real endpoint; more means the API is looping. */
export const MAX_PAGES = 100;

interface Page<T> {
  items: T[];
  nextToken: string;
}

async function call<B>(ctx: FetchContext, action: string, fn: () => Promise<ApiResponse<B>>): Promise<B> {
  try {
    const response = await fn();
    if (response?.body === undefined || response.body === null || typeof response.body !== 'object') {
      throw new PldnsError('PL_BAD_RESPONSE', `${action}: response has no body`);
    }
    ctx.observer?.apiCall(action, 'ok');
    return response.body;
  } catch (err) {
    const typed = toPldnsError(err, action);
    ctx.observer?.apiCall(action, typed.code);
    throw typed;
  }
}

/**
 * Follows NextToken until it is empty. Only then is the listing complete; a token seen twice or
 * too many pages is a bad response rather than an endless loop.
 */
async function collectPages<T>(action: string, fetchPage: (nextToken: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  for (let pages = 1; ; pages++) {
    const page = await fetchPage(token);
    items.push(...page.items);
    if (page.nextToken === '') return items;
    if (seen.has(page.nextToken)) throw new PldnsError('PL_BAD_RESPONSE', `${action}: NextToken "${page.nextToken}" repeated`);
    if (pages >= MAX_PAGES) throw new PldnsError('PL_BAD_RESPONSE', `${action}: more than ${MAX_PAGES} pages`);
    seen.add(page.nextToken);
    token = page.nextToken;
  }
}

function list<T>(action: string, value: unknown): T[] {
  if (value === undefined || value === null) return []; // a 200 without the list is an empty page
  if (!Array.isArray(value)) throw new PldnsError('PL_BAD_RESPONSE', `${action}: list field is not an array`);
  return value as T[];
}

function tokenOf(action: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new PldnsError('PL_BAD_RESPONSE', `${action}: NextToken is not a string`);
  return value;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

function toEndpointInfo(ep: VpcEndpoint): EndpointInfo {
  return {
    endpointId: str(ep.endpointId),
    endpointName: str(ep.endpointName),
    serviceName: str(ep.serviceName),
    endpointDomain: str(ep.endpointDomain),
    endpointStatus: str(ep.endpointStatus),
    connectionStatus: str(ep.connectionStatus),
  };
}

function toZoneState(zone: VpcEndpointZone): ZoneState {
  return {
    zoneId: str(zone.zoneId),
    zoneDomain: str(zone.zoneDomain),
    eniId: str(zone.eniId),
    eniIp: str(zone.eniIp),
    ipv6: str(zone.zoneIpv6Address),
    vSwitchId: str(zone.vSwitchId),
    status: str(zone.zoneStatus),
  };
}

async function listEndpoints(ctx: FetchContext, filter: { endpointId?: string; serviceName?: string; vpcId?: string }): Promise<VpcEndpoint[]> {
  const action = 'ListVpcEndpoints';
  return collectPages(action, async (nextToken) => {
    const body = await call(ctx, action, () =>
      ctx.api.listVpcEndpoints({ regionId: ctx.regionId, ...filter, maxResults: PAGE_SIZE, ...(nextToken ? { nextToken } : {}) }),
    );
    return { items: list<VpcEndpoint>(action, body.endpoints), nextToken: tokenOf(action, body.nextToken) };
  });
}

async function listZones(ctx: FetchContext, endpointId: string): Promise<VpcEndpointZone[]> {
  const action = 'ListVpcEndpointZones';
  return collectPages(action, async (nextToken) => {
    const body = await call(ctx, action, () =>
      ctx.api.listVpcEndpointZones({ regionId: ctx.regionId, endpointId, maxResults: PAGE_SIZE, ...(nextToken ? { nextToken } : {}) }),
    );
    return { items: list<VpcEndpointZone>(action, body.zones), nextToken: tokenOf(action, body.nextToken) };
  });
}

const usable = (ep: VpcEndpoint): boolean => ep.endpointStatus === 'Active' && ep.connectionStatus === 'Connected';

/**
 * Several endpoints of one service in the VPC: prefer an Active+Connected one, then the smallest
 * EndpointId, so every replica picks the same endpoint whatever order the API lists them in.
 */
export function pickEndpoint(candidates: readonly VpcEndpoint[]): VpcEndpoint | undefined {
  return [...candidates].sort((a, b) => {
    if (usable(a) !== usable(b)) return usable(a) ? -1 : 1;
    return str(a.endpointId) < str(b.endpointId) ? -1 : str(a.endpointId) > str(b.endpointId) ? 1 : 0;
  })[0];
}

async function findEndpoint(ctx: FetchContext, entry: CloudEntryConfig): Promise<VpcEndpoint> {
  if (entry.kind === 'endpoint') {
    // The filter should already match; checking again guards against a server that ignores it.
    const found = (await listEndpoints(ctx, { endpointId: entry.endpointId })).filter((ep) => ep.endpointId === entry.endpointId);
    const ep = found[0];
    if (!ep) throw new PldnsError('PL_NOT_FOUND', `endpoint ${entry.endpointId} not found in ${ctx.regionId}`);
    return ep;
  }
  const filter = entry.vpcId ? { serviceName: entry.serviceName, vpcId: entry.vpcId } : { serviceName: entry.serviceName };
  const found = (await listEndpoints(ctx, filter)).filter(
    (ep) => ep.serviceName === entry.serviceName && (!entry.vpcId || ep.vpcId === entry.vpcId) && str(ep.endpointId) !== '',
  );
  const ep = pickEndpoint(found);
  if (!ep) {
    throw new PldnsError('PL_NOT_FOUND', `no endpoint of service ${entry.serviceName}${entry.vpcId ? ` in ${entry.vpcId}` : ''} found in ${ctx.regionId}`);
  }
  return ep;
}

export async function fetchEntry(ctx: FetchContext, entry: CloudEntryConfig): Promise<EntryState> {
  const ep = await findEndpoint(ctx, entry);
  const endpoint = toEndpointInfo(ep);
  const zones = (await listZones(ctx, endpoint.endpointId)).map(toZoneState);
  return {
    id: entryId(entry),
    kind: entry.kind,
    names: [...entry.names],
    endpoint,
    zones,
    source: 'sync',
    fetchedAtMs: (ctx.now ?? Date.now)(),
    stale: false,
  };
}
