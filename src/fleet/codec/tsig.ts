import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS_ANY, FLAG_QR, FLAG_RD, OPCODE_MASK, RCode, RCODE_NOTAUTH, TYPE_TSIG } from '../../wire/constants';
import { encodeMessage, type DnsMessage } from './message';
import { malformed, nameToWire, wireToName } from '../../wire/name-codec';

/**
 * TSIG (RFC 8945) with HMAC-SHA256 and HMAC-SHA512: signing and verifying requests, responses
 * and multi-message responses (each MAC chained to the previous one), and the error responses
 * a server owes a bad signature.
 *
 * MAC truncation (RFC 8945 §5.2.2.1): the smallest MAC this implementation accepts is the full
 * HMAC output (32 bytes for hmac-sha256, 64 for hmac-sha512); it never signs with less. A request
 * MAC longer than the output, or shorter than the RFC's floor (the larger of 10 bytes and half the
 * output), is FORMERR; one between that floor and the full length is checked as a truncated MAC
 * and, if it verifies and is on time, refused with NOTAUTH/BADTRUNC (§5.2.4: below the local minimum).
 */

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

export interface TsigKey {
  /** Key name in presentation form (e.g. "fleet"). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** TSIG error field values (RFC 8945 §3). */
export const TsigError = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export type TsigErrorName = 'BADSIG' | 'BADKEY' | 'BADTIME' | 'BADTRUNC';

/** Allowed clock difference, and the fudge we sign with. */
export const TSIG_FUDGE_SEC = 300;
/** RFC 8945 §5.3.1: a client accepts at most 99 unsigned messages in a row. */
const MAX_UNSIGNED_RUN = 99;

const HASHES: Record<TsigAlgorithm, { hash: 'sha256' | 'sha512'; macBytes: number }> = {
  'hmac-sha256': { hash: 'sha256', macBytes: 32 },
  'hmac-sha512': { hash: 'sha512', macBytes: 64 },
};

export interface TsigOptions {
  /** The clock, seconds since the epoch (tests move it). */
  readonly nowSec?: number;
  readonly fudgeSec?: number;
}

/** The TSIG record of a message, decoded. */
export interface TsigRecord {
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Buffer;
  /** Offset of the TSIG record in the message: the signed bytes end here. */
  readonly offset: number;
}

export interface Signed {
  readonly message: Buffer;
  readonly mac: Buffer;
}

/**
 * The TSIG record of a parsed message, undefined when it has none. Throws WIRE_MALFORMED when a
 * TSIG record is not the last additional record, is not class ANY / TTL 0, or its rdata does not parse.
 */
export function readTsig(msg: DnsMessage): TsigRecord | undefined {
  const all = [...msg.answers, ...msg.authorities, ...msg.additionals];
  const index = all.findIndex((r) => r.type === TYPE_TSIG);
  if (index < 0) return undefined;
  const r = all[index];
  const last = msg.additionals[msg.additionals.length - 1];
  if (r !== last) throw wireError('TSIG record is not the last additional record');
  if (r.class !== CLASS_ANY || r.ttl !== 0) throw wireError('TSIG record is not class ANY with TTL 0');
  const d = r.rdata;
  let pos = 0;
  while (pos < d.length && d[pos] !== 0) {
    if (d[pos] > 63) throw wireError('TSIG algorithm name is compressed or malformed');
    pos += 1 + d[pos];
  }
  if (pos >= d.length) throw wireError('TSIG algorithm name runs past the rdata');
  const algorithm = wireToName(d.subarray(0, pos + 1));
  pos += 1;
  if (pos + 10 > d.length) throw wireError('TSIG rdata cut short');
  const timeSigned = d.readUIntBE(pos, 6);
  const fudge = d.readUInt16BE(pos + 6);
  const macSize = d.readUInt16BE(pos + 8);
  pos += 10;
  if (pos + macSize + 6 > d.length) throw wireError('TSIG MAC runs past the rdata');
  const mac = d.subarray(pos, pos + macSize);
  pos += macSize;
  const originalId = d.readUInt16BE(pos);
  const error = d.readUInt16BE(pos + 2);
  const otherLen = d.readUInt16BE(pos + 4);
  pos += 6;
  if (pos + otherLen !== d.length) throw wireError('TSIG other data does not fill the rdata');
  return { keyName: r.name, algorithm, timeSigned, fudge, mac, originalId, error, otherData: d.subarray(pos), offset: r.offset };
}

const wireError = malformed;

interface Variables {
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly error: number;
  readonly otherData: Buffer;
}

/** TSIG variables (RFC 8945 §4.3.3): key name, class, TTL, algorithm, time, fudge, error, other. */
function fullVariables(v: Variables): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS_ANY, 0);
  const time = Buffer.alloc(12);
  time.writeUIntBE(v.timeSigned, 0, 6);
  time.writeUInt16BE(v.fudge, 6);
  time.writeUInt16BE(v.error, 8);
  time.writeUInt16BE(v.otherData.length, 10);
  return Buffer.concat([nameToWire(v.keyName), classTtl, nameToWire(v.algorithm), time, v.otherData]);
}

