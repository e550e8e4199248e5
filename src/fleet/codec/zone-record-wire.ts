import ipaddr from 'ipaddr.js';
import { CLASS_IN, RRType } from '../../wire/constants';
import type { WireRecord } from './message';
import { malformed, nameToWire, uncompressedNameEnd, wireToName } from '../../wire/name-codec';
import { decodeSoa, encodeSoa, formatSoa, parseSoa, type Soa } from './soa';
import type { ZoneRecord } from './zone-record';

/** ZoneRecord (presentation) ↔ wire record, for the types a policy zone holds. */

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
      const soa = parseSoa(r.data);
      if (soa === undefined) throw malformed(`SOA data "${r.data}" is not "mname rname serial refresh retry expire minimum"`);
      return encodeSoa(soa);
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
  if (w.type === RRType.SOA) return wireToSoa(w)?.record;
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
    case RRType.TXT: {
      if (rdata.length === 0 || rdata[0] !== rdata.length - 1) return undefined;
      const text = rdata.toString('utf8', 1);
      return Buffer.from(text, 'utf8').equals(rdata.subarray(1)) ? text : undefined;
    }
    default:
      return undefined;
  }
}

/** A wire SOA (class IN) decoded once: typed, and as the zone record wireToZoneRecord makes of it. */
export function wireToSoa(w: WireRecord): { readonly soa: Soa; readonly record: ZoneRecord } | undefined {
  if (w.class !== CLASS_IN || w.type !== RRType.SOA) return undefined;
  const soa = decodeSoa(w.rdata);
  if (soa === undefined || soa.mname.includes(' ') || soa.rname.includes(' ')) return undefined;
  return { soa, record: { name: w.name, type: w.type, ttl: w.ttl, data: formatSoa(soa) } };
}

/** The uncompressed name at `at` of `rdata` (the parser already decompressed it), or undefined. */
function wholeName(rdata: Buffer, at: number): { name: string; end: number } | undefined {
  const end = uncompressedNameEnd(rdata, at);
  return end < 0 ? undefined : { name: wireToName(rdata, at), end };
}
