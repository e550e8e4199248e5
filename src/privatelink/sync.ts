import { createHash } from 'node:crypto';
import type nodeCron from 'node-cron';
import { syncSchedule } from '../config/cron-schedule';
import type { Config } from '../config/schema';
import { PldnsError, type ErrorCode } from '../errors';
import type { Logger } from '../runtime/log';
import type { TableEntryInput } from '../resolve/table';
import type { PrivateLinkApi } from './api-types';
import { toPldnsError } from './api-errors';
import { CallWindow } from './call-window';
import { fetchEntries, type FetchObserver, type PlannedEntry } from './fetch';
import { alignToConfig, type EntryState, type SyncResult, type SyncState } from './model';
import { buildTableInputs, type TableProblem } from './table-builder';

export type SyncerConfig = Pick<Config, 'region' | 'privatelink' | 'records'>;

/**
 * Returns the API client for a sync. Called at the start of every sync; `rebuild` is true after a
 * sync failed on credentials or auth, so the app can build a fresh credential chain and client
 * (the default chain sticks to the provider it last tried).
 */
export type ApiProvider = (options: { rebuild: boolean }) => PrivateLinkApi;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ScheduledJob {
  stop(): void;
}
/** Calls `tick` on the cron schedule until stopped. The default is node-cron. */
export type Scheduler = (expression: string, tick: () => void, logger: Logger) => ScheduledJob;

export interface StateInfo {
  /** False when only sync metadata (attempt, staleness, errors) changed, not the answers. */
  tableChanged: boolean;
  reason: 'sync' | 'reconfigure';
}

/** What the sync loop reports; the metrics room implements it, one-shot commands pass `noSyncObserver`. */
export interface SyncObserver extends FetchObserver {
  synced(result: SyncResult, durationMs: number, startedAtMs: number): void;
  /** Usable IPs of every configured entry: the complete set, so entries not listed have been removed. */
  usableIps(byEntry: ReadonlyMap<string, number>): void;
  staleEntries(count: number): void;
  tableAge(seconds: number): void;
}

export const noSyncObserver: SyncObserver = {
  apiCall: () => {},
  synced: () => {},
  usableIps: () => {},
  staleEntries: () => {},
  tableAge: () => {},
};

export interface SyncerOptions {
  api: ApiProvider;
  config: SyncerConfig;
  observer: SyncObserver;
  logger: Logger;
  /** E.g. from the snapshot; aligned to the configured entries. */
  initialState?: SyncState;
  /** Called after every sync and reload with the complete new state and table inputs. */
  onState: (state: SyncState, inputs: TableEntryInput[], info: StateInfo) => void;
  clock?: Clock;
  /** [0, 1), for jitter and backoff; injectable so tests are deterministic. */
  random?: () => number;
  scheduler?: Scheduler;
  /** Listings (and then zone listings) fetched at the same time. */
  concurrency?: number;
  /** First backoff cap; doubles per consecutive failure up to privatelink.maxBackoffMs. */
  backoffBaseMs?: number;
  /** Guard for one listing's calls together (a hung request must not block every later sync). */
  entryTimeoutMs?: number;
}

export interface SyncOutcome {
  result: SyncResult;
  state: SyncState;
  inputs: TableEntryInput[];
  problems: TableProblem[];
  errors: { entryId: string; code: string; message: string; details?: Record<string, unknown> }[];
}

// Failures that mean "ask less often"; auth or not-found errors would not get better by waiting. A
// missing RAM policy (PL_FORBIDDEN) will not fix itself within seconds either: asking every refresh
// would only spend the account's quota.
const BACKOFF_CODES: ReadonlySet<string> = new Set<ErrorCode>(['PL_THROTTLED', 'PL_SERVER', 'PL_NETWORK', 'PL_FORBIDDEN']);
/** First wait after a PL_FORBIDDEN; doubles per consecutive failure up to privatelink.maxBackoffMs. */
export const FORBIDDEN_BACKOFF_BASE_MS = 60_000;

/** Successful unchanged syncs log at debug; at least one info line this often says all is well. */
const HEARTBEAT_MS = 3_600_000;
const REBUILD_CODES: ReadonlySet<string> = new Set<ErrorCode>(['PL_AUTH', 'PL_CREDENTIALS']);

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export const cronScheduler: Scheduler = (expression, tick, logger) => {
  const log = logger.child({ component: 'cron' });
  // Required here, once the daemon answers: the first sync starts without it.
  const cron: typeof nodeCron = require('node-cron');
  const task = cron.schedule(expression, () => tick(), {
    name: 'privatelink-sync',
    logger: {
      info: (m) => log.debug(m),
      warn: (m) => log.debug(m), // missed ticks are expected while the event loop was busy
      error: (m, e) => log.error({ err: e }, String(m)),
      debug: (m) => log.debug(String(m)),
    },
  });
  return { stop: () => void task.destroy() };
};

