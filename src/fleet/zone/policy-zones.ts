import type { RecordsConfig } from '../../config/schema';
import type { EntryState } from '../../privatelink/model';
import { buildTableInputs } from '../../privatelink/table-builder';
import { buildPolicyZone, checkZoneName, type PolicyZone, type SoaTimers } from './policy-zone';

/**
 * Zone preference for a fleet: the hub publishes the main zone (built with its own
 * records.prefer_zones) and one view per availability zone id seen in the data, named
 * `<zoneid>.<origin>` and built with prefer_zones = [zoneid]: that zone's IPs while it is usable
 * there, otherwise every usable IP. An edge in the data center next to zone K transfers
 * `K.<origin>` and so prefers K without any preference logic of its own.
 */

export interface PolicyView {
  /** The view's zone name. */
  readonly origin: string;
  /** The availability zone the view prefers; absent for the main zone. */
  readonly zoneId?: string;
  readonly zone: PolicyZone;
}

export interface PolicyZonesBuild {
  /** The main zone first, then the views in zone id order. */
  readonly views: readonly PolicyView[];
  /** Table and zone problems of all views, each once. */
  readonly problems: readonly string[];
}

export interface PolicyZonesOptions {
  /** transfer.zone. */
  readonly origin: string;
  readonly records: Pick<RecordsConfig, 'ttl' | 'preferZones' | 'onUnavailable'>;
  readonly timers?: Partial<SoaTimers>;
}

/** The zone ids views are published for: every zone of every entry (any status), in order. */
export function viewZoneIds(states: readonly EntryState[]): string[] {
  const ids = new Set<string>();
  for (const s of states) for (const z of s.zones) if (z.zoneId !== '') ids.add(z.zoneId);
  return [...ids].sort();
}

/** `<zoneid>.<origin>`, or undefined when the zone id is not usable as a DNS label. */
export function viewOrigin(zoneId: string, origin: string): string | undefined {
  const name = `${zoneId.toLowerCase()}.${origin.toLowerCase().replace(/\.$/, '')}`;
  return zoneId.includes('.') || checkZoneName(name) !== undefined ? undefined : name;
}

export function buildPolicyZones(states: readonly EntryState[], options: PolicyZonesOptions): PolicyZonesBuild {
  const { records } = options;
  const problems = new Set<string>();
  const build = (origin: string, preferZones: readonly string[]): PolicyZone => {
    const table = buildTableInputs(states, preferZones);
    for (const p of table.problems) problems.add(`${p.entryId}: ${p.message}`);
    const zoneOptions = { origin, ttlS: records.ttl, onUnavailable: records.onUnavailable, ...(options.timers ? { timers: options.timers } : {}) };
    const built = buildPolicyZone(table.inputs, zoneOptions);
    for (const p of built.problems) problems.add(p);
    return built.zone;
  };

  const main = build(options.origin, records.preferZones);
  const views: PolicyView[] = [{ origin: main.origin, zone: main }];
  const seen = new Set([main.origin]);
  for (const zoneId of viewZoneIds(states)) {
    const origin = viewOrigin(zoneId, main.origin);
    if (origin === undefined) {
      problems.add(`zone id "${zoneId}" cannot name a view (not a DNS label); no view published for it`);
      continue;
    }
    if (seen.has(origin)) continue;
    seen.add(origin);
    views.push({ origin, zoneId, zone: build(origin, [zoneId]) });
  }
  return { views, problems: [...problems] };
}
