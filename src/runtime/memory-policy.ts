import { YoungGenerationCap } from './heap-settings';
import { MemoryTrimmer } from './memory-trimmer';
import { loadNativeAddon } from '../native/addon';

/**
 * Forwards in flight from which the daemon counts as busy forwarding: the young generation may
 * grow (forwards survive scavenges), and freed memory is not trimmed (a trim holds malloc's locks).
 */
const BUSY_FORWARDS = 32;

/** The daemon's memory policy: young-generation growth only while busy, freed memory trimmed while not. */
export class MemoryPolicy {
  private readonly youngGeneration: YoungGenerationCap | undefined;
  private readonly trimmer: MemoryTrimmer | undefined;

  /** `capYoungGeneration`: off when the operator set V8's heap flags; the trimmer needs the addon. */
  constructor(forwardsInFlight: () => number, capYoungGeneration: boolean) {
    const busy = (): boolean => forwardsInFlight() >= BUSY_FORWARDS;
    if (capYoungGeneration) this.youngGeneration = new YoungGenerationCap(busy);
    const addon = loadNativeAddon();
    if (addon.ok) this.trimmer = new MemoryTrimmer({ trim: () => addon.binding.trimMemory(), busy });
  }

  stop(): void {
    this.youngGeneration?.stop();
    this.trimmer?.stop();
  }
}
