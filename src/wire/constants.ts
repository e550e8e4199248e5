/** Wire constants (RFC 1035, 6891, 8482). */
export const RRType = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, HINFO: 13, ANY: 255, AXFR: 252, IXFR: 251,
} as const;

export const RCode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
  /** Extended rcode 16, carried as 1 in the OPT's upper bits plus 0 in the header. */
  BADVERS: 16,
} as const;

export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS',
};

export const CLASS_IN = 1;
export const CLASS_CHAOS = 3;
export const HEADER_BYTES = 12;
/** Our advertised EDNS UDP payload (DNS flag day 2020). */
export const EDNS_UDP_PAYLOAD = 1232;
export const MIN_UDP_PAYLOAD = 512;
export const MAX_NAME_BYTES = 255;
/** A DNS message's length is a 16-bit field (TCP framing, RFC 1035 §4.2.2). */
export const MAX_MESSAGE_BYTES = 0xffff;
/** RFC 2181 §8: a TTL with the top bit set is treated as zero. */
export const MAX_TTL = 0x7fffffff;
/** Queries are small; anything larger over UDP is not a query we answer. */
export const MAX_QUERY_BYTES = 4096;

// Header flag bits (second 16-bit word).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
export const OPCODE_MASK = 0x7800;
/** The header's 4 rcode bits; the OPT carries 8 more above them (RFC 6891 §6.1.3). */
export const RCODE_MASK = 0x000f;
/** DO, the high bit of the OPT flags' first byte (RFC 3225). */
export const OPT_DO_BIT = 0x80;
/** EDNS option code of the name server identifier (RFC 5001). */
export const EDNS_OPTION_NSID = 3;
/** The longest NSID we send: room for it is kept free in every transfer message (beside TSIG). */
export const MAX_NSID_BYTES = 128;
/** A length byte with both top bits set starts a compression pointer (RFC 1035 §4.1.4). */
export const POINTER_BITS = 0xc0;
/** A whole compression pointer: `NAME_POINTER | offset`. */
export const NAME_POINTER = 0xc000;
/** The largest message offset a compression pointer can hold (14 bits). */
export const MAX_POINTER_OFFSET = 0x3fff;
/** The low six bits of a length byte: a label length, or the high bits of a pointer's offset. */
export const LABEL_LENGTH_MASK = 0x3f;
export const OPCODE_QUERY = 0;

const TYPE_NAMES = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
/** Low-cardinality label for metrics: known names, else "OTHER". */
export function typeLabel(qtype: number): string {
  return TYPE_NAMES.get(qtype) ?? 'OTHER';
}

// Zone transfer, NOTIFY and TSIG (RFC 1995, 1996, 5936, 8945).
export const TYPE_TSIG = 250;
export const CLASS_ANY = 255;
export const OPCODE_NOTIFY = 4;
export const OPCODE_UPDATE = 5;
export const RCODE_NOTAUTH = 9;
