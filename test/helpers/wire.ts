import { Packet } from 'dns2';

export interface QueryOptions {
  id?: number;
  type?: number;
  cls?: number;
  rd?: boolean;
  edns?: { size?: number; do?: boolean; version?: number } | false;
}

/** Builds a query with the second codec (dns2), so our parser is checked against another's encoder. */
/**
 * An OPT record as dns2 builds it (`Packet.Resource.EDNS(options, flags)`). dns2 3.0.0's type
 * declarations name only the first parameter although its code reads both; this one signature
 * works with the 3.0.0 the tests pin (3.1.1 declares node >= 22).
 */
export function ednsRecord(opts: { udpPayloadSize?: number; doFlag?: boolean } = {}): Packet.Resource {
  return (Packet.Resource.EDNS as unknown as (rdata: unknown[], o: typeof opts) => Packet.Resource)([], opts);
}

export function encodeQuery(name: string, options: QueryOptions = {}): Buffer {
  const p = new Packet();
  p.header.id = options.id ?? 0x4242;
  p.header.rd = options.rd === false ? 0 : 1;
  p.questions.push({ name, type: options.type ?? Packet.TYPE.A, class: options.cls ?? Packet.CLASS.IN } as never);
  if (options.edns !== false) {
    const e = options.edns ?? {};
    // dns2 encodes extended rcode/version/flags through the TTL field.
    const ttl = ((e.version ?? 0) << 16) | (e.do ? 0x8000 : 0);
    p.additionals.push({ name: '', type: Packet.TYPE.EDNS, class: e.size ?? 1232, ttl, rdata: [] } as never);
  }
  return Buffer.from(p.toBuffer());
}

export function decode(buf: Buffer): ReturnType<typeof Packet.parse> {
  return Packet.parse(buf);
}

/** A resource record for encodeResponse: dns2's fields, class IN unless given. */
export type ResponseRecord = Partial<Packet.Resource> & { name: string; type: number; ttl: number };

export interface ResponseSpec {
  id?: number;
  qname: string;
  qtype?: number;
  rcode?: number;
  tc?: boolean;
  answers?: ResponseRecord[];
  authorities?: ResponseRecord[];
  additionals?: ResponseRecord[];
  /** An OPT record (payload size 1232 unless given), or none. */
  opt?: { udpPayloadSize?: number; doFlag?: boolean } | false;
}

/** A response encoded by dns2 (which compresses names): the second codec for our scanners. */
export function encodeResponse(b: ResponseSpec): Buffer {
  const IN = Packet.CLASS.IN;
  const p = new Packet();
  Object.assign(p.header, { id: b.id ?? 0x1234, qr: 1, rd: 1, ra: 1, rcode: b.rcode ?? 0, tc: b.tc ? 1 : 0 });
  p.questions.push({ name: b.qname, type: b.qtype ?? Packet.TYPE.A, class: IN } as Packet.Question);
  for (const r of b.answers ?? []) p.answers.push({ class: IN, ...r } as Packet.Resource);
  for (const r of b.authorities ?? []) p.authorities.push({ class: IN, ...r } as Packet.Resource);
  for (const r of b.additionals ?? []) p.additionals.push({ class: IN, ...r } as Packet.Resource);
  if (b.opt) p.additionals.push(ednsRecord({ udpPayloadSize: b.opt.udpPayloadSize ?? 1232, doFlag: b.opt.doFlag ?? false }));
  return Buffer.from(p.toBuffer());
}
