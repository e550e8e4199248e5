// Load-proof waits: e2e tests on a busy machine measure "it stopped" and "it stayed idle" as
// properties (a counter that no longer moves, CPU time spent), not as a fixed sleep.
import { readFileSync } from 'node:fs';

export interface Settled {
  /** The last value read. */
  readonly value: number;
  /** False when the value still moved at the deadline. */
  readonly settled: boolean;
  readonly ms: number;
}

/**
 * Reads `read()` every `intervalMs` until it has not changed for `quietMs`, or `deadlineMs`
 * passed. A late event on a loaded machine only restarts the quiet window; a value that never
 * stops moving (a spin) reaches the deadline with `settled: false`.
 */
export async function settle(read: () => Promise<number>, quietMs: number, deadlineMs: number, intervalMs = 250): Promise<Settled> {
  const start = Date.now();
  let value = await read();
  let since = Date.now();
  while (Date.now() - start < deadlineMs) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const next = await read();
    if (next !== value) {
      value = next;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return { value, settled: true, ms: Date.now() - start };
    }
  }
  return { value, settled: false, ms: Date.now() - start };
}

/** User + system CPU seconds a process has used (Linux /proc): what it did, not how long it waited. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ is 100 on every Linux ABI Node supports
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Reads `read()` every `intervalMs` until `ok(value)` or `deadlineMs` passed; returns the last value read. */
export async function waitUntil<T>(read: () => Promise<T>, ok: (value: T) => boolean, deadlineMs: number, intervalMs = 100): Promise<{ value: T; ok: boolean; ms: number }> {
  const start = Date.now();
  let value = await read();
  while (!ok(value) && Date.now() - start < deadlineMs) {
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await read();
  }
  return { value, ok: ok(value), ms: Date.now() - start };
}