/** Timers only (§5.3.1): for every signed message of a stream after the first. */
function timerVariables(v: Variables): Buffer {
  const b = Buffer.alloc(8);
  b.writeUIntBE(v.timeSigned, 0, 6);
  b.writeUInt16BE(v.fudge, 6);
  return b;
}

function prefixedMac(mac: Buffer): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(mac.length, 0);
  return Buffer.concat([b, mac]);
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm].hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The message as signed: TSIG record cut off, ARCOUNT one less, the original ID restored. */
function strippedMessage(msg: Buffer, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.offset));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

function appendTsig(msg: Buffer, v: Variables, mac: Buffer): Buffer {
  const alg = nameToWire(v.algorithm);
  const rdata = Buffer.alloc(alg.length + 16 + mac.length + v.otherData.length);
  let pos = alg.copy(rdata, 0);
  rdata.writeUIntBE(v.timeSigned, pos, 6);
  rdata.writeUInt16BE(v.fudge, pos + 6);
  rdata.writeUInt16BE(mac.length, pos + 8);
  pos += 10 + mac.copy(rdata, pos + 10);
  rdata.writeUInt16BE(msg.readUInt16BE(0), pos);
  rdata.writeUInt16BE(v.error, pos + 2);
  rdata.writeUInt16BE(v.otherData.length, pos + 4);
  v.otherData.copy(rdata, pos + 6);
  const owner = nameToWire(v.keyName);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([msg, owner, fixed, rdata]);
  out.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return out;
}

function nowSec(opts?: TsigOptions): number {
  return opts?.nowSec ?? Math.floor(Date.now() / 1000);
}

function variables(key: TsigKey, opts?: TsigOptions, error = 0, otherData: Buffer = Buffer.alloc(0), timeSigned?: number): Variables {
  return { keyName: key.name, algorithm: key.algorithm, timeSigned: timeSigned ?? nowSec(opts), fudge: opts?.fudgeSec ?? TSIG_FUDGE_SEC, error, otherData };
}

/** Signs a request (query, NOTIFY, transfer request): the message with a TSIG record appended. */
export function signRequest(msg: Buffer, key: TsigKey, opts?: TsigOptions): Signed {
  const v = variables(key, opts);
  const mac = hmac(key, [msg, fullVariables(v)]);
  return { message: appendTsig(msg, v, mac), mac };
}

/**
 * Signs the messages of a multi-message response (AXFR, IXFR) in order: the first like a single
 * response, each later one over the previous MAC, the message and the timers (RFC 8945 §5.3.1).
 */
export class TsigStreamSigner {
  private previousMac: Buffer;
  private first = true;

  constructor(private readonly key: TsigKey, requestMac: Buffer, private readonly opts?: TsigOptions) {
    this.previousMac = requestMac;
  }

  sign(msg: Buffer): Buffer {
    const v = variables(this.key, this.opts);
    const mac = hmac(this.key, [prefixedMac(this.previousMac), msg, this.first ? fullVariables(v) : timerVariables(v)]);
    this.first = false;
    this.previousMac = mac;
    return appendTsig(msg, v, mac);
  }
}

