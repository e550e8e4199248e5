import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryConfig } from '../config/schema';
import { PldnsError, describeError, isPldnsError } from '../errors';
import type { Logger } from '../runtime/log';
import { removeStaleTempFiles as removeStaleTempFilesOf, writeFileAtomic, type AtomicWriteFs } from '../state/atomic-write';
import { alignToConfig, type EndpointInfo, type EntryState, type ErrorInfo, type SyncState, type ZoneState } from './model';

/**
 * The last good sync state on disk, so a restart answers at once even when the API is down.
 *
 * File: `{format, version, sha256, payload}` where sha256 is over JSON.stringify(payload). Written
 * to a temp file in the same directory, fsynced, renamed over snapshot.json, then the directory is
 * fsynced: a crash at any point leaves the old or the new file, never a torn one.
 */

export const SNAPSHOT_FILE = 'snapshot.json';
export const SNAPSHOT_FORMAT = 'privatelink-dns-snapshot';
export const SNAPSHOT_VERSION = 1;
/**
 * The largest snapshot a start reads (~30,000 endpoints). Parsing JSON takes several times its size
 * in memory: a larger file, whatever put it there, would take the daemon past its memory limit
 * before any check, at every restart.
 */
export const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

interface SnapshotPayload {
  savedAtMs: number;
  lastSuccessMs?: number;
  /** Cloud entries only; static entries always come from the config. */
  entries: EntryState[];
}

/** The file-system calls a save makes; replaceable so tests can fail one step. */
export type SnapshotFs = AtomicWriteFs;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export async function saveSnapshot(dir: string, state: SyncState, options: { fs?: SnapshotFs; nowMs?: number } = {}): Promise<void> {
  const payload: SnapshotPayload = {
    savedAtMs: options.nowMs ?? Date.now(),
    ...(state.lastSuccessMs !== undefined ? { lastSuccessMs: state.lastSuccessMs } : {}),
    entries: state.entries.filter((e) => e.kind !== 'static'),
  };
  const body = JSON.stringify(payload);
  const text = `${JSON.stringify({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, sha256: sha256(body), payload })}\n`;
  // A file the next start would refuse unread is no snapshot: keep the previous one instead.
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_SNAPSHOT_BYTES) {
    throw new PldnsError('SNAPSHOT_WRITE', `a table of ${bytes} bytes is over the ${MAX_SNAPSHOT_BYTES} a start reads; not written (the previous snapshot is kept)`);
  }
  await writeFileAtomic(join(dir, SNAPSHOT_FILE), text, { errorCode: 'SNAPSHOT_WRITE', ...(options.fs ? { fs: options.fs } : {}) });
}

/** Removes `.snapshot.json.<pid>.<hex>.tmp` files of writers that died mid-save (see atomic-write). */
export function removeStaleTempFiles(dir: string): Promise<string[]> {
  return removeStaleTempFilesOf(dir, SNAPSHOT_FILE);
}

const invalid = (file: string, why: string): PldnsError => new PldnsError('SNAPSHOT_INVALID', `${file}: ${why}`);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Picks known fields with their types; throws on anything else, so a loaded state is well-formed. */
function readFields<T>(v: unknown, fields: readonly string[], what: string): T {
  if (!isObj(v)) throw new Error(`${what} is not an object`);
  const out: Record<string, string> = {};
  for (const f of fields) {
    if (typeof v[f] !== 'string') throw new Error(`${what}.${f} is not a string`);
    out[f] = v[f] as string;
  }
  return out as T;
}

