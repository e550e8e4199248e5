/**
 * What a config costs the account's API quota: calls per sync (as the sync loop plans them),
 * syncs per hour (from the cron expression) and how many instances like this one fit under the
 * quota. `check` prints it; docs/deployment.md#api-quota explains the arithmetic.
 */
import cron from 'node-cron';
import { DEFAULTS, type Config, type EntryConfig } from '../config/schema';
import { planListings, type PlannedEntry } from './fetch';

/**
 * The default of privatelink.quota_per_minute: 1,000 calls per 60 s per action, region and account,
 * shared with the console and every other tool of the account. No stored document states it; the
 * account's real figure is in Quota Center → API rate limits, and the setting takes it.
 */
export const API_QUOTA_PER_MINUTE = DEFAULTS.quotaPerMinute;
/** Above this share of the quota for one instance alone (under 100 such instances reach it), `check` warns. */
export const WARN_SHARE_PER_INSTANCE = 0.01;

export interface QuotaEstimate {
  /** Per sync, when each listing fits one page of 50 and every endpoint is Active (an upper bound). */
  listVpcEndpointsPerSync: number;
  listVpcEndpointZonesPerSync: number;
  syncsPerHour: number;
  /** Calls of the busier action in the busiest minute of one instance (syncs land in one minute unless jitter spreads them). */
  peakCallsPerMinute: number;
  /** Instances like this one that together reach the quota of the busier action. */
  instancesToQuota: number;
}

interface CronFields {
  second: number[];
  minute: number[];
  hour: number[];
}

/** Scheduled syncs per hour in an hour the schedule runs, and in the busiest minute. */
export function cronRate(expression: string): { perHour: number; busiestMinute: number } {
  const fields = (cron as unknown as { parse(e: string): CronFields }).parse(expression);
  return { perHour: fields.second.length * fields.minute.length, busiestMinute: fields.second.length };
}

/** privatelink.quota_per_minute. */
function quotaOf(config: Pick<Config, 'privatelink'>): number {
  return config.privatelink.quotaPerMinute;
}

export function estimateApiCalls(config: Pick<Config, 'privatelink' | 'records'>): QuotaEstimate | undefined {
  const cloud = config.records.entries.filter((e): e is Extract<EntryConfig, { kind: 'endpoint' | 'service' }> => e.kind !== 'static');
  if (cloud.length === 0) return undefined;
  // An endpoint entry without `vpc` is listed on its own until its VPC is learned: counted so.
  const listings = planListings(cloud.map((entry): PlannedEntry => ({ entry })));
  const endpoints = new Set(cloud.map((e) => (e.kind === 'endpoint' ? e.endpointId : `service:${e.serviceName}@${e.vpcId ?? ''}`)));
  const { perHour, busiestMinute } = cronRate(config.privatelink.refresh);
  const busier = Math.max(listings.length, endpoints.size);
  const average = (busier * perHour) / 60;
  // Without a jitter of a minute or more, the syncs of every instance fall in the same minute.
  const peak = config.privatelink.jitterMs >= 60_000 ? average : Math.max(average, busier * busiestMinute);
  return {
    listVpcEndpointsPerSync: listings.length,
    listVpcEndpointZonesPerSync: endpoints.size,
    syncsPerHour: perHour,
    peakCallsPerMinute: Math.round(peak * 10) / 10,
    instancesToQuota: Math.max(1, Math.floor(quotaOf(config) / peak)),
  };
}

/** The lines `check` prints: the estimate, and a warning when one instance takes a large share. */
export function quotaReport(config: Pick<Config, 'privatelink' | 'records'>): { info: string; warning?: string } | undefined {
  const e = estimateApiCalls(config);
  if (!e) return undefined;
  const quota = quotaOf(config);
  const info =
    `privatelink: up to ${e.listVpcEndpointsPerSync} ListVpcEndpoints + ${e.listVpcEndpointZonesPerSync} ListVpcEndpointZones calls per sync, ` +
    `${e.syncsPerHour} syncs per hour: about ${e.peakCallsPerMinute} calls per minute per instance; ` +
    `the account's quota (${quota} per minute per action, shared; privatelink.quota_per_minute, the real figure is in Quota Center → API rate limits) is reached by about ${e.instancesToQuota} instances like this one`;
  if (e.peakCallsPerMinute <= quota * WARN_SHARE_PER_INSTANCE) return { info };
  return {
    info,
    warning:
      `privatelink.refresh: ${e.peakCallsPerMinute} API calls per minute is over ${WARN_SHARE_PER_INSTANCE * 100}% of the account's quota for one instance; ` +
      'refresh less often, set jitter of a minute or more, or run one hub and fleet edges (docs/fleet.md, docs/deployment.md#api-quota)',
  };
}
