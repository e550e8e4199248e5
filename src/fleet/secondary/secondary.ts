import type { Logger } from '../../runtime/log';
import { LogBudget } from '../../runtime/log-budget';
import { PldnsError, describeError, isPldnsError, type PldnsErrorOf } from '../../errors';
import { formatHostPort, type HostPort } from '../../config/units';
import type { PrimariesConfig, TsigKeyConfig } from '../../config/schema';
import type { ClientAddress } from '../../server/request';
import type { Soa } from '../codec/soa';
import { DEFAULT_SLICER, type SliceBudget, type Sliced, type Slicer } from '../../runtime/slices';
import { applyChangesInSlices } from '../zone/apply-changes';
import { zoneSoaFields, type PolicyZone } from '../zone/policy-zone';
import { zoneFromTransferInSlices } from '../zone/zone-from-transfer';
import { serialGt } from '../codec/serial';
import { policyZoneToTableInputsInSlices, type ZoneTableBuild } from '../zone/zone-to-table';
import { judgeZoneInSlices, type RefusalCode, type ZoneVerdict } from './zone-guard';
import type { TransferResult } from './transfer-assembler';

/** The wire calls the secondary needs (secondary/xfr-client.ts implements them). */
export interface XfrCalls {
  querySoa(server: HostPort, zone: string, opts: { key?: TsigKeyConfig; timeoutMs: number; signal?: AbortSignal }): Promise<Soa>;
  transferZone(server: HostPort, zone: string, opts: { key?: TsigKeyConfig; timeoutMs: number; currentSerial?: number; maxRecords?: number; signal?: AbortSignal }): Promise<TransferResult>;
}

/** Where the last zone is kept so the edge answers at boot with every primary down. */
export interface ZoneStore {
  load(origin: string): Promise<{ zone: PolicyZone; savedAtMs: number } | undefined>;
  save(zone: PolicyZone): Promise<void>;
}

export type CheckResult = 'changed' | 'unchanged' | 'failed';

export interface SecondaryObserver {
  checked(result: CheckResult): void;
  transferred(kind: 'axfr' | 'ixfr', result: 'ok' | 'failed'): void;
  serial(serial: number): void;
  /** A received zone was refused (zone-guard.ts) and not installed. */
  refused(reason: RefusalCode): void;
  /** A log line about an ignored NOTIFY was dropped (over the log budget). */
  logSuppressed?(): void;
}

export interface SecondaryOptions {
  readonly config: PrimariesConfig;
  readonly calls: XfrCalls;
  readonly store: ZoneStore | undefined;
  readonly observer: SecondaryObserver;
  readonly logger: Logger;
  /**
   * A new zone to answer from (a transfer, or the saved zone at boot), with its table inputs and
   * TTL; the promise settles once its table answers (the secondary reports the serial then).
   */
  readonly onZone: (zone: PolicyZone, table: ZoneTableBuild) => void | Promise<void>;
  readonly nowMs?: () => number;
  /** NOTIFY-started checks are at least this far apart; default NOTIFY_CHECK_INTERVAL_MS. */
  readonly notifyCheckIntervalMs?: number;
  /**
   * Runs the work from a complete transfer to table inputs (assembly, IXFR apply, conversion,
   * the guard) a slice per turn, so queries are answered meanwhile; DEFAULT_SLICER unless given.
   */
  readonly slicer?: Slicer;
}

/**
 * An accepted NOTIFY starts an SOA check at most this often (RFC 1996 §4.4 leaves the rate to the
 * secondary): NOTIFYs within the interval after a check started (replayed, or a burst of serials)
 * are counted and folded into one check at the end of it, so a flood of valid NOTIFYs costs the
 * primaries at most one SOA query per interval.
 */
export const NOTIFY_CHECK_INTERVAL_MS = 2000;

/** Without a refresh setting or an SOA yet. */
const FALLBACK_REFRESH_MS = 60_000;
/** ± this share of the interval, so a fleet does not poll its hubs in lockstep. */
const JITTER_SHARE = 0.1;

interface Attempt {
  atMs: number;
  result: CheckResult;
  primary: string | null;
  error: string | null;
}

interface Refusal {
  atMs: number;
  primary: string | null;
  serial: number;
  reason: string;
}

interface TransferDone {
  atMs: number;
  kind: 'axfr' | 'ixfr';
  serial: number;
  primary: string;
}