const ENDPOINT_FIELDS = ['endpointId', 'endpointName', 'serviceName', 'endpointDomain', 'endpointStatus', 'connectionStatus'] as const;
const ZONE_FIELDS = ['zoneId', 'zoneDomain', 'eniId', 'eniIp', 'ipv6', 'vSwitchId', 'status'] as const;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function readEntry(v: unknown, i: number): EntryState {
  const what = `entries[${i}]`;
  if (!isObj(v)) throw new Error(`${what} is not an object`);
  if (typeof v.id !== 'string' || (v.kind !== 'endpoint' && v.kind !== 'service')) throw new Error(`${what} has no valid id or kind`);
  if (!Array.isArray(v.names) || !v.names.every((n) => typeof n === 'string')) throw new Error(`${what}.names is not a list of strings`);
  if (!Array.isArray(v.zones)) throw new Error(`${what}.zones is not a list`);
  if (v.fetchedAtMs !== undefined && !isTime(v.fetchedAtMs)) throw new Error(`${what}.fetchedAtMs is not a time`);
  if (v.apiFetchedAtMs !== undefined && !isTime(v.apiFetchedAtMs)) throw new Error(`${what}.apiFetchedAtMs is not a time`);
  if (typeof v.stale !== 'boolean') throw new Error(`${what}.stale is not a boolean`);
  const entry: EntryState = {
    id: v.id,
    kind: v.kind,
    names: v.names as string[],
    zones: v.zones.map((z, j) => readFields<ZoneState>(z, ZONE_FIELDS, `${what}.zones[${j}]`)),
    source: 'snapshot',
    stale: v.stale,
  };
  if (v.endpoint !== undefined) {
    entry.endpoint = readFields<EndpointInfo>(v.endpoint, ENDPOINT_FIELDS, `${what}.endpoint`);
    const vpcId = (v.endpoint as Record<string, unknown>).vpcId;
    if (typeof vpcId === 'string' && vpcId !== '') entry.endpoint.vpcId = vpcId;
  }
  if (v.fetchedAtMs !== undefined) entry.fetchedAtMs = v.fetchedAtMs as number;
  // Absent in snapshots written before it existed: the local fetch time stands in.
  if (v.apiFetchedAtMs !== undefined) entry.apiFetchedAtMs = v.apiFetchedAtMs as number;
  if (v.lastError !== undefined) {
    const e = v.lastError;
    if (!isObj(e) || typeof e.code !== 'string' || typeof e.message !== 'string' || !isTime(e.atMs)) throw new Error(`${what}.lastError is malformed`);
    entry.lastError = { code: e.code, message: e.message, atMs: e.atMs } satisfies ErrorInfo;
  }
  return entry;
}

/**
 * The saved state for the entries still configured (source 'snapshot'), or undefined when there
 * is no snapshot. Throws SNAPSHOT_READ when the file cannot be read (permissions, I/O) and SNAPSHOT_INVALID
 * when its content is unusable; the caller logs and ignores either.
 */
export async function loadSnapshot(dir: string, configEntries: readonly EntryConfig[]): Promise<SyncState | undefined> {
  const file = join(dir, SNAPSHOT_FILE);
  let text: string;
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const { size } = await handle.stat();
    if (size > MAX_SNAPSHOT_BYTES) throw invalid(file, `${size} bytes, over the ${MAX_SNAPSHOT_BYTES} a start reads; not read`);
    text = await handle.readFile('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (isPldnsError(err, 'SNAPSHOT_INVALID')) throw err;
    // Permissions or I/O: the file may well be intact, so say so rather than call it corrupt.
    const code = (err as NodeJS.ErrnoException).code;
    throw new PldnsError('SNAPSHOT_READ', `cannot read ${file}: ${code ?? (err as Error).message}`, { cause: err });
  } finally {
    await handle?.close();
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid(file, 'not valid JSON (truncated?)');
  }
  if (!isObj(doc) || doc.format !== SNAPSHOT_FORMAT) throw invalid(file, 'not a privatelink-dns snapshot');
  if (doc.version !== SNAPSHOT_VERSION) throw invalid(file, `unsupported snapshot version ${JSON.stringify(doc.version)}`);
  if (!isObj(doc.payload) || typeof doc.sha256 !== 'string' || sha256(JSON.stringify(doc.payload)) !== doc.sha256) {
    throw invalid(file, 'checksum mismatch');
  }
  const payload = doc.payload;
  try {
    if (!Array.isArray(payload.entries)) throw new Error('entries is not a list');
    const entries = payload.entries.map(readEntry);
    const state: SyncState = { entries };
    if (isTime(payload.lastSuccessMs)) state.lastSuccessMs = payload.lastSuccessMs;
    return alignToConfig(state, configEntries);
  } catch (err) {
    throw invalid(file, (err as Error).message);
  }
}

