import type { TableEntryInput } from '../resolve/table';

/** What the probes say about the IPs of one input; undefined when the input is not probed. */
export type ReachabilityCheck = (input: TableEntryInput) => IpReachability | undefined;

export interface IpReachability {
  /** Failed fail_after times in a row: to be left out. */
  down(ip: string): boolean;
  /** Its last probe passed. */
  passing(ip: string): boolean;
}

export interface FilteredInputs {
  readonly inputs: TableEntryInput[];
  /** Inputs answered with IPs the probes say are unreachable, because no other IP passes (fail open). */
  readonly degraded: TableEntryInput[];
}

/**
 * Per address family: the answered IPs that are not down, when one of them passes its probe;
 * else those held back by prefer_zones, on the same condition; else every answered IP (fail
 * open: the node may reach them another way). Requiring a passing IP keeps a name from being
 * narrowed to an IP that is failing too but has not failed often enough yet.
 */
function pick(primary: readonly string[], held: readonly string[], r: IpReachability): { ips: readonly string[]; failOpen: boolean } {
  if (primary.length === 0) return { ips: primary, failOpen: false };
  const up = primary.filter((ip) => !r.down(ip));
  if (up.length === primary.length) return { ips: primary, failOpen: false };
  if (up.some((ip) => r.passing(ip))) return { ips: up, failOpen: false };
  const heldUp = held.filter((ip) => !r.down(ip));
  if (heldUp.some((ip) => r.passing(ip))) return { ips: heldUp, failOpen: false };
  return { ips: primary, failOpen: true };
}

/** The answer-table inputs with unreachable IPs left out; pure, so a swap can rebuild it at any time. */
export function filterReachable(inputs: readonly TableEntryInput[], check: ReachabilityCheck): FilteredInputs {
  const out: TableEntryInput[] = [];
  const degraded: TableEntryInput[] = [];
  for (const input of inputs) {
    const r = check(input);
    if (!r) {
      out.push(input);
      continue;
    }
    const v4 = pick(input.ipv4, input.fallback?.ipv4 ?? [], r);
    const v6 = pick(input.ipv6, input.fallback?.ipv6 ?? [], r);
    if (v4.failOpen || v6.failOpen) degraded.push(input);
    out.push(v4.ips === input.ipv4 && v6.ips === input.ipv6 ? input : { ...input, ipv4: v4.ips, ipv6: v6.ips });
  }
  return { inputs: out, degraded };
}
