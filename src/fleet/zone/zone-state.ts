import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { RRType } from '../../wire/constants';
import type { ZoneRecord } from '../codec/zone-record';
import { PldnsError } from '../../errors';
import { removeStaleTempFiles, writeFileAtomic, type AtomicWriteFs } from '../../state/atomic-write';
import { parseSoa } from '../codec/soa';
import { checkZoneName, sortZoneRecords, zoneDigest, type PolicyZone } from './policy-zone';
import type { SerialRecord } from './serial';
import type { ZoneChange } from './zone-change';
import { DEFAULT_SLICER, type SliceBudget, type Sliced, type Slicer } from '../../runtime/slices';

/**
 * What fleet mode keeps in state_dir, each file written atomically (state/atomic-write) as
 * `{format, version, sha256, payload}` with sha256 over JSON.stringify(payload):
 * - an edge: `zone.<origin>.json`, the last policy zone received, so it answers at boot with
 *   every hub down (one file per zone name: switching to another view never loads the old one);
 * - a hub: `zone-serials.json`, the serial and digest of each published zone, so unchanged content
 *   keeps its serial across restarts; and `zone-history.<origin>.json` per published zone, the
 *   last published zone and its IXFR journal (bounded by the journal limits), so after a restart
 *   a secondary still gets an IXFR and the first change is journalled against what it holds.
 * Anything unreadable is ZONE_STATE_INVALID; the caller logs it and goes on without the file.
 */

export const ZONE_STATE_FORMAT = 'privatelink-dns-zone';
export const ZONE_SERIALS_FORMAT = 'privatelink-dns-zone-serials';
export const ZONE_STATE_VERSION = 1;
export const ZONE_SERIALS_FILE = 'zone-serials.json';
export const ZONE_HISTORY_FORMAT = 'privatelink-dns-zone-history';
const HISTORY_PREFIX = 'zone-history.';