/**
 * Digest of what the snapshot is for: the endpoints and zones of each cloud entry. Ages, stale
 * markers and errors are left out, so a steady state does not rewrite the file every refresh.
 */
export function snapshotDigest(state: SyncState): string {
  const content = state.entries.filter((e) => e.kind !== 'static').map((e) => [e.id, e.kind, e.endpoint ?? null, e.zones]);
  return sha256(JSON.stringify(content));
}

/** What the snapshot store reports; the metrics room implements it. */
export interface SnapshotObserver {
  written(result: 'ok' | 'error'): void;
}

export interface SnapshotStoreOptions {
  dir: string;
  observer?: SnapshotObserver;
  /**
   * Rewrite an unchanged table this often anyway, so the saved fetch times (which /readyz compares
   * with max_stale after a restart) are never more than this far behind.
   */
  rewriteIntervalMs?: number;
  now?: () => number;
  fs?: SnapshotFs;
  /** Told when writes start failing (error, once) and when they work again (info). */
  logger?: Logger;
}

/** Loads once at start, then saves only when the content changed (or the saved ages grew old). */
export class SnapshotStore {
  private lastDigest: string | undefined;
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private queue: Promise<unknown> = Promise.resolve();
  /** Consecutive failed writes: the first is logged as an error, the rest at debug until one works. */
  private failedWrites = 0;

  constructor(private readonly options: SnapshotStoreOptions) {}

  async load(configEntries: readonly EntryConfig[]): Promise<SyncState | undefined> {
    await removeStaleTempFiles(this.options.dir);
    const state = await loadSnapshot(this.options.dir, configEntries);
    // Remember the content but not a write time: the first sync of this process refreshes the ages.
    if (state) this.lastDigest = snapshotDigest(state);
    return state;
  }

  /** Resolves true when written, false when skipped; rejects with SNAPSHOT_WRITE. Saves run one at a time, in order. */
  save(state: SyncState): Promise<boolean> {
    const run = this.queue.then(() => this.saveNow(state));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async saveNow(state: SyncState): Promise<boolean> {
    // Nothing fetched by this process yet: the file on disk is at least as good as what we hold.
    if (!state.entries.some((e) => e.source === 'sync' && e.fetchedAtMs !== undefined)) return false;
    const now = (this.options.now ?? Date.now)();
    const digest = snapshotDigest(state);
    if (digest === this.lastDigest && now - this.lastWriteMs < (this.options.rewriteIntervalMs ?? 3_600_000)) return false;
    try {
      await saveSnapshot(this.options.dir, state, { nowMs: now, ...(this.options.fs ? { fs: this.options.fs } : {}) });
    } catch (err) {
      this.options.observer?.written('error');
      const error = isPldnsError(err) ? err : new PldnsError('SNAPSHOT_WRITE', String(err), { cause: err });
      this.failedWrites++;
      const log = this.options.logger;
      if (this.failedWrites === 1) log?.error({ dir: this.options.dir, err: describeError(error) }, 'could not save the snapshot; the previous one is kept');
      else log?.debug({ dir: this.options.dir, err: describeError(error), failedWrites: this.failedWrites }, 'snapshot save still failing');
      throw error;
    }
    this.options.observer?.written('ok');
    if (this.failedWrites > 0) this.options.logger?.info({ dir: this.options.dir, afterFailedWrites: this.failedWrites }, 'snapshot saved again');
    this.failedWrites = 0;
    this.lastDigest = digest;
    this.lastWriteMs = now;
    return true;
  }
}

/** For `check`: why the snapshot in `dir` would be ignored at start (unreadable or unusable), or undefined. */
export async function snapshotReadProblem(dir: string, configEntries: readonly EntryConfig[]): Promise<string | undefined> {
  try {
    await loadSnapshot(dir, configEntries);
    return undefined;
  } catch (err) {
    return `${describeError(err)} (a start ignores it and begins with an empty table)`;
  }
}
