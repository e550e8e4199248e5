import { Packet } from 'dns2';

export interface QueryOptions {
  id?: number;
  type?: number;
  cls?: number;
  rd?: boolean;
  edns?: { size?: number; do?: boolean; version?: number } | false;
}

/** Builds a query with the second codec (dns2), so our parser is checked against another's encoder. */
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