/**
 * The edge's table source in fleet mode (RFC 1996/1995/5936, the secondary side): check the
 * primaries' SOA every refresh or on an accepted NOTIFY, transfer when their serial is newer
 * (IXFR first, AXFR when IXFR cannot be applied), try the primaries in order, back off when all
 * fail, and hand every new zone over whole. The last zone is kept in state_dir and answered at
 * boot; it is never dropped for age (an expired RPZ would bring back the public 100.64/10 answers).
 */
export class Secondary {
  private config: PrimariesConfig;
  private zone: PolicyZone | undefined;
  private zoneLoadedAtMs: number | undefined;
  private lastSuccessMs: number | undefined;
  private lastAttempt: Attempt | undefined;
  private lastTransfer: TransferDone | undefined;
  private failures = 0;
  /** The names of the installed zone, for primaries.max_drop. */
  private names: ReadonlySet<string> | undefined;
  /** Bumped when a reload changes the zone name: an install under way for the old one is dropped. */
  private generation = 0;
  private lastRefusal: Refusal | undefined;
  /** Per primary, the serial whose zone was refused. */
  private readonly refusedSerials = new Map<string, number>();
  /** SIGUSR2: the next check transfers the whole zone from the freshest primary, whatever its serial. */
  private forceNext = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** When the last check started (-Infinity: none yet). */
  private lastCheckStartMs = -Infinity;
  /** A NOTIFY-started check is waiting for the interval to pass (its timer is `timer`). */
  private notifyDeferred = false;
  /** Aborts the check in flight at shutdown: its sockets close at once, whatever they wait on. */
  private readonly abort = new AbortController();
  /** NOTIFYs we ignore are logged within a budget: anyone can send them. */
  private readonly ignoredNotifies: LogBudget;

