import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { RRType } from '../../wire/constants';
import type { ZoneRecord } from '../codec/zone-record';
import { PldnsError } from '../../errors';
import { removeStaleTempFiles, writeFileAtomic, type AtomicWriteFs } from '../../state/atomic-write';
import { checkZoneName, parseSoa, sortZoneRecords, type PolicyZone } from './policy-zone';
import type { SerialRecord } from './serial';
import { DEFAULT_SLICER, type SliceBudget, type Sliced, type Slicer } from '../../runtime/slices';

/**
 * What fleet mode keeps in state_dir, each file written atomically (state/atomic-write) as
 * `{format, version, sha256, payload}` with sha256 over JSON.stringify(payload):
 * - an edge: `zone.<origin>.json`, the last policy zone received, so it answers at boot with
 *   every hub down (one file per zone name: switching to another view never loads the old one);
 * - a hub: `zone-serials.json`, the serial and digest of each published zone, so serials never
 *   go back across restarts and unchanged content keeps its serial.
 * Anything unreadable is ZONE_STATE_INVALID; the caller logs it and goes on without the file.
 */

export const ZONE_STATE_FORMAT = 'privatelink-dns-zone';
export const ZONE_SERIALS_FORMAT = 'privatelink-dns-zone-serials';
export const ZONE_STATE_VERSION = 1;
export const ZONE_SERIALS_FILE = 'zone-serials.json';

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