/**
 * Keeps the sync state current: one sync at a time, on a cron schedule with jitter, backing off
 * after throttling and server or network errors. A failed entry keeps its previous data, marked
 * stale; it never turns into "no IPs".
 */
export class Syncer {
  private config: SyncerConfig;
  private apiProvider: ApiProvider;
  private readonly observer: SyncObserver;
  private readonly log: Logger;
  private readonly onState: SyncerOptions['onState'];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly scheduler: Scheduler;
  private readonly concurrency: number;
  private readonly backoffBaseMs: number;
  private readonly entryTimeoutMs: number | undefined;

  private state: SyncState;
  private running: Promise<SyncOutcome> | undefined;
  private job: ScheduledJob | undefined;
  private pendingRun: unknown;
  /** When the pending jittered run fires (clock ms). */
  private pendingDueMs = 0;
  /** The jitter cap of `scheduleFor`'s config: computed at the first tick, not at start (no node-cron before the first answer). */
  private scheduleFor: { config: SyncerConfig; jitterMs: number } | undefined;
  private started = false;
  private rebuildApi = false;
  private backoffAttempts = 0;
  private backoffUntilMs = 0;
  /** Digest of the last table's inputs as JSON: whether a sync changed the table (the JSON itself is ~100 B a name). */
  private lastInputsDigest = '';
  private lastProblems = new Set<string>();
  private backoffReason: BackoffReason | undefined;
  /** After throttling: the one retry, at a random time on the scale of the schedule. */
  private retryTimer: unknown;
  private nextAttemptMs: number | undefined;
  private readonly callWindow = new CallWindow();
  private runningSyncCalls: Record<string, number> = {};
  private lastSyncCalls: Record<string, number> = {};
  /** Consecutive syncs that were not a full success, for the "recovered" line. */
  private failedSyncs = 0;
  /** When a sync last logged at info, and the successful syncs logged at debug since. */
  private lastInfoAtMs: number | undefined;
  private quietSyncs = 0;
  /** The addresses last published, per entry id, for the old → new lines. */
  private lastAddresses: Map<string, TableEntryInput> | undefined;
  private lastBuild: { state: SyncState; config: SyncerConfig; built: { inputs: TableEntryInput[]; problems: TableProblem[] } } | undefined;

  constructor(options: SyncerOptions) {
    this.config = options.config;
    this.apiProvider = options.api;
    // Every API call is also counted for /status (last minute, last sync) on its way to the metrics.
    const outer = options.observer;
    this.observer = {
      ...outer,
      apiCall: (action, result) => {
        this.callWindow.record(action, this.clock.now());
        this.runningSyncCalls[action] = (this.runningSyncCalls[action] ?? 0) + 1;
        outer.apiCall(action, result);
      },
    };
    this.log = options.logger.child({ component: 'sync' });
    this.onState = options.onState;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.scheduler = options.scheduler ?? cronScheduler;
    this.concurrency = options.concurrency ?? 4;
    this.backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.entryTimeoutMs = options.entryTimeoutMs;
    this.state = alignToConfig(options.initialState, this.config.records.entries);
    const initial = this.build().inputs;
    this.lastInputsDigest = inputsDigest(initial);
    this.lastAddresses = new Map(initial.map((i) => [i.id, i]));
  }

  /** The state and table now, e.g. to build the first table from the snapshot before any sync. */
  current(): { state: SyncState; inputs: TableEntryInput[]; problems: TableProblem[] } {
    return { state: this.state, ...this.build() };
  }

  /**
   * For /status and tests: consecutive backoff-worthy failures, when scheduled syncs resume, why
   * (a denial with the policy that denied it), and after throttling when the retry runs.
   */
  backoff(): { attempts: number; untilMs: number; reason?: BackoffReason; nextAttemptMs?: number } {
    return {
      attempts: this.backoffAttempts,
      untilMs: this.backoffUntilMs,
      ...(this.backoffReason ? { reason: this.backoffReason } : {}),
      ...(this.nextAttemptMs !== undefined ? { nextAttemptMs: this.nextAttemptMs } : {}),
    };
  }

