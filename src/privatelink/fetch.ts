import type { EntryConfig } from '../config/schema';
import { PldnsError } from '../errors';
import type { ApiResponse, PrivateLinkApi, VpcEndpoint, VpcEndpointZone } from './api-types';
import { toPldnsError } from './api-errors';
import { mapLimit } from './map-limit';
import { entryId, type EndpointInfo, type EntryState, type ZoneState } from './model';

/**
 * Fetches cloud entries (endpoint id or service name) into EntryStates with as few calls as the
 * quota asks for: one paged ListVpcEndpoints listing per VPC serves every entry of that VPC, and
 * ListVpcEndpointZones is called once per Active endpoint (see planListings).
 */

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
  /** Told the API's own time (its HTTP `Date` header) of every answer that carries one. */
  apiDate?: (ms: number) => void;
}

/** The time an HTTP `Date` header names, or undefined when there is none or it does not parse. */
export function headerDateMs(headers: Record<string, string> | undefined): number | undefined {
  const raw = headers?.date ?? headers?.Date;
  const ms = raw === undefined ? Number.NaN : Date.parse(raw);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
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
    const dateMs = headerDateMs(response.headers);
    if (dateMs !== undefined) ctx.apiDate?.(dateMs);
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
  const info: EndpointInfo = {
    endpointId: str(ep.endpointId),
    endpointName: str(ep.endpointName),
    serviceName: str(ep.serviceName),
    endpointDomain: str(ep.endpointDomain),
    endpointStatus: str(ep.endpointStatus),
    connectionStatus: str(ep.connectionStatus),
  };
  if (str(ep.vpcId) !== '') info.vpcId = str(ep.vpcId);
  return info;
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

/** The ListVpcEndpoints filters one listing uses. */
export interface ListingFilter {
  endpointId?: string;
  serviceName?: string;
  vpcId?: string;
}

async function listEndpoints(ctx: FetchContext, filter: ListingFilter): Promise<VpcEndpoint[]> {
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

/** The endpoint an entry stands for among a listing's endpoints; PL_NOT_FOUND when there is none. */
export function matchEntry(ctx: { regionId: string }, entry: CloudEntryConfig, listed: readonly VpcEndpoint[]): VpcEndpoint {
  // Filters are checked again: a listing may be shared by several entries, or a server may ignore a filter.
  const vpc = entry.vpcId ? ` in ${entry.vpcId}` : '';
  if (entry.kind === 'endpoint') {
    const ep = listed.find((e) => e.endpointId === entry.endpointId && (!entry.vpcId || e.vpcId === entry.vpcId));
    if (!ep) throw new PldnsError('PL_NOT_FOUND', `endpoint ${entry.endpointId} not found${vpc} in ${ctx.regionId}`);
    return ep;
  }
  const found = listed.filter(
    (ep) => ep.serviceName === entry.serviceName && (!entry.vpcId || ep.vpcId === entry.vpcId) && str(ep.endpointId) !== '',
  );
  const ep = pickEndpoint(found);
  if (!ep) throw new PldnsError('PL_NOT_FOUND', `no endpoint of service ${entry.serviceName}${vpc} found in ${ctx.regionId}`);
  return ep;
}

/** A cloud entry and the VPC its endpoint was last seen in (from the previous sync or snapshot). */
export interface PlannedEntry {
  entry: CloudEntryConfig;
  knownVpcId?: string;
}

export interface Listing {
  filter: ListingFilter;
  /** Indexes into the planned entries this listing serves. */
  entries: number[];
}

/**
 * Which ListVpcEndpoints listings serve the entries: one per VPC for every entry whose VPC is
 * configured (`vpc:`) or known from an earlier sync; an endpoint entry of unknown VPC is looked up
 * by its id once (its VPC is then learned), a service entry without `vpc` by service name (any
 * VPC may hold the endpoint to pick).
 */
export function planListings(planned: readonly PlannedEntry[]): Listing[] {
  const byKey = new Map<string, Listing>();
  planned.forEach(({ entry, knownVpcId }, i) => {
    const vpcId = entry.vpcId ?? (entry.kind === 'endpoint' ? knownVpcId : undefined);
    const filter: ListingFilter = vpcId ? { vpcId } : entry.kind === 'endpoint' ? { endpointId: entry.endpointId } : { serviceName: entry.serviceName };
    const key = JSON.stringify(filter);
    const listing = byKey.get(key) ?? { filter, entries: [] };
    listing.entries.push(i);
    byKey.set(key, listing);
  });
  // A VPC listing that serves only one service is narrowed to it: fewer pages in a busy VPC.
  for (const listing of byKey.values()) {
    if (!listing.filter.vpcId) continue;
    const services = new Set(listing.entries.map((i) => {
      const { entry } = planned[i] as PlannedEntry;
      return entry.kind === 'service' ? entry.serviceName : '';
    }));
    const [only] = services;
    if (services.size === 1 && only) listing.filter = { serviceName: only, vpcId: listing.filter.vpcId };
  }
  return [...byKey.values()];
}

/** Runs one group of calls; e.g. bounds its time. */
export type CallGuard = <T>(work: Promise<T>, what: string) => Promise<T>;

export interface FetchEntriesOptions {
  /** Listings (then zone listings) run at the same time. */
  concurrency: number;
  guard?: CallGuard;
}

// After these, further calls in the same sync would only deepen the problem (quota, missing policy).
const STOP_CODES: ReadonlySet<string> = new Set(['PL_THROTTLED', 'PL_FORBIDDEN']);

/**
 * Every planned entry's new state, or the error that kept it from being fetched. Zones are only
 * listed for Active endpoints (other statuses answer nothing whatever their zones say), once per
 * endpoint even when several entries name it.
 */
export async function fetchEntries(outer: FetchContext, planned: readonly PlannedEntry[], opts: FetchEntriesOptions): Promise<(EntryState | PldnsError)[]> {
  // The earliest API time of this fetch: the data is at least that fresh, by the API's clock.
  let apiFetchedAtMs: number | undefined;
  const ctx: FetchContext = {
    ...outer,
    apiDate: (ms) => {
      apiFetchedAtMs = apiFetchedAtMs === undefined ? ms : Math.min(apiFetchedAtMs, ms);
      outer.apiDate?.(ms);
    },
  };
  const guard: CallGuard = opts.guard ?? ((work) => work);
  let stopped: PldnsError | undefined;
  const attempt = async <T>(what: string, work: () => Promise<T>): Promise<T | PldnsError> => {
    if (stopped) return new PldnsError(stopped.code, `skipped: an earlier call of this sync failed with ${stopped.code}`, { details: stopped.details });
    try {
      return await guard(work(), what);
    } catch (err) {
      const typed = toPldnsError(err);
      if (STOP_CODES.has(typed.code)) stopped ??= typed;
      return typed;
    }
  };

  const listings = planListings(planned);
  const matched = new Array<VpcEndpoint | PldnsError>(planned.length);
  await mapLimit(listings, opts.concurrency, async (listing) => {
    const listed = await attempt(`ListVpcEndpoints ${JSON.stringify(listing.filter)}`, () => listEndpoints(ctx, listing.filter));
    for (const i of listing.entries) {
      if (listed instanceof PldnsError) matched[i] = listed;
      else {
        try {
          matched[i] = matchEntry(ctx, (planned[i] as PlannedEntry).entry, listed);
        } catch (err) {
          matched[i] = toPldnsError(err);
        }
      }
    }
  });

  const active = [...new Set(matched.flatMap((m) => (m instanceof PldnsError || m.endpointStatus !== 'Active' ? [] : [str(m.endpointId)])))];
  const zonesById = new Map<string, ZoneState[] | PldnsError>();
  await mapLimit(active, opts.concurrency, async (endpointId) => {
    const zones = await attempt(`ListVpcEndpointZones ${endpointId}`, () => listZones(ctx, endpointId));
    zonesById.set(endpointId, zones instanceof PldnsError ? zones : zones.map(toZoneState));
  });

  const fetchedAtMs = (ctx.now ?? Date.now)();
  return planned.map(({ entry }, i): EntryState | PldnsError => {
    const ep = matched[i] as VpcEndpoint | PldnsError;
    if (ep instanceof PldnsError) return ep;
    const endpoint = toEndpointInfo(ep);
    const zones = endpoint.endpointStatus === 'Active' ? zonesById.get(endpoint.endpointId) ?? [] : [];
    if (zones instanceof PldnsError) return zones;
    return { id: entryId(entry), kind: entry.kind, names: [...entry.names], endpoint, zones, source: 'sync', fetchedAtMs, ...(apiFetchedAtMs !== undefined ? { apiFetchedAtMs } : {}), stale: false };
  });
}

/** One entry on its own (its own listing and zones): for callers outside the sync loop and tests. */
export async function fetchEntry(ctx: FetchContext, entry: CloudEntryConfig): Promise<EntryState> {
  const [result] = await fetchEntries(ctx, [{ entry }], { concurrency: 1 });
  if (result instanceof PldnsError) throw result;
  return result as EntryState;
}