/** A request that failed TSIG, with what the error response needs. */
export interface TsigRequestFailure {
  readonly kind: 'error';
  /** FORMERR: answer FORMERR without TSIG; the others: NOTAUTH with this TSIG error. */
  readonly error: 'FORMERR' | TsigErrorName;
  readonly reason: string;
  readonly tsig?: TsigRecord;
  /** Set for BADTIME (the error response is signed with it). */
  readonly key?: TsigKey;
  readonly requestMac?: Buffer;
}

export type TsigRequestCheck =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'signed'; readonly key: TsigKey; readonly requestMac: Buffer; readonly tsig: TsigRecord }
  | TsigRequestFailure;

/** RFC 8945 §5.2.2.1 rule 3: no MAC may be shorter than the larger of 10 bytes and half the output. */
function truncationFloor(fullBytes: number): number {
  return Math.max(10, fullBytes / 2);
}

function sameName(a: string, b: string): boolean {
  try {
    return nameToWire(a).equals(nameToWire(b));
  } catch {
    return false;
  }
}

/**
 * Checks a request's TSIG against the keys the server knows (RFC 8945 §5.2): key and algorithm
 * (BADKEY), MAC (BADSIG), then time (BADTIME). `msg` is the raw request, `parsed` its parse.
 */
export function verifyRequest(msg: Buffer, parsed: DnsMessage, keys: readonly TsigKey[], opts?: TsigOptions): TsigRequestCheck {
  let tsig: TsigRecord | undefined;
  try {
    tsig = readTsig(parsed);
  } catch (err) {
    return { kind: 'error', error: 'FORMERR', reason: (err as Error).message };
  }
  if (tsig === undefined) return { kind: 'unsigned' };
  const t = tsig;
  const key = keys.find((k) => sameName(k.name, t.keyName) && k.algorithm === t.algorithm);
  if (key === undefined) return { kind: 'error', error: 'BADKEY', reason: `unknown key "${t.keyName}" (${t.algorithm})`, tsig };
  const fullBytes = HASHES[key.algorithm].macBytes;
  if (t.mac.length > fullBytes || t.mac.length < truncationFloor(fullBytes)) {
    return { kind: 'error', error: 'FORMERR', reason: `MAC of ${t.mac.length} bytes (${key.algorithm} allows ${truncationFloor(fullBytes)}–${fullBytes})`, tsig };
  }
  const v = variables(key, opts, t.error, t.otherData, t.timeSigned);
  const expected = hmac(key, [strippedMessage(msg, t), fullVariables({ ...v, fudge: t.fudge })]).subarray(0, t.mac.length);
  if (!timingSafeEqual(expected, t.mac)) return { kind: 'error', error: 'BADSIG', reason: `bad MAC for key "${t.keyName}"`, tsig };
  const skew = Math.abs(nowSec(opts) - t.timeSigned);
  if (skew > (opts?.fudgeSec ?? TSIG_FUDGE_SEC)) {
    return { kind: 'error', error: 'BADTIME', reason: `signed ${skew} s away from our clock`, tsig, key, requestMac: t.mac };
  }
  if (t.mac.length < fullBytes) {
    return { kind: 'error', error: 'BADTRUNC', reason: `MAC truncated to ${t.mac.length} bytes; ${fullBytes} required`, tsig };
  }
  return { kind: 'signed', key, requestMac: t.mac, tsig };
}

/**
 * The response a server sends for a request that failed TSIG (RFC 8945 §5.2, §5.3.2): FORMERR
 * without TSIG; NOTAUTH with an unsigned TSIG (empty MAC) carrying BADKEY, BADSIG or BADTRUNC (errors
 * about the key or the MAC are never signed); NOTAUTH
 * signed with the request's MAC, the request's time and our time in Other Data for BADTIME.
 */