  /** For /status: API calls in the last 60 s and in the last finished sync, `{ total, <Action>: n }`. */
  apiCalls(): { lastMinute: Record<string, number>; lastSync: Record<string, number> } {
    const lastSync = { total: Object.values(this.lastSyncCalls).reduce((a, b) => a + b, 0), ...this.lastSyncCalls };
    return { lastMinute: this.callWindow.lastMinute(this.clock.now()), lastSync };
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Runs one sync now. While one is running, returns that sync's promise instead of starting a
   * second: callers (CLI, schedule, reload) all just want fresh data, and SYNC_BUSY would only
   * make each of them retry.
   */
  syncOnce(): Promise<SyncOutcome> {
    if (this.running) return this.running;
    const run = this.runSync().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Immediate first sync, then the cron schedule. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.job = this.scheduler(this.config.privatelink.refresh, () => this.tick(false), this.log);
    this.tick(true);
  }

  /** Stops the schedule and waits for a running sync to finish. */
  async stop(): Promise<void> {
    this.started = false;
    this.job?.stop();
    this.job = undefined;
    if (this.pendingRun !== undefined) this.clock.clearTimeout(this.pendingRun);
    this.pendingRun = undefined;
    this.cancelRetry();
    await this.running?.catch(() => undefined);
  }

  /**
   * Applies a reloaded config: entries with the same id keep their data (with the new names), new
   * entries start empty and trigger a sync, a changed schedule is re-armed. A running sync finishes
   * with the config it started with; its result is aligned to the new entries.
   */
  reconfigure(config: SyncerConfig, options: { api?: ApiProvider } = {}): void {
    const regionChanged = config.region !== this.config.region;
    const scheduleChanged = config.privatelink.refresh !== this.config.privatelink.refresh;
    const jitterChanged = config.privatelink.jitterMs !== this.config.privatelink.jitterMs;
    const known = new Set(this.state.entries.map((e) => e.id));
    this.config = config;
    if (options.api) this.apiProvider = options.api;
    // Data from another region describes other endpoints: start over rather than answer with it.
    this.state = alignToConfig(regionChanged ? { entries: [], ...this.attemptInfo() } : this.state, config.records.entries);
    if (this.started && scheduleChanged) {
      this.job?.stop();
      this.job = this.scheduler(config.privatelink.refresh, () => this.tick(false), this.log);
    }
    // The new schedule applies at once: a run still waiting out the old jitter waits no longer than the new one allows.
    if (this.started && this.pendingRun !== undefined && (scheduleChanged || jitterChanged)) {
      const capMs = this.jitterCapMs();
      if (this.pendingDueMs - this.clock.now() > capMs) {
        this.clock.clearTimeout(this.pendingRun);
        this.pendingRun = undefined;
        this.armRun(Math.floor(this.random() * capMs));
      }
    }
    this.publish('reconfigure');
    const added = this.state.entries.some((e) => e.kind !== 'static' && !known.has(e.id));
    if (this.started && (added || regionChanged)) this.tick(true);
  }

  private attemptInfo(): Omit<SyncState, 'entries'> {
    const { entries: _entries, ...rest } = this.state;
    return rest;
  }

  private tick(immediate: boolean): void {
    if (!this.started) return;
    this.updateAgeMetric();
    if (this.running || this.pendingRun !== undefined) {
      this.log.debug('sync still running; tick skipped');
      return;
    }
    const now = this.clock.now();
    if (now < this.backoffUntilMs) {
      this.log.debug({ resumeInMs: this.backoffUntilMs - now, attempts: this.backoffAttempts }, 'backing off; tick skipped');
      return;
    }
    // A fresh draw per run (not a fixed offset) so replicas never fall into step by chance; capped
    // below the interval so the run is over before the next tick and never makes it skip.
    this.armRun(immediate ? 0 : Math.floor(this.random() * this.jitterCapMs()));
  }

  private armRun(delayMs: number): void {
    this.pendingDueMs = this.clock.now() + delayMs;
    this.pendingRun = this.clock.setTimeout(() => {
      this.pendingRun = undefined;
      if (!this.started) return;
      this.syncOnce().catch((err) => this.log.error({ err }, 'sync crashed'));
    }, delayMs);
  }

  /** The most a scheduled sync waits after its tick: privatelink.jitter, capped at a share of the interval. */
  private jitterCapMs(): number {
    if (this.scheduleFor?.config !== this.config) {
      const { refresh, jitterMs } = this.config.privatelink;
      const schedule = syncSchedule(refresh, jitterMs);
      if (schedule.jitterMs < jitterMs) {
        this.log.info({ refresh, jitterMs, effectiveJitterMs: schedule.jitterMs }, 'privatelink.jitter is capped at half the interval, so no tick is skipped');
      }
      this.scheduleFor = { config: this.config, jitterMs: schedule.jitterMs };
    }
    return this.scheduleFor.jitterMs;
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    const ms = this.entryTimeoutMs ?? this.config.privatelink.timeoutMs * 6;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new PldnsError('PL_NETWORK', `${what}: no answer within ${ms}ms`)), ms);
      promise.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private async runSync(): Promise<SyncOutcome> {
    const config = this.config;
    const entries = config.records.entries;
    const startedAtMs = this.clock.now();
    const previous = alignToConfig(this.state, entries);
    const errors: SyncOutcome['errors'] = [];
    const failures: { entry: string; code: ErrorCode; err: string; ageMs: number | null }[] = [];
    this.runningSyncCalls = {};

    let api: PrivateLinkApi | undefined;
    let apiError: PldnsError | undefined;
    try {
      api = this.apiProvider({ rebuild: this.rebuildApi });
    } catch (err) {
      apiError = toPldnsError(err);
    }

    // The cloud entries, each with the VPC its endpoint was last seen in: one listing per VPC.
    const cloudIndexes = entries.flatMap((e, i) => (e.kind === 'static' ? [] : [i]));
    const planned = cloudIndexes.map((i): PlannedEntry => {
      const entry = entries[i] as PlannedEntry['entry'];
      const knownVpcId = (previous.entries[i] as EntryState).endpoint?.vpcId;
      return knownVpcId ? { entry, knownVpcId } : { entry };
    });
    const fetched: (EntryState | PldnsError)[] = api
      ? await fetchEntries({ api, regionId: config.region, observer: this.observer, now: () => this.clock.now() }, planned, {
          concurrency: this.concurrency,
          guard: (work, what) => this.withTimeout(work, what),
        })
      : planned.map(() => apiError ?? new PldnsError('PL_CREDENTIALS', 'no API client'));
    const byIndex = new Map(cloudIndexes.map((entryIndex, k) => [entryIndex, fetched[k] as EntryState | PldnsError]));

    const next = entries.map((_entry, i): EntryState => {
      const prev = previous.entries[i] as EntryState;
      const result = byIndex.get(i);
      if (result === undefined) return prev; // static
      if (!(result instanceof PldnsError)) return result;
      const e = result;
      errors.push({ entryId: prev.id, code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) });
      failures.push({ entry: prev.id, code: e.code, err: e.message, ageMs: prev.fetchedAtMs === undefined ? null : this.clock.now() - prev.fetchedAtMs });
      return { ...prev, stale: true, lastError: { code: e.code, message: e.message, atMs: this.clock.now() } };
    });