  constructor(private readonly options: SecondaryOptions) {
    this.config = options.config;
    this.ignoredNotifies = new LogBudget(options.logger, () => options.observer.logSuppressed?.());
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  get origin(): string {
    return this.config.zone;
  }

  /** Loads the saved zone (answered at once), then checks the primaries and keeps checking. */
  async start(): Promise<void> {
    const store = this.options.store;
    if (store) {
      try {
        const saved = await store.load(this.origin);
        if (saved) {
          await this.install(saved.zone, false, 'state_dir');
          this.zoneLoadedAtMs = saved.savedAtMs;
          this.options.logger.info({ zone: this.origin, serial: saved.zone.serial, savedAt: new Date(saved.savedAtMs).toISOString() }, 'answering from the saved zone until a primary answers');
        }
      } catch (err) {
        this.options.logger.warn({ err: describeError(err) }, 'ignoring the saved zone');
      }
    }
    this.checkNow('start');
  }

  reconfigure(next: PrimariesConfig): void {
    const zoneChanged = next.zone !== this.config.zone;
    this.config = next;
    if (zoneChanged) {
      this.generation++;
      this.zone = undefined;
      this.names = undefined;
      this.lastSuccessMs = undefined;
      this.zoneLoadedAtMs = undefined;
      void this.start();
      return;
    }
    this.checkNow('reload');
  }

  /**
   * An operator's SIGUSR2: the next check takes the whole zone from the freshest primary whatever
   * its serial (a primary that pushed the serial far ahead, or a large removal max_drop held back).
   */
  retransfer(): void {
    this.forceNext = true;
    this.options.logger.info({ zone: this.origin }, 'full transfer from the freshest primary requested');
    this.checkNow('retransfer');
  }

  /** Runs a check now, or right after the one in progress. */
  checkNow(reason: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.notifyDeferred = false;
    this.lastCheckStartMs = this.now();
    this.options.logger.debug({ zone: this.origin, reason }, 'checking the primaries');
    this.running = this.check().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.checkAfterInterval();
      } else this.schedule();
    });
  }

  /**
   * A NOTIFY's check: now when none ran within the interval; otherwise one check when the interval
   * ends (or after the check in flight), however many NOTIFYs come meanwhile.
   */
  private checkAfterInterval(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const waitMs = this.lastCheckStartMs + this.notifyIntervalMs() - this.now();
    if (waitMs <= 0) {
      this.checkNow('notify');
      return;
    }
    if (this.notifyDeferred) return;
    if (this.timer) clearTimeout(this.timer);
    this.notifyDeferred = true;
    this.timer = setTimeout(() => this.checkNow('notify'), waitMs);
    this.timer.unref?.();
  }

  private notifyIntervalMs(): number {
    return this.options.notifyCheckIntervalMs ?? NOTIFY_CHECK_INTERVAL_MS;
  }

  /** A NOTIFY arrived: accepted only for our zone, from a configured primary, signed when we have a key. */
  notified(zone: string, client: ClientAddress, keyName: string | undefined): 'accepted' | 'refused' | 'notauth' | 'unknown-zone' {
    if (zone !== this.origin) return 'unknown-zone';
    if (!this.isPrimary(client.address)) {
      this.ignoredNotifies.write('warn', { zone, from: client.address }, 'NOTIFY from a host that is not one of our primaries: ignored');
      return 'refused';
    }
    if (this.config.key && keyName !== this.config.key.name) {
      this.ignoredNotifies.write('warn', { zone, from: client.address }, 'NOTIFY without our TSIG key: ignored');
      return 'notauth';
    }
    this.checkAfterInterval();
    return 'accepted';
  }

  isPrimary(address: string): boolean {
    return this.config.servers.some((s) => sameAddress(s.host, address));
  }

  private refreshMs(): number {
    if (this.config.refreshMs !== null) return this.config.refreshMs;
    return this.zone ? zoneSoaFields(this.zone).refreshS * 1000 : FALLBACK_REFRESH_MS;
  }

  private schedule(): void {
    if (this.stopped) return;
    const refresh = this.refreshMs();
    const base = this.failures === 0 ? refresh : Math.min(this.config.retryMs * 2 ** (this.failures - 1), refresh);
    const delay = base * (1 - JITTER_SHARE + Math.random() * 2 * JITTER_SHARE);
    this.timer = setTimeout(() => this.checkNow('refresh'), Math.max(delay, 100));
    this.timer.unref?.();
  }

  /**
   * Asks every primary's SOA at once and transfers from the freshest one that is newer than our
   * zone, then the next freshest if that fails: one hub that is stale, empty or unreachable never
   * decides what an edge holds while another has fresher data.
   */
  private async check(): Promise<void> {
    const force = this.forceNext;
    this.forceNext = false;
    const key = this.config.key ?? undefined;
    const timeoutMs = this.config.timeoutMs;
    const signal = this.abort.signal;
    const asked = await Promise.all(this.config.servers.map(async (server) => {
      try {
        const soa = await this.options.calls.querySoa(server, this.origin, { ...(key ? { key } : {}), timeoutMs, signal });
        return { server, serial: soa.serial, error: undefined };
      } catch (err) {
        return { server, serial: undefined, error: `${formatHostPort(server)}: ${describeError(err)}` };
      }
    }));
    if (this.stopped) return; // abandoned at shutdown: not a failure of the primaries
    const answered = asked.filter((a): a is { server: HostPort; serial: number; error: undefined } => a.serial !== undefined);
    const errors = asked.flatMap((a) => (a.error ? [a.error] : []));
    // Freshest first (serial arithmetic, RFC 1982); ties keep the configured order.
    const freshest = [...answered].sort((x, y) => (serialGt(y.serial, x.serial) ? 1 : serialGt(x.serial, y.serial) ? -1 : 0));
    // A serial refused from a primary is not transferred again from it (its zone would be refused again) unless forced.
    const candidates = force
      ? freshest.slice(0, 1)
      : freshest.filter((a) => (!this.zone || serialGt(a.serial, this.zone.serial)) && this.refusedSerials.get(formatHostPort(a.server)) !== a.serial);
    let result: CheckResult | undefined = answered.length > 0 && candidates.length === 0 ? 'unchanged' : undefined;
    let primary = freshest[0] ? formatHostPort(freshest[0].server) : null;
    let allRefused = candidates.length > 0;
    for (const c of candidates) {
      primary = formatHostPort(c.server);
      try {
        result = await this.transferFrom(c.server, force);
        break;
      } catch (err) {
        if (this.stopped) return;
        if (isPldnsError(err, 'ZONE_REFUSED')) this.noteRefusal(primary, c.serial, err);
        else allRefused = false;
        errors.push(`${primary}: ${describeError(err)}`);
      }
    }
    // Every newer zone was refused: the primaries answered, and ours is still the best we can take.
    if (result === undefined && allRefused && this.zone) result = 'unchanged';
    if (result !== undefined) {
      this.failures = 0;
      this.lastSuccessMs = this.now();
      if (this.lastAttempt?.result === 'failed') this.options.logger.info({ zone: this.origin, primary, serial: this.zone?.serial }, 'primaries reachable again');
      this.lastAttempt = { atMs: this.now(), result, primary, error: errors.length > 0 ? errors.join('; ') : null };
      this.options.observer.checked(result);
      return;
    }
    this.failures++;
    this.lastAttempt = { atMs: this.now(), result: 'failed', primary: null, error: errors.join('; ') };
    this.options.observer.checked('failed');
    const log = this.failures === 1 ? this.options.logger.warn.bind(this.options.logger) : this.options.logger.debug.bind(this.options.logger);
    log({ zone: this.origin, failures: this.failures, errors, serial: this.zone?.serial ?? null }, 'no primary gave a newer zone we could take; keeping the zone we have');
  }

  private noteRefusal(primary: string, serial: number, err: PldnsErrorOf<'ZONE_REFUSED'>): void {
    const reason = err.message.replace(/^\S+ zone "[^"]*": /, '');
    this.refusedSerials.set(primary, serial);
    this.lastRefusal = { atMs: this.now(), primary, serial, reason };
    this.options.observer.refused((err.details?.refusal ?? 'records') as RefusalCode);
    this.options.logger.warn({ zone: this.origin, serial, primary, reason, keeping: this.zone?.serial ?? null }, 'zone refused; keeping the current one');
  }

  /** IXFR from our serial (AXFR when that cannot be applied), or AXFR alone when forced or without a zone. */
  private async transferFrom(server: HostPort, force: boolean): Promise<CheckResult> {
    const { calls } = this.options;
    const key = this.config.key ?? undefined;
    const opts = { ...(key ? { key } : {}), timeoutMs: this.config.timeoutMs, maxRecords: this.config.maxRecords, signal: this.abort.signal };
    const primary = formatHostPort(server);
    if (this.zone && !force) {
      try {
        const outcome = await calls.transferZone(server, this.origin, { ...opts, currentSerial: this.zone.serial });
        const applied = await this.applyOutcome(outcome, primary, false);
        if (applied !== undefined) return applied;
      } catch (err) {
        if (this.stopped || isPldnsError(err, 'ZONE_REFUSED')) throw err;
        this.options.observer.transferred('ixfr', 'failed');
        // Refused or badly signed: an AXFR from the same primary would be too. Anything else (a
        // change that does not apply, a malformed answer) gets a fresh start with the whole zone.
        if (isPldnsError(err, 'XFR_REFUSED') || isPldnsError(err, 'XFR_BAD_TSIG') || isPldnsError(err, 'XFR_TIMEOUT')) throw err;
        this.options.logger.warn({ zone: this.origin, primary, err: describeError(err) }, 'IXFR failed; falling back to AXFR');
      }
    }
    const full = await calls.transferZone(server, this.origin, opts);
    return (await this.applyOutcome(full, primary, force)) ?? 'unchanged';
  }

  /** Installs what a transfer brought; undefined when an IXFR answer needs an AXFR after all. */
  private async applyOutcome(outcome: TransferResult, primary: string, force: boolean): Promise<CheckResult | undefined> {
    if (outcome.kind === 'uptodate') return 'unchanged';
    if (outcome.kind === 'ixfr') {
      const held = this.zone;
      if (!held) return undefined;
      const next = await this.slicer.run((budget) => applyChangesInSlices(held, outcome.changes, budget));
      await this.install(next, true, primary);
      this.options.observer.transferred('ixfr', 'ok');
      this.lastTransfer = { atMs: this.now(), kind: 'ixfr', serial: next.serial, primary };
      return 'changed';
    }
    const next = await this.slicer.run((budget) => zoneFromTransferInSlices(this.origin, outcome.records, budget));
    if (this.zone && !force && !serialGt(next.serial, this.zone.serial) && next.serial !== this.zone.serial) {
      // A primary behind the one we last used: keep the newer data.
      this.options.logger.info({ zone: this.origin, primary, theirs: next.serial, ours: this.zone.serial }, 'primary serves an older serial; keeping ours');
      return 'unchanged';
    }
    await this.install(next, true, primary, force);
    this.options.observer.transferred('axfr', 'ok');
    this.lastTransfer = { atMs: this.now(), kind: 'axfr', serial: next.serial, primary };
    return 'changed';
  }

  /**
   * Judges a zone (zone-guard.ts) and answers from it; throws ZONE_REFUSED (the current zone stays)
   * otherwise. The zone becomes ours once its table answers.
   */
  private async install(zone: PolicyZone, save: boolean, primary: string, force = false): Promise<void> {
    const previous = this.zone;
    const current = this.names;
    const generation = this.generation;
    const { built, verdict } = await this.slicer.run((budget) => judgedTable(zone, current, this.config, force, budget));
    if (generation !== this.generation) return;
    if (!verdict.ok) throw new PldnsError('ZONE_REFUSED', verdict.reason, { details: { server: primary, zone: zone.origin, refusal: verdict.code } });
    if (built.ignored > 0) this.options.logger.warn({ zone: zone.origin, ignored: built.ignored, samples: built.ignoredSamples }, 'zone records not used');
    if (verdict.outside > 0) this.options.logger.warn({ zone: zone.origin, primary, names: verdict.outside, samples: verdict.outsideSamples }, 'zone names outside primaries.managed not taken');
    await this.options.onZone(zone, { ...built, inputs: verdict.inputs });
    if (generation !== this.generation) return;
    this.zone = zone;
    this.names = verdict.names;
    this.options.observer.serial(zone.serial);
    if (previous) this.options.logger.info({ zone: zone.origin, from: previous.serial, to: zone.serial, names: built.inputs.length }, 'zone updated from the primaries');
    else if (save) this.options.logger.info({ zone: zone.origin, serial: zone.serial, names: built.inputs.length }, 'zone received from the primaries');
    if (save && this.options.store) {
      this.options.store.save(zone).catch((err) => this.options.logger.error({ err: describeError(err) }, 'could not save the zone; the previous copy is kept'));
    }
  }

  /** When the zone was last known current: the last successful check, else when the saved zone was loaded. */
  get confirmedAtMs(): number | undefined {
    return this.zone ? (this.lastSuccessMs ?? this.zoneLoadedAtMs) : undefined;
  }

  private get slicer(): Slicer {
    return this.options.slicer ?? DEFAULT_SLICER;
  }

  /** Why the edge should not take traffic (empty: ready). */
  notReadyReasons(nowMs: number): string[] {
    if (!this.zone) return [`no zone ${this.origin} from any primary yet${this.lastAttempt?.error ? ` (last error: ${this.lastAttempt.error})` : ''}`];
    const since = this.lastSuccessMs ?? this.zoneLoadedAtMs;
    if (since === undefined || nowMs - since > this.config.maxStaleMs) {
      const age = since === undefined ? 'never' : `${Math.round((nowMs - since) / 1000)}s ago`;
      return [`zone ${this.origin}: last successful check ${age}, over primaries.max_stale (answering from serial ${this.zone.serial})`];
    }
    return [];
  }

  status(): Record<string, unknown> {
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      source: 'transfer',
      zone: this.origin,
      serial: this.zone?.serial ?? null,
      records: this.zone?.records.length ?? 0,
      primaries: this.config.servers.map(formatHostPort),
      primary: this.lastTransfer?.primary ?? this.lastAttempt?.primary ?? null,
      lastCheck: this.lastAttempt ? { time: iso(this.lastAttempt.atMs), result: this.lastAttempt.result, primary: this.lastAttempt.primary, error: this.lastAttempt.error } : null,
      lastSuccessfulCheck: iso(this.lastSuccessMs),
      lastTransfer: this.lastTransfer ? { time: iso(this.lastTransfer.atMs), kind: this.lastTransfer.kind, serial: this.lastTransfer.serial, primary: this.lastTransfer.primary } : null,
      consecutiveFailures: this.failures,
      names: this.names?.size ?? 0,
      lastRefusal: this.lastRefusal ? { time: iso(this.lastRefusal.atMs), primary: this.lastRefusal.primary, serial: this.lastRefusal.serial, reason: this.lastRefusal.reason } : null,
    };
  }

  /** Abandons the check or transfer in flight (its connection closes now) and stops checking. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }
}

/** Compares an address as configured with one as a socket reports it (IPv4-mapped IPv6 included). */
function sameAddress(configured: string, seen: string): boolean {
  const strip = (a: string): string => a.replace(/^::ffff:/i, '').toLowerCase();
  return strip(configured) === strip(seen);
}

/** A zone's table inputs and the guard's verdict on them. */
function* judgedTable(
  zone: PolicyZone,
  current: ReadonlySet<string> | undefined,
  config: PrimariesConfig,
  force: boolean,
  budget: SliceBudget,
): Sliced<{ built: ZoneTableBuild; verdict: ZoneVerdict }> {
  const built = yield* policyZoneToTableInputsInSlices(zone, budget);
  const verdict = yield* judgeZoneInSlices(zone.records.length, built.inputs, current, config, force, budget);
  return { built, verdict };
}
