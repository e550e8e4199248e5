import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { checkName, normalizeName } from '../config/validate';
import type { TableEntryInput } from '../resolve/table';
import type { EndpointInfo, EntryState, ZoneState } from './model';

/**
 * Pure functions from sync state to answer-table inputs. No I/O and no logging: problems are
 * returned so the caller can log them and the tests can see them.
 */

/** Something in the API data we could not use; the rest of the entry is still built. */
export interface TableProblem {
  entryId: string;
  message: string;
}

export interface TableBuild {
  inputs: TableEntryInput[];
  problems: TableProblem[];
}

// Status values are compared exactly; any other string (including new ones the API may add) is not usable.
const ENDPOINT_ACTIVE = 'Active';
const CONNECTED = 'Connected';

export function endpointUsable(endpoint: EndpointInfo | undefined): boolean {
  return endpoint !== undefined && endpoint.endpointStatus === ENDPOINT_ACTIVE && endpoint.connectionStatus === CONNECTED;
}

function zoneUsable(zone: ZoneState): boolean {
  return zone.status === CONNECTED && isIPv4(zone.eniIp);
}

/** Zones in a stable order, so the same data always builds the same table (and snapshot digest). */
function sortedZones(zones: readonly ZoneState[]): ZoneState[] {
  return [...zones].sort((a, b) => (a.zoneId < b.zoneId ? -1 : a.zoneId > b.zoneId ? 1 : a.eniIp < b.eniIp ? -1 : 1));
}

/**
 * The zones whose IPs a managed name answers: Connected zones with a valid EniIp of an Active and
 * Connected endpoint, restricted to `preferZones` while at least one preferred zone is usable.
 */
export function usableZones(entry: EntryState, preferZones: readonly string[]): ZoneState[] {
  return splitZones(entry, preferZones).answered;
}

/** Usable zones split into those answered and those held back by prefer_zones (the probes' fallback). */
function splitZones(entry: EntryState, preferZones: readonly string[]): { answered: ZoneState[]; held: ZoneState[] } {
  if (!endpointUsable(entry.endpoint)) return { answered: [], held: [] };
  const usable = sortedZones(entry.zones).filter(zoneUsable);
  const preferred = usable.filter((z) => preferZones.includes(z.zoneId));
  return preferred.length > 0 ? { answered: preferred, held: usable.filter((z) => !preferred.includes(z)) } : { answered: usable, held: [] };
}

function ipv6Of(zone: ZoneState): string | undefined {
  return zone.ipv6 !== '' && isIPv6(zone.ipv6) ? ipaddr.IPv6.parse(zone.ipv6).toString() : undefined;
}

/** The values without repeats; the list itself when it has none (a static entry's, shared with the config). */
function unique(values: readonly string[]): readonly string[] {
  const set = new Set(values);
  return set.size === values.length ? values : [...set];
}

/**
 * One input per entry (configured names + EndpointDomain, answering every usable zone) and one per
 * zone with a ZoneDomain (answering only that zone, so a data-center CNAME to a zone domain works).
 * A zone domain ignores prefer_zones: whoever asks for a zone's own name wants that zone. Names
 * stay managed when they have no usable IP, so they are never forwarded to the 100.x answers.
 */
export function buildTableInputs(states: readonly EntryState[], preferZones: readonly string[]): TableBuild {
  const inputs: TableEntryInput[] = [];
  const problems: TableProblem[] = [];
  const owner = new Map<string, string>();

  const claim = (entryId: string, inputId: string, rawNames: readonly string[]): readonly string[] => {
    const names: string[] = [];
    let same = true;
    for (const raw of rawNames) {
      const name = normalizeName(raw);
      const problem = checkName(name);
      if (problem) {
        problems.push({ entryId, message: `name "${raw}" ${problem}; skipped` });
        continue;
      }
      const first = owner.get(name);
      if (first === inputId) continue;
      if (first !== undefined) {
        problems.push({ entryId, message: `name "${name}" is already answered by ${first}; skipped` });
        continue;
      }
      owner.set(name, inputId);
      names.push(name);
      same &&= name === raw;
    }
    // Every name taken as written (config names are normalised already): the list is shared, not copied.
    return same && names.length === rawNames.length ? rawNames : names;
  };
  const push = (entryId: string, id: string, rawNames: readonly string[], ipv4: readonly string[], ipv6: readonly string[], held: ZoneState[] = []): void => {
    const names = claim(entryId, id, rawNames);
    if (names.length === 0) return;
    const fallback = held.length > 0 ? { fallback: { ipv4: unique(held.map((z) => z.eniIp)), ipv6: unique(held.flatMap((z) => ipv6Of(z) ?? [])) } } : {};
    inputs.push({ id, names, ipv4: unique(ipv4), ipv6: unique(ipv6), ...fallback });
  };

  for (const state of states) {
    if (state.kind === 'static') {
      push(state.id, state.id, state.names, state.addresses?.ipv4 ?? [], state.addresses?.ipv6 ?? []);
      continue;
    }
    for (const zone of state.zones) {
      if (zone.status === CONNECTED && !isIPv4(zone.eniIp)) {
        problems.push({ entryId: state.id, message: `zone ${zone.zoneId || '(no id)'} has an invalid EniIp "${zone.eniIp}"; skipped` });
      }
      if (zone.ipv6 !== '' && !isIPv6(zone.ipv6)) {
        problems.push({ entryId: state.id, message: `zone ${zone.zoneId || '(no id)'} has an invalid ZoneIpv6Address "${zone.ipv6}"; ignored` });
      }
    }
    const zones = splitZones(state, preferZones);
    const domain = state.endpoint?.endpointDomain;
    push(
      state.id,
      state.id,
      domain ? [...state.names, domain] : state.names,
      zones.answered.map((z) => z.eniIp),
      zones.answered.flatMap((z) => ipv6Of(z) ?? []),
      zones.held,
    );
    const endpointOk = endpointUsable(state.endpoint);
    for (const zone of sortedZones(state.zones)) {
      if (zone.zoneDomain === '') continue;
      const ok = endpointOk && zoneUsable(zone);
      const v6 = ok ? ipv6Of(zone) : undefined;
      push(state.id, `${state.id}/${zone.zoneId}`, [zone.zoneDomain], ok ? [zone.eniIp] : [], v6 ? [v6] : []);
    }
  }
  return { inputs, problems };
}
