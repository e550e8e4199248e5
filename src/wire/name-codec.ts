import { PldnsError } from '../errors';
import { HEADER_BYTES, LABEL_LENGTH_MASK, MAX_NAME_BYTES, POINTER_BITS } from './constants';

/**
 * Domain names between their presentation form (lower case, no trailing dot, "" for the root,
 * "." and "\\" inside a label escaped, the spelling parseQuery uses) and the wire.
 */

/** Compression hops followed in one name; pointers must go strictly backwards anyway, this bounds the work. */
const MAX_POINTER_HOPS = 127;
const DOT = 0x2e;
const BACKSLASH = 0x5c;

/**
 * Per byte: the text it contributes to a name. ASCII letters lower-cased (DNS compares names
 * ASCII-case-insensitively), "." and "\\" escaped, every other byte as the same code unit.
 */
const NAME_CHARS: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  b >= 0x41 && b <= 0x5a ? String.fromCharCode(b + 32) : b === DOT ? '\\.' : b === BACKSLASH ? '\\\\' : String.fromCharCode(b));

export function malformed(what: string, offset?: number): PldnsError {
  return new PldnsError('WIRE_MALFORMED', offset === undefined ? what : `${what} at byte ${offset}`);
}

/**
 * Presentation name → uncompressed wire bytes, ASCII letters lowered. A trailing dot is accepted
 * ("" and "." are the root). Throws WIRE_MALFORMED for an empty label, a label over 63 bytes, a
 * name over 255 bytes or a character outside one byte.
 */
export function nameToWire(name: string): Buffer {
  const out: number[] = [];
  let label: number[] = [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (text === '') return Buffer.from([0]);
  const flush = (): void => {
    if (label.length === 0 || label.length > 63) throw malformed(`name "${name}" has an empty or over-long label`);
    out.push(label.length, ...label);
    label = [];
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      i++;
      if (i >= text.length) throw malformed(`name "${name}" ends in a lone backslash`);
      c = text.charCodeAt(i);
    } else if (c === DOT) {
      flush();
      continue;
    }
    if (c > 0xff) throw malformed(`name "${name}" holds a character outside one byte`);
    label.push(c >= 0x41 && c <= 0x5a ? c + 32 : c);
  }
  flush();
  out.push(0);
  if (out.length > MAX_NAME_BYTES) throw malformed(`name "${name}" is longer than ${MAX_NAME_BYTES} bytes`);
  return Buffer.from(out);
}

/** Room for a 255-byte name with every byte escaped; wireToName is synchronous, so one suffices. */
const TEXT_SCRATCH = Buffer.alloc(2 * MAX_NAME_BYTES);

/**
 * Presentation text of the uncompressed wire name at `offset` (as nameToWire, readName or
 * uncompressedNameEnd vouch for). Written into a scratch buffer and decoded once: one flat
 * string, where appending character by character would build (and leave as garbage) a rope of
 * one node per character.
 */
export function wireToName(wire: Buffer, offset = 0): string {
  let out = 0;
  let pos = offset;
  while (pos < wire.length && wire[pos] !== 0) {
    const end = pos + 1 + wire[pos];
    // Longer than any vouched name (at most 2 bytes of text per wire byte): the slow way.
    if (out + 2 * (end - pos) > TEXT_SCRATCH.length) return wireToNameByParts(wire, offset);
    if (pos !== offset) TEXT_SCRATCH[out++] = DOT;
    for (let i = pos + 1; i < end && i < wire.length; i++) {
      const b = wire[i];
      if (b >= 0x41 && b <= 0x5a) TEXT_SCRATCH[out++] = b + 32;
      else if (b === DOT || b === BACKSLASH) {
        TEXT_SCRATCH[out++] = BACKSLASH;
        TEXT_SCRATCH[out++] = b;
      } else TEXT_SCRATCH[out++] = b;
    }
    pos = end;
  }
  return TEXT_SCRATCH.toString('latin1', 0, out);
}

