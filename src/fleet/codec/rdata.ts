import { RRType } from '../../wire/constants';
import { malformed, readName, uncompressedNameEnd } from '../../wire/name-codec';

/**
 * Where names sit inside the rdata of the types that embed them: a name, or a run of fixed bytes.
 * The parser decompresses these names; the builder may compress those of RFC 1035 types only
 * (RFC 3597 §4: NS, CNAME, SOA, PTR, MX), never SRV's target.
 */
type Part = 'name' | number;
const LAYOUTS = new Map<number, { parts: readonly Part[]; compressible: boolean }>([
  [RRType.NS, { parts: ['name'], compressible: true }],
  [RRType.CNAME, { parts: ['name'], compressible: true }],
  [RRType.PTR, { parts: ['name'], compressible: true }],
  [RRType.SOA, { parts: ['name', 'name', 20], compressible: true }],
  [RRType.MX, { parts: [2, 'name'], compressible: true }],
  [RRType.SRV, { parts: [6, 'name'], compressible: false }],
]);

/** Fixed rdata sizes checked on parse. */
const FIXED_SIZES = new Map<number, number>([[RRType.A, 4], [RRType.AAAA, 16]]);

/**
 * The rdata of the record at [start, start + length) of `msg`, embedded names decompressed into
 * uncompressed wire form; other types are copied as they are. Throws WIRE_MALFORMED when the
 * names and fixed fields do not fill the rdata exactly.
 */
export function readRdata(msg: Buffer, type: number, start: number, length: number): Buffer {
  const end = start + length;
  const fixed = FIXED_SIZES.get(type);
  if (fixed !== undefined && fixed !== length) throw malformed(`rdata of type ${type} is ${length} bytes, not ${fixed}`, start);
  const layout = LAYOUTS.get(type);
  if (layout === undefined) return Buffer.from(msg.subarray(start, end));
  const out: Buffer[] = [];
  let pos = start;
  for (const part of layout.parts) {
    if (part === 'name') {
      if (pos >= end) throw malformed('rdata name missing', pos);
      const n = readName(msg, pos);
      if (n.end > end) throw malformed('rdata name runs past the rdata', pos);
      out.push(n.wire);
      pos = n.end;
    } else {
      if (pos + part > end) throw malformed('rdata cut short', pos);
      out.push(msg.subarray(pos, pos + part));
      pos += part;
    }
  }
  if (pos !== end) throw malformed('rdata longer than its fields', pos);
  return Buffer.concat(out);
}

export interface RdataPiece {
  readonly kind: 'name' | 'bytes';
  readonly data: Buffer;
}

/**
 * Splits uncompressed rdata into names and fixed bytes for the builder to compress, or undefined
 * for types whose names must stay uncompressed (or that hold none) and for rdata that does not fit
 * its layout (then it is written as it is).
 */
export function compressiblePieces(type: number, rdata: Buffer): RdataPiece[] | undefined {
  const layout = LAYOUTS.get(type);
  if (layout === undefined || !layout.compressible) return undefined;
  const pieces: RdataPiece[] = [];
  let pos = 0;
  for (const part of layout.parts) {
    if (part === 'name') {
      const end = uncompressedNameEnd(rdata, pos);
      if (end < 0) return undefined;
      pieces.push({ kind: 'name', data: rdata.subarray(pos, end) });
      pos = end;
    } else {
      if (pos + part > rdata.length) return undefined;
      pieces.push({ kind: 'bytes', data: rdata.subarray(pos, pos + part) });
      pos += part;
    }
  }
  return pos === rdata.length ? pieces : undefined;
}
