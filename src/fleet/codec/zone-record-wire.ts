import ipaddr from 'ipaddr.js';
import { CLASS_IN, RRType } from '../../wire/constants';
import type { WireRecord } from './message';
import { malformed, nameToWire, wireToName } from '../../wire/name-codec';
import type { ZoneRecord } from './zone-record';

/** ZoneRecord (presentation) ↔ wire record, for the types a policy zone holds. */

const SOA_FIXED_BYTES = 20;

/**
 * The wire form (class IN, uncompressed rdata) of a zone record. Throws WIRE_MALFORMED for data
 * that is not canonical for its type and for types a policy zone does not hold.
 */
export function zoneRecordToWire(r: ZoneRecord): WireRecord {
  return { name: r.name, type: r.type, class: CLASS_IN, ttl: r.ttl, rdata: rdataOf(r) };
}

function rdataOf(r: ZoneRecord): Buffer {
  switch (r.type) {
    case RRType.A:
      if (!ipaddr.IPv4.isValidFourPartDecimal(r.data)) throw malformed(`A data "${r.data}" is not an IPv4 address`);
      return Buffer.from(ipaddr.IPv4.parse(r.data).toByteArray());
    case RRType.AAAA:
      if (!ipaddr.IPv6.isValid(r.data)) throw malformed(`AAAA data "${r.data}" is not an IPv6 address`);
      return Buffer.from(ipaddr.IPv6.parse(r.data).toByteArray());
    case RRType.NS:
    case RRType.CNAME:
      return nameToWire(r.data);
    case RRType.SOA: {
      const f = r.data.split(' ');
      const numbers = f.slice(2).map(Number);
      if (f.length !== 7 || !numbers.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) {
        throw malformed(`SOA data "${r.data}" is not "mname rname serial refresh retry expire minimum"`);
      }
      const fixed = Buffer.alloc(SOA_FIXED_BYTES);
      numbers.forEach((n, i) => {
        fixed.writeUInt32BE(n, i * 4);
      });
      return Buffer.concat([nameToWire(f[0]), nameToWire(f[1]), fixed]);
    }
    case RRType.TXT: {
      const text = Buffer.from(r.data, 'utf8');
      if (text.length > 255) throw malformed(`TXT data of ${text.length} bytes is over one character-string`);
      return Buffer.concat([Buffer.from([text.length]), text]);
    }
    default:
      throw malformed(`type ${r.type} is not a policy zone type`);
  }
}

/**
 * The zone record of a wire record, or undefined for a class other than IN, a type a policy zone
 * does not hold, or data this form cannot spell (several TXT strings, non-UTF-8 text, a name with
 * a space in SOA). Never throws.
 */
export function wireToZoneRecord(w: WireRecord): ZoneRecord | undefined {
  if (w.class !== CLASS_IN) return undefined;
  const data = dataOf(w.type, w.rdata);
  return data === undefined ? undefined : { name: w.name, type: w.type, ttl: w.ttl, data };
}

function dataOf(type: number, rdata: Buffer): string | undefined {
  switch (type) {
    case RRType.A:
      return rdata.length === 4 ? Array.from(rdata).join('.') : undefined;
    case RRType.AAAA:
      return rdata.length === 16 ? ipaddr.fromByteArray(Array.from(rdata)).toString() : undefined;
    case RRType.NS:
    case RRType.CNAME: {
      const n = wholeName(rdata, 0);
      return n !== undefined && n.end === rdata.length ? n.name : undefined;
    }
    case RRType.SOA: {
      const m = wholeName(rdata, 0);
      const r = m === undefined ? undefined : wholeName(rdata, m.end);
      if (m === undefined || r === undefined || r.end + SOA_FIXED_BYTES !== rdata.length) return undefined;
      if (m.name.includes(' ') || r.name.includes(' ')) return undefined;
      const numbers = [0, 1, 2, 3, 4].map((i) => rdata.readUInt32BE(r.end + i * 4));
      return [m.name, r.name, ...numbers].join(' ');
    }
    case RRType.TXT: {
      if (rdata.length === 0 || rdata[0] !== rdata.length - 1) return undefined;
      const text = rdata.toString('utf8', 1);
      return Buffer.from(text, 'utf8').equals(rdata.subarray(1)) ? text : undefined;
    }
    default:
      return undefined;
  }
}

/** The uncompressed name at `at` of `rdata` (the parser already decompressed it), or undefined. */
function wholeName(rdata: Buffer, at: number): { name: string; end: number } | undefined {
  let pos = at;
  while (pos < rdata.length && rdata[pos] !== 0) {
    if (rdata[pos] > 63) return undefined;
    pos += 1 + rdata[pos];
  }
  if (pos >= rdata.length || pos - at + 1 > 255) return undefined;
  return { name: wireToName(rdata.subarray(at, pos + 1)), end: pos + 1 };
}