export function zoneStateFile(origin: string): string {
  return `zone.${origin}.json`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (file: string, why: string): PldnsError => new PldnsError('ZONE_STATE_INVALID', `${file}: ${why}`);
const isUint32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32;
const KNOWN_TYPES = new Set<number>([RRType.SOA, RRType.NS, RRType.CNAME, RRType.A, RRType.AAAA, RRType.TXT]);

function envelope(format: string, payload: unknown): string {
  const body = JSON.stringify(payload);
  return `${JSON.stringify({ format, version: ZONE_STATE_VERSION, sha256: sha256(body), payload })}\n`;
}

/** The checked payload of a state file, or undefined when there is none. */
async function readEnvelope(file: string, format: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PldnsError('ZONE_STATE_INVALID', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid(file, 'not valid JSON (truncated?)');
  }
  if (!isObj(doc) || doc.format !== format) throw invalid(file, `not a ${format} file`);
  if (doc.version !== ZONE_STATE_VERSION) throw invalid(file, `unsupported version ${JSON.stringify(doc.version)}`);
  if (!isObj(doc.payload) || typeof doc.sha256 !== 'string' || sha256(JSON.stringify(doc.payload)) !== doc.sha256) throw invalid(file, 'checksum mismatch');
  return doc.payload;
}

export interface SavedZone {
  readonly zone: PolicyZone;
  readonly savedAtMs: number;
}

export async function saveZoneState(dir: string, zone: PolicyZone, options: { fs?: AtomicWriteFs; nowMs?: number; slicer?: Slicer } = {}): Promise<void> {
  const savedAtMs = options.nowMs ?? Date.now();
  const text = await (options.slicer ?? DEFAULT_SLICER).run((budget) => zoneStateText(zone, savedAtMs, budget));
  await writeFileAtomic(join(dir, zoneStateFile(zone.origin)), text, { errorCode: 'ZONE_STATE_WRITE', ...(options.fs ? { fs: options.fs } : {}) });
}

/** Records per JSON.stringify call: enough to amortise the call, few enough for a slice. */
const RECORDS_PER_PIECE = 256;

/**
 * The file's text, exactly envelope(ZONE_STATE_FORMAT, payload) with payload {origin, serial,
 * savedAtMs, records: [[name, type, ttl, data], ...]}, built a piece of records at a time (the
 * payload of a zone at its bound is megabytes of JSON) with the digest taken as it goes.
 */
function* zoneStateText(zone: PolicyZone, savedAtMs: number, budget: SliceBudget): Sliced<string> {
  const head = JSON.stringify({ origin: zone.origin, serial: zone.serial, savedAtMs, records: [] }).slice(0, -2);
  const pieces: string[] = [head];
  const digest = createHash('sha256').update(head);
  const records = zone.records;
  for (let start = 0; start < records.length; start += RECORDS_PER_PIECE) {
    const chunk = records.slice(start, start + RECORDS_PER_PIECE).map((r) => [r.name, r.type, r.ttl, r.data]);
    const piece = (start === 0 ? '' : ',') + JSON.stringify(chunk).slice(1, -1);
    pieces.push(piece);
    digest.update(piece);
    if (budget.spend(chunk.length)) yield;
  }
  const tail = ']}';
  pieces.push(tail);
  digest.update(tail);
  const body = pieces.join('');
  return `${JSON.stringify({ format: ZONE_STATE_FORMAT, version: ZONE_STATE_VERSION, sha256: digest.digest('hex'), payload: 0 }).slice(0, -2)}${body}}\n`;
}

function readRecord(v: unknown, i: number, origin: string): ZoneRecord {
  if (!Array.isArray(v) || v.length !== 4) throw new Error(`records[${i}] is not [name, type, ttl, data]`);
  const [name, type, ttl, data] = v as unknown[];
  if (typeof name !== 'string' || name !== name.toLowerCase() || (name !== origin && !name.endsWith(`.${origin}`))) {
    throw new Error(`records[${i}] has an owner outside ${origin}`);
  }
  if (typeof type !== 'number' || !KNOWN_TYPES.has(type)) throw new Error(`records[${i}] has an unsupported type`);
  if (!isUint32(ttl) || ttl >= 2 ** 31) throw new Error(`records[${i}] has an invalid TTL`);
  if (typeof data !== 'string') throw new Error(`records[${i}] has no data`);
  return { name, type, ttl, data };
}

/** The zone saved for `origin`, or undefined when there is none. */
export async function loadZoneState(dir: string, origin: string): Promise<SavedZone | undefined> {
  const file = join(dir, zoneStateFile(origin));
  await removeStaleTempFiles(dir, zoneStateFile(origin));
  const payload = await readEnvelope(file, ZONE_STATE_FORMAT);
  if (payload === undefined) return undefined;
  try {
    if (payload.origin !== origin || checkZoneName(origin) !== undefined) throw new Error(`holds zone ${JSON.stringify(payload.origin)}, not ${origin}`);
    if (!isUint32(payload.serial)) throw new Error('serial is not a 32-bit number');
    if (typeof payload.savedAtMs !== 'number' || !Number.isFinite(payload.savedAtMs)) throw new Error('savedAtMs is not a time');
    if (!Array.isArray(payload.records)) throw new Error('records is not a list');
    const records = payload.records.map((r, i) => readRecord(r, i, origin));
    const soas = records.filter((r) => r.type === RRType.SOA);
    if (soas.length !== 1 || soas[0]?.name !== origin) throw new Error('does not hold exactly one SOA, at the apex');
    if (parseSoa(soas[0].data)?.serial !== payload.serial) throw new Error('SOA serial does not match the saved serial');
    return { zone: { origin, serial: payload.serial, records: sortZoneRecords(records, origin) }, savedAtMs: payload.savedAtMs };
  } catch (err) {
    throw invalid(file, (err as Error).message);
  }
}

export async function saveZoneSerials(dir: string, serials: ReadonlyMap<string, SerialRecord>, options: { fs?: AtomicWriteFs } = {}): Promise<void> {
  const zones = Object.fromEntries([...serials].sort(([a], [b]) => (a < b ? -1 : 1)).map(([o, s]) => [o, { serial: s.serial, digest: s.digest }]));
  await writeFileAtomic(join(dir, ZONE_SERIALS_FILE), envelope(ZONE_SERIALS_FORMAT, { zones }), {
    errorCode: 'ZONE_STATE_WRITE',
    ...(options.fs ? { fs: options.fs } : {}),
  });
}

/** Zone name → serial and digest as last published; empty when there is no file. */
export async function loadZoneSerials(dir: string): Promise<Map<string, SerialRecord>> {
  const file = join(dir, ZONE_SERIALS_FILE);
  await removeStaleTempFiles(dir, ZONE_SERIALS_FILE);
  const payload = await readEnvelope(file, ZONE_SERIALS_FORMAT);
  const out = new Map<string, SerialRecord>();
  if (payload === undefined) return out;
  if (!isObj(payload.zones)) throw invalid(file, 'zones is not an object');
  for (const [origin, v] of Object.entries(payload.zones)) {
    if (!isObj(v) || !isUint32(v.serial) || typeof v.digest !== 'string') throw invalid(file, `zones.${origin} is not {serial, digest}`);
    out.set(origin, { serial: v.serial, digest: v.digest });
  }
  return out;
}

export function zoneHistoryFile(origin: string): string {
  return `${HISTORY_PREFIX}${origin}.json`;
}

/** A published zone as a hub last saved it: the zone, its digest and the journal leading to it. */
export interface SavedHistory {
  readonly zone: PolicyZone;
  readonly digest: string;
  readonly changes: readonly ZoneChange[];
}

type RecordTuple = [string, number, number, string];
const tuple = (r: ZoneRecord): RecordTuple => [r.name, r.type, r.ttl, r.data];

export async function saveZoneHistory(dir: string, history: SavedHistory, options: { fs?: AtomicWriteFs } = {}): Promise<void> {
  const { zone } = history;
  const payload = {
    origin: zone.origin,
    serial: zone.serial,
    digest: history.digest,
    records: zone.records.map(tuple),
    changes: history.changes.map((c) => ({
      fromSerial: c.fromSerial,
      toSerial: c.toSerial,
      fromSoa: c.fromSoa ? tuple(c.fromSoa) : null,
      toSoa: c.toSoa ? tuple(c.toSoa) : null,
      removed: c.removed.map(tuple),
      added: c.added.map(tuple),
    })),
  };
  await writeFileAtomic(join(dir, zoneHistoryFile(zone.origin)), envelope(ZONE_HISTORY_FORMAT, payload), {
    errorCode: 'ZONE_STATE_WRITE',
    ...(options.fs ? { fs: options.fs } : {}),
  });
}

function readChange(v: unknown, i: number, origin: string): ZoneChange {
  if (!isObj(v) || !isUint32(v.fromSerial) || !isUint32(v.toSerial)) throw new Error(`changes[${i}] has no valid serials`);
  if (!Array.isArray(v.removed) || !Array.isArray(v.added)) throw new Error(`changes[${i}] has no removed/added lists`);
  const fromSoa = readRecord(v.fromSoa, i, origin);
  const toSoa = readRecord(v.toSoa, i, origin);
  if (fromSoa.type !== RRType.SOA || toSoa.type !== RRType.SOA) throw new Error(`changes[${i}] lacks its SOA records`);
  if (parseSoa(fromSoa.data)?.serial !== v.fromSerial || parseSoa(toSoa.data)?.serial !== v.toSerial) throw new Error(`changes[${i}] SOA serials do not match`);
  return {
    fromSerial: v.fromSerial,
    toSerial: v.toSerial,
    fromSoa,
    toSoa,
    removed: v.removed.map((r, j) => readRecord(r, j, origin)),
    added: v.added.map((r, j) => readRecord(r, j, origin)),
  };
}

/**
 * Every zone history in `dir`, by origin. A file that cannot be used is left out and reported in
 * `problems` (the zone then starts without history: AXFR-style answers until the journal refills).
 */
export async function loadZoneHistories(dir: string): Promise<{ histories: Map<string, SavedHistory>; problems: string[] }> {
  const histories = new Map<string, SavedHistory>();
  const problems: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { histories, problems };
    throw new PldnsError('ZONE_STATE_INVALID', `cannot list ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const name of names) {
    if (!name.startsWith(HISTORY_PREFIX) || !name.endsWith('.json')) continue;
    const origin = name.slice(HISTORY_PREFIX.length, -'.json'.length);
    const file = join(dir, name);
    try {
      await removeStaleTempFiles(dir, name);
      const payload = await readEnvelope(file, ZONE_HISTORY_FORMAT);
      if (payload === undefined) continue;
      if (payload.origin !== origin || checkZoneName(origin) !== undefined) throw invalid(file, `holds zone ${JSON.stringify(payload.origin)}, not ${origin}`);
      if (!isUint32(payload.serial) || typeof payload.digest !== 'string') throw invalid(file, 'no valid serial and digest');
      if (!Array.isArray(payload.records) || !Array.isArray(payload.changes)) throw invalid(file, 'records or changes is not a list');
      let records: ZoneRecord[];
      let changes: ZoneChange[];
      try {
        records = payload.records.map((r, i) => readRecord(r, i, origin));
        changes = payload.changes.map((c, i) => readChange(c, i, origin));
      } catch (err) {
        throw invalid(file, (err as Error).message);
      }
      const soas = records.filter((r) => r.type === RRType.SOA);
      if (soas.length !== 1 || parseSoa(soas[0]?.data ?? '')?.serial !== payload.serial) throw invalid(file, 'does not hold exactly one SOA with the saved serial');
      const last = changes[changes.length - 1];
      const chained = changes.every((c, i) => i === 0 || changes[i - 1]?.toSerial === c.fromSerial);
      if (!chained || (last && last.toSerial !== payload.serial)) throw invalid(file, 'the journal does not lead to the saved zone');
      const zone: PolicyZone = { origin, serial: payload.serial, records: sortZoneRecords(records, origin) };
      if (zoneDigest(zone) !== payload.digest) throw invalid(file, 'the saved digest does not match the zone');
      histories.set(origin, { zone, digest: payload.digest, changes });
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return { histories, problems };
}
