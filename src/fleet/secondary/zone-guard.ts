import ipaddr from 'ipaddr.js';
import type { TableEntryInput } from '../../resolve/table';
import { runNow, unlimitedBudget, type SliceBudget, type Sliced } from '../../runtime/slices';

type Ranges = [ipaddr.IPv4 | ipaddr.IPv6, number][];
/** primaries.refused_ranges parsed once per config. */
const parsedRanges = new WeakMap<readonly string[], Ranges>();

function rangesOf(list: readonly string[]): Ranges {
  let ranges = parsedRanges.get(list);
  if (!ranges) {
    ranges = list.map((c) => ipaddr.parseCIDR(c));
    parsedRanges.set(list, ranges);
  }
  return ranges;
}

function refusedAddress(ip: string, ranges: Ranges): boolean {
  const a = ipaddr.parse(ip);
  return ranges.some(([range, bits]) => range.kind() === a.kind() && a.match(range, bits));
}

export interface ZoneAcceptance {
  /** primaries.managed: suffixes, each covering itself and every name below it. */
  readonly managed: readonly string[];
  readonly maxRecords: number;
  readonly maxDropShare: number;
  /** primaries.refused_ranges: CIDRs no address of a taken zone may be in. */
  readonly refusedRanges: readonly string[];
}

export type ZoneVerdict =
  | {
      readonly ok: true;
      readonly inputs: TableEntryInput[];
      /** The first name of each input taken: what primaries.max_drop compares the next zone with. */
      readonly names: ReadonlySet<string>;
      readonly outside: number;
      readonly outsideSamples: readonly string[];
    }
  | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

/** Why a zone was refused, as the metric's label says it. */
export type RefusalCode = 'records' | 'address' | 'wildcard' | 'empty' | 'drop';

const MAX_SAMPLES = 5;

/** Whether `name` is `suffix` or below it. */
function under(name: string, suffix: string): boolean {
  return name === suffix || (name.length > suffix.length && name.endsWith(suffix) && name.charCodeAt(name.length - suffix.length - 1) === 46);
}

/**
 * What an edge takes from a received zone (RFC 8945 only proves a key holder sent it; every edge
 * holds the fleet key). Names outside primaries.managed are left out. The whole zone is refused
 * (the old one stays) when it is over the record bound, carries an address an endpoint cannot
 * have, has a wildcard at or above a managed suffix's parent that would cover names we do not
 * manage, holds no managed name at all, or drops more than max_drop of the current names at once
 * (unless `force`: an operator's SIGUSR2).
 */
export function judgeZone(
  recordCount: number,
  inputs: readonly TableEntryInput[],
  current: ReadonlySet<string> | undefined,
  acceptance: ZoneAcceptance,
  force = false,
): ZoneVerdict {
  return runNow(judgeZoneInSlices(recordCount, inputs, current, acceptance, force, unlimitedBudget()));
}

/** judgeZone, one unit per input, per address and per current name (secondary.ts runs it between queries). */
export function* judgeZoneInSlices(
  recordCount: number,
  inputs: readonly TableEntryInput[],
  current: ReadonlySet<string> | undefined,
  acceptance: ZoneAcceptance,
  force: boolean,
  budget: SliceBudget,
): Sliced<ZoneVerdict> {
  if (recordCount > acceptance.maxRecords) return { ok: false, code: 'records', reason: `${recordCount} records, over primaries.max_records (${acceptance.maxRecords})` };
  const kept: TableEntryInput[] = [];
  const ranges = rangesOf(acceptance.refusedRanges);
  const names = new Set<string>();
  const samples: string[] = [];
  let outside = 0;
  for (const input of inputs) {
    if (budget.spend(1 + input.ipv4.length + input.ipv6.length)) yield;
    for (const ip of [...input.ipv4, ...input.ipv6]) {
      if (refusedAddress(ip, ranges)) return { ok: false, code: 'address', reason: `${input.names[0]} has address ${ip}, in a range an endpoint never has` };
    }
    const name = input.names[0] ?? '';
    const wildcard = name.startsWith('*.');
    const base = wildcard ? name.slice(2) : name;
    if (acceptance.managed.some((m) => under(base, m))) {
      kept.push(input);
      names.add(name);
      continue;
    }
    // *.com or *.aliyuncs.com: a wildcard above a managed suffix would answer names no one manages.
    if (wildcard && acceptance.managed.some((m) => under(m, base))) return { ok: false, code: 'wildcard', reason: `wildcard ${name} covers names above primaries.managed` };
    outside++;
    if (samples.length < MAX_SAMPLES) samples.push(name);
  }
  if (kept.length === 0) return { ok: false, code: 'empty', reason: inputs.length === 0 ? 'the zone holds no names (SOA only)' : `none of its ${inputs.length} names is under primaries.managed` };
  if (current && current.size > 0 && !force) {
    let removed = 0;
    for (const n of current) {
      if (!names.has(n)) removed++;
      if (budget.spend()) yield;
    }
    if (removed / current.size > acceptance.maxDropShare) {
      return { ok: false, code: 'drop', reason: `it would remove ${removed} of ${current.size} names, over primaries.max_drop (${Math.round(acceptance.maxDropShare * 100)}%); SIGUSR2 takes it anyway` };
    }
  }
  return { ok: true, inputs: kept, names, outside, outsideSamples: samples };
}
