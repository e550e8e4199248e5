import { onGc } from './gc-observer';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * V8 settings the daemon needs, applied by the program itself so the binary, the systemd unit,
 * the container image and `npm start` all run the same way with a plain `node dist/cli.js`.
 *
 * The young generation: V8 grows its semi-spaces from 1 MiB up to 16 MiB each while a process
 * allocates fast, and under DNS load it does, which costs ~30 MB of RSS. `--max-semi-space-size`
 * cannot be changed once the heap exists, but the growth factor is read at each resize: the
 * daemon starts with a factor of 1 (semi-spaces stay at 1 MiB) and a YoungGenerationCap lets them
 * grow to 4 MiB, no further, and only while many forwarded queries are in flight. Managed answers
 * die young at any size; forwarded queries live for an upstream round trip, and with 1 MiB
 * semi-spaces a flood of cache misses scavenges so often that in-flight queries get promoted:
 * ~25 % more CPU per miss (bench, case c).
 *
 * The old generation: V8 lets it grow well past the live data before a full collection, and a
 * flood of unique names (cache entries live long enough to be promoted, then are evicted) filled
 * it to 120–150 MB of RSS. Growing by 50 % over the live data after each full collection keeps
 * the flood near 85 MB (10 %: the same memory, more full collections; 100 %: 92–93 MB); with the
 * cache in slab slots (resolve/slab-store.ts) 50 % costs no CPU we could measure. Both flags are
 * read at each collection, so they can be set here.
 *
 * An operator who sets these on the node command line (or in NODE_OPTIONS) keeps that choice.
 */
export const YOUNG_GENERATION_FLAGS = ['--max-semi-space-size', '--min-semi-space-size', '--semi-space-growth-factor'] as const;
export const OLD_GENERATION_FLAGS = ['--heap-growing-percent'] as const;

/** Largest semi-space the daemon lets V8 grow to (the new space is two of them). */
export const SEMI_SPACE_CAP_BYTES = 4 * 1024 * 1024;
const HEAP_GROWING_PERCENT = 50;

export interface HeapSettingsInput {
  readonly execArgv: readonly string[];
  readonly nodeOptions: string | undefined;
}

export interface HeapPlan {
  /** Flags to set now. */
  readonly flags: string[];
  /** Whether the daemon manages the young generation's growth (YoungGenerationCap). */
  readonly capYoungGeneration: boolean;
}

/** The V8 flags to set now, given how node was started (none that the operator chose). */
export function heapPlanFor(input: HeapSettingsInput): HeapPlan {
  const given = [...input.execArgv, ...(input.nodeOptions ?? '').split(/\s+/)].map((arg) => `--${arg.replace(/^--/, '').split('=')[0].replace(/_/g, '-')}`);
  // V8 takes `--max_semi_space_size` as well as `--max-semi-space-size`.
  const chose = (names: readonly string[]): boolean => given.some((name) => names.includes(name));
  const young = !chose(YOUNG_GENERATION_FLAGS);
  const flags = [...(young ? ['--semi-space-growth-factor=1'] : []), ...(chose(OLD_GENERATION_FLAGS) ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`])];
  return { flags, capYoungGeneration: young };
}

/** The growth factor that lets semi-spaces of `semiBytes` grow once more without passing the cap. */
export function growthFactorFor(semiBytes: number, capBytes = SEMI_SPACE_CAP_BYTES): 1 | 2 {
  return semiBytes * 2 <= capBytes ? 2 : 1;
}

/**
 * Lets the young generation grow to the cap while the daemon has many forwards in flight, and
 * keeps it at its initial size otherwise: after each garbage collection (a 'gc' performance
 * entry, delivered on a later turn of the loop) it sets the growth factor that lets the next
 * resize double the semi-spaces only while that stays within the cap and `demand()` says objects
 * are living long enough to be worth it. V8 resizes at most once per scavenge, so a check between
 * two scavenges is all it takes. Managed answers and cache hits die young at any size (so they
 * keep 1 MiB, and the RSS that goes with it); forwarded queries live for an upstream round trip.
 */
export class YoungGenerationCap {
  private factor = 1;
  private readonly disconnect: () => void;

  constructor(
    private readonly demand: () => boolean,
    private readonly readSemiBytes: () => number = semiSpaceBytes,
    private readonly setFlag: (flag: string) => void = setFlagsFromString,
    /** Where collections are seen; `null`: the owner calls check() after each (one observer for several users). */
    observe: ((onGc: () => void) => () => void) | null = observeGc,
  ) {
    this.disconnect = observe === null ? () => undefined : observe(() => this.check());
  }

  check(): void {
    const next = this.demand() ? growthFactorFor(this.readSemiBytes()) : 1;
    if (next === this.factor) return;
    this.factor = next;
    this.setFlag(`--semi-space-growth-factor=${next}`);
  }

  stop(): void {
    this.disconnect();
  }
}

/** Calls `listener` after each garbage collection (the process's one observer, runtime/gc-observer.ts); returns the disconnect. */
export function observeGc(listener: () => void): () => void {
  return onGc(() => listener());
}

function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space ? space.space_size / 2 : 0;
}

/** Applies the daemon's heap flags to this process; the app starts the YoungGenerationCap when the plan says so. */
export function applyHeapSettings(input: HeapSettingsInput = { execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS }): HeapPlan {
  const plan = heapPlanFor(input);
  for (const flag of plan.flags) setFlagsFromString(flag);
  return plan;
}
