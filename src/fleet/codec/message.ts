import { HEADER_BYTES, MAX_MESSAGE_BYTES, MAX_POINTER_OFFSET, NAME_POINTER, OPCODE_MASK, RCODE_MASK, RRType } from '../../wire/constants';
import { canonicalWire, malformed, nameToWire, readName } from '../../wire/name-codec';
import { compressiblePieces, readRdata } from './rdata';

/**
 * The full DNS message codec (zone transfer, NOTIFY, TSIG): a strict parser that decodes every
 * record, and a size-bounded builder that compresses names. The hot query path does not use it
 * (wire/query.ts, wire/message-scan.ts stay allocation-light).
 */

export interface DnsQuestion {
  /** Presentation form: lower case, no trailing dot, "" for the root, "\\." escapes. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/** A record as the builder takes it: rdata in uncompressed wire form. */
export interface WireRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** The 32-bit field as sent (no RFC 2181 clamping: TSIG and OPT reuse it). */
  readonly ttl: number;
  /** Rdata with embedded names (SOA, NS, CNAME, PTR, MX, SRV) decompressed. */
  readonly rdata: Buffer;
}

export interface DnsRecord extends WireRecord {
  /** Offset of the record's owner name in the message (TSIG strips the message from here). */
  readonly offset: number;
  /** Offset just past the record. */
  readonly end: number;
}

export interface DnsMessage {
  readonly id: number;
  /** The header's second 16-bit word as sent (QR, opcode, AA, TC, RD, RA, AD, CD, rcode). */
  readonly flags: number;
  readonly opcode: number;
  /** The full rcode: the header's 4 bits plus an OPT's extended 8 bits. */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
  /** Bytes of the message. */
  readonly size: number;
}

/**
 * Decodes a whole message. Every read is bounds-checked; a bad name (loop, forward or
 * out-of-bounds pointer), rdata that does not fill its length, or bytes after the last record
 * throw a PldnsError WIRE_MALFORMED, and nothing else is thrown.
 */
export function parseMessage(buf: Buffer): DnsMessage {
  const len = buf.length;
  if (len < HEADER_BYTES) throw malformed(`message of ${len} bytes is shorter than a header`);
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const counts = [buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = HEADER_BYTES;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, off);
    if (n.end + 4 > len) throw malformed('question cut short', off);
    questions.push({ name: n.name, type: buf.readUInt16BE(n.end), class: buf.readUInt16BE(n.end + 2) });
    off = n.end + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  let extendedRcode = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      const start = off;
      const n = readName(buf, off);
      if (n.end + 10 > len) throw malformed('record header cut short', off);
      const type = buf.readUInt16BE(n.end);
      const rdStart = n.end + 10;
      const rdLength = buf.readUInt16BE(n.end + 8);
      if (rdStart + rdLength > len) throw malformed('rdata runs past the end', rdStart);
      const ttl = buf.readUInt32BE(n.end + 4);
      if (type === RRType.OPT) extendedRcode = buf[n.end + 4];
      const rdata = readRdata(buf, type, rdStart, rdLength);
      off = rdStart + rdLength;
      sections[s].push({ name: n.name, type, class: buf.readUInt16BE(n.end + 2), ttl, rdata, offset: start, end: off });
    }
  }
  if (off !== len) throw malformed(`${len - off} bytes after the last record`, off);
  return {
    id: buf.readUInt16BE(0),
    flags,
    opcode: (flags & OPCODE_MASK) >> 11,
    rcode: (extendedRcode << 4) | (flags & RCODE_MASK),
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
    size: len,
  };
}

export interface MessageHeader {
  readonly id: number;
  /** The header's second word: QR, opcode, AA, TC, RD, RA, AD, CD and the 4-bit rcode. */
  readonly flags: number;
}

export type Section = 'answer' | 'authority' | 'additional';
const SECTION_INDEX: Record<Section, number> = { answer: 0, authority: 1, additional: 2 };

/** Offsets above this cannot be the target of a 14-bit compression pointer. */

/**
 * Builds one message up to `maxBytes`, compressing owner names and the names in NS, CNAME,
 * SOA, PTR and MX rdata. Records go in section order (answer, authority, additional); `add`
 * returns false, leaving the message as it was, when a record would not fit, so a transfer
 * server can fill a message and start the next one.
 */
export class MessageBuilder {
  private readonly buf: Buffer;
  private readonly maxBytes: number;
  /** Canonical (lower-cased) wire suffix → offset where it was written. */
  private readonly suffixes = new Map<string, number>();
  private readonly counts = [0, 0, 0];
  private section = 0;
  private length = HEADER_BYTES;

