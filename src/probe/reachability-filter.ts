import type { TableEntryInput } from '../resolve/table';

/** Whether an IP of this input is known to be unreachable; undefined when the input is not probed. */
export type DownCheck = (input: TableEntryInput) => ((ip: string) => boolean) | undefined;

export interface FilteredInputs {
  readonly inputs: TableEntryInput[];
  /** Inputs answered with IPs the probes say are unreachable, because none of their IPs passes (fail open). */
  readonly degraded: TableEntryInput[];
}

/**
 * Per address family: the reachable answered IPs; else the reachable IPs held back by
 * prefer_zones; else every answered IP (fail open: the node may reach them another way).
 */
function pick(primary: readonly string[], held: readonly string[], isDown: (ip: string) => boolean): { ips: readonly string[]; failOpen: boolean } {
  if (primary.length === 0) return { ips: primary, failOpen: false };
  const up = primary.filter((ip) => !isDown(ip));
  if (up.length > 0) return { ips: up.length === primary.length ? primary : up, failOpen: false };
  const heldUp = held.filter((ip) => !isDown(ip));
  if (heldUp.length > 0) return { ips: heldUp, failOpen: false };
  return { ips: primary, failOpen: true };
}

/** The answer-table inputs with unreachable IPs left out; pure, so a swap can rebuild it at any time. */
export function filterReachable(inputs: readonly TableEntryInput[], check: DownCheck): FilteredInputs {
  const out: TableEntryInput[] = [];
  const degraded: TableEntryInput[] = [];
  for (const input of inputs) {
    const isDown = check(input);
    if (!isDown) {
      out.push(input);
      continue;
    }
    const v4 = pick(input.ipv4, input.fallback?.ipv4 ?? [], isDown);
    const v6 = pick(input.ipv6, input.fallback?.ipv6 ?? [], isDown);
    if (v4.failOpen || v6.failOpen) degraded.push(input);
    out.push(v4.ips === input.ipv4 && v6.ips === input.ipv6 ? input : { ...input, ipv4: v4.ips, ipv6: v6.ips });
  }
  return { inputs: out, degraded };
}
