import { isPldnsError, PldnsError } from '../errors';
import type { AtomicWriteFs } from '../state/atomic-write';
import { DEFAULT_JOURNAL_LIMITS, ZoneJournal, type JournalLimits, type ZoneChange } from './journal';
import { withSerial, zoneDigest, type PolicyZone } from './policy-zone';
import { nextSerial, type SerialRecord } from './serial';
import { loadZoneSerials, saveZoneSerials } from './zone-state';

/**
 * The hub's published zones: the data source a transfer server reads (current zone per name,
 * IXFR history) without knowing where the data came from. Each publish gives changed content a
 * new serial (serial.ts), keeps unchanged content's serial, records the change in that zone's
 * journal and persists {serial, digest} per zone in state_dir.
 */

export interface PublishedZonesOptions {
  /** state_dir; null keeps serials in memory only (they still never go back within a run). */
  readonly dir: string | null;
  readonly journal?: JournalLimits;
  readonly now?: () => number;
  readonly fs?: AtomicWriteFs;
}

export interface PublishResult {
  /** Zones with a new serial (NOTIFY these). */
  readonly changed: readonly PolicyZone[];
  /** Zone names no longer published. */
  readonly removed: readonly string[];
}

interface Published {
  zone: PolicyZone;
  digest: string;
  journal: ZoneJournal;
}

export class PublishedZones {
  private readonly zones = new Map<string, Published>();
  private persisted = new Map<string, SerialRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PublishedZonesOptions) {}

  /** Reads the serials of an earlier run; rejects with ZONE_STATE_INVALID (then starts fresh). */
  async load(): Promise<void> {
    if (this.options.dir === null) return;
    this.persisted = await loadZoneSerials(this.options.dir);
  }

  /**
   * Publishes a complete set of zones (built with serial 0 or any serial: it is replaced). Zones
   * missing from the set stop being published. The in-memory state is updated before the
   * serials are written, so a failed write (ZONE_STATE_WRITE) still leaves the new zones served.
   */
  async publish(zones: readonly PolicyZone[]): Promise<PublishResult> {
    const nowSec = Math.floor((this.options.now ?? Date.now)() / 1000);
    const changed: PolicyZone[] = [];
    const next = new Map<string, SerialRecord>();
    for (const built of zones) {
      const digest = zoneDigest(built);
      const held = this.zones.get(built.origin);
      const prev: SerialRecord | undefined = held ? { serial: held.zone.serial, digest: held.digest } : this.persisted.get(built.origin);
      const serial = nextSerial(prev, digest, nowSec);
      next.set(built.origin, { serial, digest });
      if (held && held.digest === digest) continue;
      const zone = withSerial(built, serial);
      const journal = held?.journal ?? new ZoneJournal(this.options.journal ?? DEFAULT_JOURNAL_LIMITS);
      if (held) journal.record(held.zone, zone);
      this.zones.set(zone.origin, { zone, digest, journal });
      changed.push(zone);
    }
    const removed = [...this.zones.keys()].filter((o) => !next.has(o));
    for (const o of removed) this.zones.delete(o);

    const dirty = next.size !== this.persisted.size || [...next].some(([o, s]) => this.persisted.get(o)?.digest !== s.digest || this.persisted.get(o)?.serial !== s.serial);
    if (dirty && this.options.dir !== null) await this.save(next);
    else this.persisted = next;
    return { changed, removed };
  }

  private save(serials: Map<string, SerialRecord>): Promise<void> {
    const dir = this.options.dir as string;
    const run = this.queue.then(async () => {
      try {
        await saveZoneSerials(dir, serials, this.options.fs ? { fs: this.options.fs } : {});
      } catch (err) {
        throw isPldnsError(err) ? err : new PldnsError('ZONE_STATE_WRITE', String(err), { cause: err });
      }
      this.persisted = serials;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  get(origin: string): PolicyZone | undefined {
    return this.zones.get(origin.toLowerCase())?.zone;
  }

  origins(): string[] {
    return [...this.zones.keys()];
  }

  /** IXFR history of one zone from `serial` (see ZoneJournal.changesSince); undefined for an unknown zone. */
  changesSince(origin: string, serial: number): ZoneChange[] | undefined {
    const p = this.zones.get(origin.toLowerCase());
    if (!p) return undefined;
    return p.zone.serial === serial ? [] : p.journal.changesSince(serial);
  }
}