    const cloud = entries.filter((e) => e.kind !== 'static').length;
    const result: SyncResult = errors.length === 0 ? 'success' : errors.length < cloud ? 'partial' : 'failure';
    const durationMs = this.clock.now() - startedAtMs;
    const firstError = errors[0];
    const state: SyncState = {
      entries: next,
      lastAttempt: { startedAtMs, durationMs, result, ...(firstError ? { error: { code: firstError.code, message: firstError.message } } : {}) },
    };
    const lastSuccessMs = result === 'success' ? startedAtMs : this.state.lastSuccessMs;
    if (lastSuccessMs !== undefined) state.lastSuccessMs = lastSuccessMs;

    // The config may have been reloaded while we were fetching.
    this.state = this.config === config ? state : alignToConfig(state, this.config.records.entries);
    this.rebuildApi = errors.some((e) => REBUILD_CODES.has(e.code));
    this.updateBackoff(errors);
    this.lastSyncCalls = this.runningSyncCalls;
    this.observer.synced(result, durationMs, startedAtMs);
    this.logOutcome(result, durationMs, entries.length, failures);
    const built = this.publish('sync');
    return { result, state: this.state, inputs: built.inputs, problems: built.problems, errors };
  }

  /**
   * One line per sync: a failed or partial one carries every failed entry inside it (so a
   * hundred failing endpoints are one line, not a hundred); the first success after failures
   * says so at info, ordinary successes stay at debug.
   */
  private logOutcome(result: SyncResult, durationMs: number, entries: number, failures: readonly Record<string, unknown>[]): void {
    const calls = Object.values(this.lastSyncCalls).reduce((a, b) => a + b, 0);
    if (result !== 'success') {
      this.failedSyncs++;
      const message = result === 'failure' ? 'sync failed; the previous data stays' : 'sync partly failed; failed entries keep their previous data';
      this.log.warn({ result, durationMs, entries, calls, failed: failures.length, consecutiveFailures: this.failedSyncs, failures }, message);
      return;
    }
    const now = this.clock.now();
    if (this.failedSyncs > 0) this.log.info({ result, durationMs, entries, calls, afterFailedSyncs: this.failedSyncs }, 'sync recovered');
    else if (this.lastInfoAtMs === undefined || now - this.lastInfoAtMs >= HEARTBEAT_MS) {
      // A heartbeat: unchanged successful syncs stay at debug, but one line an hour says all is well.
      this.log.info({ result, durationMs, entries, calls, syncsSinceLastLine: this.quietSyncs + 1 }, 'sync finished; all is well');
    } else {
      this.quietSyncs++;
      this.log.debug({ result, durationMs, entries, calls }, 'sync finished');
      this.failedSyncs = 0;
      return;
    }
    this.lastInfoAtMs = now;
    this.quietSyncs = 0;
    this.failedSyncs = 0;
  }


  /** An entry whose addresses changed, at info: the story of a failover or a re-created endpoint. */
  private logAddressChanges(inputs: readonly TableEntryInput[]): void {
    const next = new Map(inputs.map((i) => [i.id, i]));
    const before = this.lastAddresses;
    this.lastAddresses = next;
    if (!before) return;
    for (const [id, input] of next) {
      const old = before.get(id);
      const was = old ? addressesOf(old) : [];
      const now = addressesOf(input);
      if (sameMembers(was, now)) continue;
      this.log.info({ entry: id, names: input.names, old: was, new: now }, old ? 'addresses changed' : 'entry added');
    }
    for (const [id, old] of before) {
      if (!next.has(id)) this.log.info({ entry: id, names: old.names, old: addressesOf(old), new: [] }, 'entry removed');
    }
  }

  /**
   * Full jitter: a random wait in [0, cap), cap doubling per failure. Throttling is the account's
   * quota speaking to every instance at once, so its cap starts at the schedule's interval (not a
   * second) and the wait comes on top of x-acs-retry-after: a throttled fleet spreads its retries
   * over minutes instead of retrying in step. Other errors start at backoffBaseMs.
   */
  private updateBackoff(errors: SyncOutcome['errors']): void {
    this.cancelRetry();
    const relevant = errors.filter((e) => BACKOFF_CODES.has(e.code));
    if (relevant.length === 0) {
      this.backoffAttempts = 0;
      this.backoffUntilMs = 0;
      this.backoffReason = undefined;
      return;
    }
    this.backoffAttempts = Math.min(this.backoffAttempts + 1, 40);
    const maxMs = this.config.privatelink.maxBackoffMs;
    const doubling = 2 ** (this.backoffAttempts - 1);
    const forbidden = relevant.find((e) => e.code === 'PL_FORBIDDEN');
    const throttled = forbidden ? undefined : relevant.find((e) => e.code === 'PL_THROTTLED');
    const baseMs = throttled ? scheduleIntervalMs(this.config.privatelink.refresh) : this.backoffBaseMs;
    const capMs = Math.min(maxMs, baseMs * doubling);
    const retryAfterMs = Math.min(maxMs, Math.max(0, ...relevant.map((e) => retryAfterOf(e))));
    let waitMs = throttled ? retryAfterMs + Math.floor(this.random() * capMs) : Math.max(Math.floor(this.random() * capMs), retryAfterMs);
    if (forbidden) {
      // Half fixed, half random: long enough to spare the quota, spread so a fleet does not retry in step.
      const floorMs = Math.min(maxMs, FORBIDDEN_BACKOFF_BASE_MS * doubling);
      waitMs = Math.max(waitMs, Math.floor(floorMs / 2 + this.random() * (floorMs / 2)));
    }
    const reason = forbidden ?? throttled ?? relevant[0];
    const accessDenied = reason?.details?.accessDenied;
    this.backoffReason = reason ? { code: reason.code, message: reason.message, ...(accessDenied ? { accessDenied: accessDenied as Record<string, unknown> } : {}) } : undefined;
    this.backoffUntilMs = this.clock.now() + waitMs;
    if (forbidden) {
      const fields = { attempts: this.backoffAttempts, waitMs, ramAction: forbidden.details?.ramAction, accessDenied, err: forbidden.message };
      this.log.error(fields, 'the RAM policy does not allow a PrivateLink call; backing off (the credential is kept)');
    } else if (throttled) {
      this.scheduleRetry(waitMs);
      const fields = { attempts: this.backoffAttempts, waitMs, code: throttled.code, retryAfterMs, capMs, nextAttempt: new Date(this.backoffUntilMs).toISOString() };
      this.log.info(fields, 'PrivateLink API errors; backing off');
    } else {
      this.log.info({ attempts: this.backoffAttempts, waitMs }, 'PrivateLink API errors; backing off');
    }
  }

  /** One sync at the end of a throttling wait (the scheduled ticks before it are skipped). */
  private scheduleRetry(waitMs: number): void {
    if (!this.started) return;
    this.nextAttemptMs = this.clock.now() + waitMs;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.nextAttemptMs = undefined;
      if (!this.started) return;
      this.syncOnce().catch((err) => this.log.error({ err }, 'sync crashed'));
    }, waitMs);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextAttemptMs = undefined;
  }

  /**
   * The table inputs of the current state and config, built once per pair: the state is replaced,
   * never changed in place, so the start's two builds (the address log's and the first table's)
   * are one set of objects, not two (~50 B a name on a hub of 10,000 names).
   */
  private build(): { inputs: TableEntryInput[]; problems: TableProblem[] } {
    const last = this.lastBuild;
    if (last && last.state === this.state && last.config === this.config) return last.built;
    const built = buildTableInputs(this.state.entries, this.config.records.preferZones);
    this.lastBuild = { state: this.state, config: this.config, built };
    return built;
  }

  private publish(reason: StateInfo['reason']): { inputs: TableEntryInput[]; problems: TableProblem[] } {
    const built = this.build();
    // Problems repeat every sync; log each at warn once, then only while it persists at debug.
    const keys = new Set(built.problems.map((p) => `${p.entryId}: ${p.message}`));
    for (const k of keys) (this.lastProblems.has(k) ? this.log.debug.bind(this.log) : this.log.warn.bind(this.log))({ problem: k }, 'bad item skipped');
    this.lastProblems = keys;

    this.logAddressChanges(built.inputs);
    const digest = inputsDigest(built.inputs);
    const tableChanged = digest !== this.lastInputsDigest;
    this.lastInputsDigest = digest;
    const byId = new Map(built.inputs.map((i) => [i.id, i]));
    this.observer.usableIps(new Map(this.state.entries.map((e) => {
      const input = byId.get(e.id);
      return [e.id, input ? input.ipv4.length + input.ipv6.length : 0];
    })));
    this.observer.staleEntries(this.state.entries.filter((e) => e.stale).length);
    this.updateAgeMetric();
    try {
      this.onState(this.state, built.inputs, { tableChanged, reason });
    } catch (err) {
      this.log.error({ err }, 'state listener failed');
    }
    return built;
  }

  private updateAgeMetric(): void {
    const times = this.state.entries.flatMap((e) => (e.kind !== 'static' && e.fetchedAtMs !== undefined ? [e.fetchedAtMs] : []));
    const oldest = times.length > 0 ? Math.min(...times) : undefined;
    this.observer.tableAge(oldest === undefined ? 0 : Math.max(0, (this.clock.now() - oldest) / 1000));
  }
}

/** Why syncs are backing off; a denial carries the AccessDeniedDetail (policy type and name, action). */
export interface BackoffReason {
  code: string;
  message: string;
  accessDenied?: Record<string, unknown>;
}

/** The average time between scheduled syncs (at least a second): the scale of a throttling back-off. */
export function scheduleIntervalMs(expression: string): number {
  try {
    // Required here: quota.ts loads node-cron, which the daemon loads only once it answers.
    const { cronRate } = require('./quota') as typeof import('./quota');
    const { perHour } = cronRate(expression);
    return Math.max(1000, Math.round(3_600_000 / Math.max(1, perHour)));
  } catch {
    return 60_000;
  }
}

function retryAfterOf(error: { details?: Record<string, unknown> | undefined }): number {
  const v = error.details?.retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function addressesOf(input: TableEntryInput): string[] {
  return [...input.ipv4, ...input.ipv6].sort();
}

function inputsDigest(inputs: readonly TableEntryInput[]): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}
