import { YoungGenerationCap, observeGc } from './heap-settings';
import { MemoryTrimmer } from './memory-trimmer';
import { loadNativeAddon } from '../native/addon';

/**
 * Forwards in flight from which the daemon counts as busy forwarding: the young generation may
 * grow (forwards survive scavenges), and freed memory is not trimmed (a trim holds malloc's locks).
 */
const BUSY_FORWARDS = 32;
/** glibc's trim threshold, held here (it would otherwise rise with every large block freed, up to 64 MB). */
const TRIM_THRESHOLD_BYTES = 1024 * 1024;

/**
 * The daemon's memory policy: young-generation growth only while busy, freed memory trimmed while
 * not. Both act after garbage collections, seen by one observer: no timer of their own, so a
 * daemon that allocates nothing (idle) is never woken by them.
 */
export class MemoryPolicy {
  private readonly youngGeneration: YoungGenerationCap | undefined;
  private readonly trimmer: MemoryTrimmer | undefined;
  private readonly disconnect: () => void;

  /** `capYoungGeneration`: off when the operator set V8's heap flags; the trimmer needs the addon. */
  constructor(forwardsInFlight: () => number, capYoungGeneration: boolean, observe: (onGc: () => void) => () => void = observeGc) {
    const busy = (): boolean => forwardsInFlight() >= BUSY_FORWARDS;
    if (capYoungGeneration) this.youngGeneration = new YoungGenerationCap(busy, undefined, undefined, null);
    const addon = loadNativeAddon();
    if (addon.ok) {
      // A fixed threshold: freed memory at the top of a helper thread's arena goes back on free
      // (malloc_trim leaves those tops alone); see malloc_trim.c.
      addon.binding.holdTrimThreshold(TRIM_THRESHOLD_BYTES);
      this.trimmer = new MemoryTrimmer({ trim: () => addon.binding.trimMemory(), busy });
    }
    const young = this.youngGeneration;
    const trimmer = this.trimmer;
    this.disconnect = young || trimmer ? observe(() => { young?.check(); trimmer?.gcSeen(); }) : () => undefined;
  }

  /** Trims done so far (tests). */
  get trims(): number {
    return this.trimmer?.trims ?? 0;
  }

  /** Whether a trim check is due (tests: only after a collection). */
  get trimCheckPending(): boolean {
    return this.trimmer?.pending ?? false;
  }

  stop(): void {
    this.disconnect();
    this.youngGeneration?.stop();
    this.trimmer?.stop();
  }
}