export function tsigErrorResponse(request: DnsMessage, failure: TsigRequestFailure, opts?: TsigOptions): Buffer {
  const rcode = failure.error === 'FORMERR' ? RCode.FORMERR : RCODE_NOTAUTH;
  const flags = FLAG_QR | (request.flags & (OPCODE_MASK | FLAG_RD)) | rcode;
  const id = failure.tsig?.originalId ?? request.id;
  const msg = encodeMessage({ id, flags, question: request.questions[0] ?? null });
  const t = failure.tsig;
  if (failure.error === 'FORMERR' || t === undefined) return msg;
  if (failure.error === 'BADTIME' && failure.key !== undefined && failure.requestMac !== undefined) {
    const other = Buffer.alloc(6);
    other.writeUIntBE(nowSec(opts), 0, 6);
    const v = variables(failure.key, opts, TsigError.BADTIME, other, t.timeSigned);
    const mac = hmac(failure.key, [prefixedMac(failure.requestMac), msg, fullVariables(v)]);
    return appendTsig(msg, v, mac);
  }
  // Unsigned: echo the key and algorithm the client named so it can match the error to its request.
  const v: Variables = {
    keyName: t.keyName, algorithm: t.algorithm, timeSigned: nowSec(opts), fudge: TSIG_FUDGE_SEC, error: TsigError[failure.error], otherData: Buffer.alloc(0),
  };
  return appendTsig(msg, v, Buffer.alloc(0));
}

export type TsigCheck =
  | { readonly ok: true; readonly signed: boolean }
  | { readonly ok: false; readonly reason: string; /** The TSIG error the peer reported, if any. */ readonly error?: number };

/**
 * Verifies the responses to one signed request, in order (one for a query, many for a
 * transfer). The first must be signed; later ones may go unsigned for up to 99 in a row, and
 * are then covered by the next signed one (RFC 8945 §5.3.1); `finish` checks the last was signed.
 */
export class TsigStreamVerifier {
  private previousMac: Buffer;
  private unsigned: Buffer[] = [];
  private seen = 0;

  constructor(private readonly key: TsigKey, requestMac: Buffer, private readonly opts?: TsigOptions) {
    this.previousMac = requestMac;
  }

  verify(msg: Buffer, parsed: DnsMessage): TsigCheck {
    let t: TsigRecord | undefined;
    try {
      t = readTsig(parsed);
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    const first = this.seen === 0;
    this.seen++;
    if (t === undefined) {
      if (first) return { ok: false, reason: 'the first response is not signed' };
      if (this.unsigned.length >= MAX_UNSIGNED_RUN) return { ok: false, reason: `more than ${MAX_UNSIGNED_RUN} unsigned messages in a row` };
      this.unsigned.push(msg);
      return { ok: true, signed: false };
    }
    if (!sameName(t.keyName, this.key.name) || t.algorithm !== this.key.algorithm) {
      return { ok: false, reason: `signed with key "${t.keyName}" (${t.algorithm}), not ours`, error: t.error };
    }
    if (t.error !== TsigError.NOERROR) return { ok: false, reason: `the server reported TSIG error ${tsigErrorName(t.error)}`, error: t.error };
    if (t.mac.length !== HASHES[this.key.algorithm].macBytes) return { ok: false, reason: `MAC of ${t.mac.length} bytes` };
    const v = variables(this.key, this.opts, t.error, t.otherData, t.timeSigned);
    const vars = first ? fullVariables({ ...v, fudge: t.fudge }) : timerVariables({ ...v, fudge: t.fudge });
    const expected = hmac(this.key, [prefixedMac(this.previousMac), ...this.unsigned, strippedMessage(msg, t), vars]);
    if (!timingSafeEqual(expected, t.mac)) return { ok: false, reason: 'bad MAC', error: TsigError.BADSIG };
    const skew = Math.abs(nowSec(this.opts) - t.timeSigned);
    if (skew > (this.opts?.fudgeSec ?? TSIG_FUDGE_SEC)) return { ok: false, reason: `signed ${skew} s away from our clock`, error: TsigError.BADTIME };
    this.previousMac = t.mac;
    this.unsigned = [];
    return { ok: true, signed: true };
  }

  /** After the last message: it must have been signed. */
  finish(): TsigCheck {
    if (this.seen === 0) return { ok: false, reason: 'no response' };
    if (this.unsigned.length > 0) return { ok: false, reason: `the last ${this.unsigned.length} messages are not signed` };
    return { ok: true, signed: true };
  }
}

export function tsigErrorName(error: number): string {
  const found = Object.entries(TsigError).find(([, v]) => v === error);
  return found === undefined ? String(error) : found[0];
}
