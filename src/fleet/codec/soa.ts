import { malformed, nameToWire, uncompressedNameEnd, wireToName } from '../../wire/name-codec';
import { toSerial } from './serial';

/**
 * The SOA as one typed value: read once from its wire rdata or its presentation data, and read
 * by field after that (the serial is `soa.serial`, never a word cut out of text).
 */
export interface Soa {
  /** Presentation names, as ZoneRecord keeps them: lower case, no trailing dot. */
  readonly mname: string;
  readonly rname: string;
  /** RFC 1982 serial: an unsigned 32-bit number. */
  readonly serial: number;
  readonly refreshS: number;
  readonly retryS: number;
  readonly expireS: number;
  /** Negative-caching TTL (RFC 2308). */
  readonly minimumS: number;
}

/** SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM: five 32-bit fields after the two names. */
const SOA_FIXED_BYTES = 20;

/** The presentation data of an SOA as ZoneRecord keeps it: "mname rname serial refresh retry expire minimum". */
export function formatSoa(soa: Soa): string {
  return `${soa.mname} ${soa.rname} ${toSerial(soa.serial)} ${soa.refreshS} ${soa.retryS} ${soa.expireS} ${soa.minimumS}`;
}

/** The SOA of presentation data as ZoneRecord keeps it; undefined when malformed. */
export function parseSoa(data: string): Soa | undefined {
  const p = data.split(' ');
  if (p.length !== 7) return undefined;
  const [mname, rname, ...nums] = p as [string, string, ...string[]];
  const n = nums.map((x) => (/^\d{1,10}$/.test(x) ? Number(x) : NaN));
  if (n.some((x) => !(x >= 0 && x < 2 ** 32))) return undefined;
  const [serial, refreshS, retryS, expireS, minimumS] = n as [number, number, number, number, number];
  return { mname, rname, serial, refreshS, retryS, expireS, minimumS };
}

/** The SOA of uncompressed rdata (as the message parser hands it over); undefined when it is not one. */
export function decodeSoa(rdata: Buffer): Soa | undefined {
  const mEnd = uncompressedNameEnd(rdata, 0);
  const rEnd = mEnd < 0 ? -1 : uncompressedNameEnd(rdata, mEnd);
  if (rEnd < 0 || rEnd + SOA_FIXED_BYTES !== rdata.length) return undefined;
  const field = (i: number): number => rdata.readUInt32BE(rEnd + i * 4);
  return {
    mname: wireToName(rdata, 0),
    rname: wireToName(rdata, mEnd),
    serial: field(0),
    refreshS: field(1),
    retryS: field(2),
    expireS: field(3),
    minimumS: field(4),
  };
}

/** Uncompressed rdata of an SOA; throws WIRE_MALFORMED for a bad name or a field outside 32 bits. */
export function encodeSoa(soa: Soa): Buffer {
  const fixed = Buffer.alloc(SOA_FIXED_BYTES);
  [soa.serial, soa.refreshS, soa.retryS, soa.expireS, soa.minimumS].forEach((n, i) => {
    if (!(Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) throw malformed(`SOA field ${n} is not a 32-bit number`);
    fixed.writeUInt32BE(n, i * 4);
  });
  return Buffer.concat([nameToWire(soa.mname), nameToWire(soa.rname), fixed]);
}