function wireToNameByParts(wire: Buffer, offset: number): string {
  let name = '';
  let pos = offset;
  while (pos < wire.length && wire[pos] !== 0) {
    if (pos !== offset) name += '.';
    const end = pos + 1 + wire[pos];
    for (let i = pos + 1; i < end && i < wire.length; i++) name += NAME_CHARS[wire[i]];
    pos = end;
  }
  return name;
}

/**
 * Offset just past the uncompressed name at `offset` of `buf`, or -1 when there is none: a label
 * over 63 bytes (or a compression pointer), a name over 255 bytes, or bytes ending before the root
 * label. The one walk over plain labels (rdata names, a question written without compression).
 */
export function uncompressedNameEnd(buf: Buffer, offset: number): number {
  let pos = offset;
  while (pos < buf.length && buf[pos] !== 0) {
    if (buf[pos] > 63) return -1;
    pos += 1 + buf[pos];
  }
  if (pos >= buf.length || pos + 1 - offset > MAX_NAME_BYTES) return -1;
  return pos + 1;
}

export interface ReadName {
  /** Presentation form. */
  readonly name: string;
  /** The name decompressed into uncompressed wire form, case as sent. */
  readonly wire: Buffer;
  /** Offset just past the name where it was read (past the first pointer if any). */
  readonly end: number;
}

/**
 * Reads a possibly compressed name at `offset` of `buf`. Every pointer must point strictly before
 * the segment it was read from (no loops, no forward pointers) and not into the header; labels
 * of the reserved types 0x40/0x80 and names over 255 bytes are rejected. Throws WIRE_MALFORMED.
 */
export function readName(buf: Buffer, offset: number): ReadName {
  const len = buf.length;
  const parts: Buffer[] = [];
  let pos = offset;
  let limit = offset;
  let end = -1;
  let wireBytes = 1;
  let hops = 0;
  let name = '';
  for (;;) {
    if (pos >= len) throw malformed('name runs past the end', offset);
    const b = buf[pos];
    if (b === 0) break;
    const kind = b & POINTER_BITS;
    if (kind === POINTER_BITS) {
      if (pos + 1 >= len) throw malformed('compression pointer cut short', pos);
      const target = ((b & LABEL_LENGTH_MASK) << 8) | buf[pos + 1];
      if (target >= limit || target < HEADER_BYTES) throw malformed('compression pointer not strictly backwards', pos);
      if (++hops > MAX_POINTER_HOPS) throw malformed('too many compression pointers', pos);
      if (end === -1) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw malformed('reserved label type', pos);
    wireBytes += b + 1;
    if (wireBytes > MAX_NAME_BYTES) throw malformed('name longer than 255 bytes', offset);
    if (pos + 1 + b > len) throw malformed('label runs past the end', pos);
    if (parts.length > 0) name += '.';
    for (let i = pos + 1; i <= pos + b; i++) name += NAME_CHARS[buf[i]];
    parts.push(buf.subarray(pos, pos + 1 + b));
    pos += b + 1;
  }
  if (end === -1) end = pos + 1;
  parts.push(Buffer.from([0]));
  return { name, wire: Buffer.concat(parts, wireBytes), end };
}

/** Lower-cased copy of a wire name's label bytes (compression and TSIG compare names this way). */
export function canonicalWire(wire: Buffer): Buffer {
  const out = Buffer.from(wire);
  let pos = 0;
  while (pos < out.length && out[pos] !== 0) {
    const end = pos + 1 + out[pos];
    for (let i = pos + 1; i < end && i < out.length; i++) if (out[i] >= 0x41 && out[i] <= 0x5a) out[i] += 32;
    pos = end;
  }
  return out;
}

/** A presentation name in the spelling parseMessage uses (lower case, no trailing dot); throws WIRE_MALFORMED. */
export function canonicalName(name: string): string {
  return wireToName(nameToWire(name));
}

/** True when `name` is `zone` or below it, compared label by label (so "a\\.zone" is not under "zone"). */
export function isInZone(name: string, zone: string): boolean {
  const n = nameToWire(name);
  const z = nameToWire(zone);
  for (let pos = 0; pos < n.length; pos += 1 + n[pos]) {
    if (n.length - pos === z.length) return n.subarray(pos).equals(z);
    if (n.length - pos < z.length || n[pos] === 0) return false;
  }
  return false;
}