  constructor(header: MessageHeader, question: DnsQuestion | null, maxBytes: number) {
    if (!(maxBytes >= HEADER_BYTES && maxBytes <= MAX_MESSAGE_BYTES)) throw new RangeError(`maxBytes ${maxBytes} out of range`);
    this.maxBytes = maxBytes;
    this.buf = Buffer.alloc(maxBytes);
    this.buf.writeUInt16BE(header.id & 0xffff, 0);
    this.buf.writeUInt16BE(header.flags & 0xffff, 2);
    if (question !== null) {
      const added: string[] = [];
      const pos = this.writeName(nameToWire(question.name), this.length, added);
      if (pos < 0 || pos + 4 > maxBytes) throw malformed(`question does not fit in ${maxBytes} bytes`);
      this.buf.writeUInt16BE(question.type, pos);
      this.buf.writeUInt16BE(question.class, pos + 2);
      this.buf.writeUInt16BE(1, 4);
      this.length = pos + 4;
    }
  }

  /** Bytes written so far. */
  get size(): number {
    return this.length;
  }

  /** Records added so far, all sections. */
  get recordCount(): number {
    return this.counts[0] + this.counts[1] + this.counts[2];
  }

  add(section: Section, record: WireRecord): boolean {
    const s = SECTION_INDEX[section];
    if (s < this.section) throw new Error(`records must be added in section order (${section} after a later section)`);
    const added: string[] = [];
    const pos = this.writeRecord(record, added);
    if (pos < 0) {
      for (const key of added) this.suffixes.delete(key);
      return false;
    }
    this.section = s;
    this.counts[s]++;
    this.length = pos;
    return true;
  }

  /** The message so far, with its section counts. The builder can keep growing afterwards. */
  finish(): Buffer {
    this.buf.writeUInt16BE(this.counts[0], 6);
    this.buf.writeUInt16BE(this.counts[1], 8);
    this.buf.writeUInt16BE(this.counts[2], 10);
    return Buffer.from(this.buf.subarray(0, this.length));
  }

  /** Writes the record after the current end; returns its end, or -1 when it does not fit. */
  private writeRecord(r: WireRecord, added: string[]): number {
    let pos = this.writeName(nameToWire(r.name), this.length, added);
    if (pos < 0 || pos + 10 > this.maxBytes) return -1;
    this.buf.writeUInt16BE(r.type, pos);
    this.buf.writeUInt16BE(r.class, pos + 2);
    this.buf.writeUInt32BE(r.ttl >>> 0, pos + 4);
    const rdStart = pos + 10;
    pos = rdStart;
    const pieces = compressiblePieces(r.type, r.rdata);
    if (pieces === undefined) {
      if (pos + r.rdata.length > this.maxBytes) return -1;
      r.rdata.copy(this.buf, pos);
      pos += r.rdata.length;
    } else {
      for (const piece of pieces) {
        if (piece.kind === 'name') {
          pos = this.writeName(piece.data, pos, added);
          if (pos < 0) return -1;
        } else {
          if (pos + piece.data.length > this.maxBytes) return -1;
          piece.data.copy(this.buf, pos);
          pos += piece.data.length;
        }
      }
    }
    if (pos - rdStart > 0xffff) return -1;
    this.buf.writeUInt16BE(pos - rdStart, rdStart - 2);
    return pos;
  }

  /** Writes an uncompressed wire name at `pos` using earlier suffixes; returns its end or -1. */
  private writeName(wire: Buffer, pos: number, added: string[]): number {
    const canon = canonicalWire(wire);
    let at = 0;
    while (canon[at] !== 0) {
      const key = canon.toString('latin1', at);
      const target = this.suffixes.get(key);
      if (target !== undefined) {
        if (pos + 2 > this.maxBytes) return -1;
        this.buf.writeUInt16BE(NAME_POINTER | target, pos);
        return pos + 2;
      }
      if (pos <= MAX_POINTER_OFFSET) {
        this.suffixes.set(key, pos);
        added.push(key);
      }
      const labelBytes = 1 + wire[at];
      if (pos + labelBytes > this.maxBytes) return -1;
      wire.copy(this.buf, pos, at, at + labelBytes);
      pos += labelBytes;
      at += labelBytes;
    }
    if (pos + 1 > this.maxBytes) return -1;
    this.buf[pos] = 0;
    return pos + 1;
  }
}

export interface MessageParts extends MessageHeader {
  readonly question?: DnsQuestion | null;
  readonly answers?: readonly WireRecord[];
  readonly authorities?: readonly WireRecord[];
  readonly additionals?: readonly WireRecord[];
}

/** One whole message; throws WIRE_MALFORMED when it does not fit in `maxBytes`. */
export function encodeMessage(parts: MessageParts, maxBytes = MAX_MESSAGE_BYTES): Buffer {
  const b = new MessageBuilder(parts, parts.question ?? null, maxBytes);
  const all: [Section, readonly WireRecord[] | undefined][] = [['answer', parts.answers], ['authority', parts.authorities], ['additional', parts.additionals]];
  for (const [section, records] of all) {
    for (const r of records ?? []) if (!b.add(section, r)) throw malformed(`message does not fit in ${maxBytes} bytes`);
  }
  return b.finish();
}
