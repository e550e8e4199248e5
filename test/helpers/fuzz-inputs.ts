// Hostile DNS inputs shared by the property tests and the network fuzz run. Not a test file itself.
import fc from 'fast-check';
import { encodeQuery } from './wire';

/** Labels as raw bytes, so dots, NULs and high bytes appear inside names. */
const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
const rawName = fc.array(label, { maxLength: 6 }).map((ls) => Buffer.concat([...ls.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]));
const u16 = fc.integer({ min: 0, max: 0xffff });
const flags = fc.oneof(u16, fc.constantFrom(0x0100, 0x0000, 0x0110, 0x2900, 0x8000, 0x7800, 0x0800));
const opt = fc.record({ size: u16, ext: fc.integer({ min: 0, max: 255 }), version: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })), flags: u16, rdata: fc.uint8Array({ maxLength: 40 }), lie: fc.integer({ min: -3, max: 3 }) }).map((o) => {
  const b = Buffer.alloc(11 + o.rdata.length);
  b[0] = 0;
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(o.size, 3);
  b[5] = o.ext;
  b[6] = o.version;
  b.writeUInt16BE(o.flags, 7);
  b.writeUInt16BE(Math.max(0, o.rdata.length + o.lie), 9);
  Buffer.from(o.rdata).copy(b, 11);
  return b;
});
/** Structured but hostile: plausible headers, raw names, optional OPT, cut at any point. */
export const structured = fc.record({ id: u16, flags, qd: fc.oneof(fc.constant(1), u16), an: fc.oneof(fc.constant(0), u16), ns: fc.oneof(fc.constant(0), u16), name: rawName, qtype: fc.oneof(fc.constantFrom(1, 28, 255, 41, 252, 15), u16), qclass: fc.oneof(fc.constant(1), u16), opt: fc.option(opt), cut: fc.option(fc.nat()) }).map((s) => {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(s.id, 0);
  h.writeUInt16BE(s.flags, 2);
  h.writeUInt16BE(s.qd, 4);
  h.writeUInt16BE(s.an, 6);
  h.writeUInt16BE(s.ns, 8);
  h.writeUInt16BE(s.opt ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(s.qtype, 0);
  tail.writeUInt16BE(s.qclass, 2);
  const whole = Buffer.concat([h, s.name, tail, s.opt ?? Buffer.alloc(0)]);
  return s.cut === null ? whole : whole.subarray(0, s.cut % (whole.length + 1));
});
/** A valid query from dns2 with a few bytes flipped. */
export const mutated = fc.record({ name: fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}$/), type: fc.constantFrom(1, 28, 15, 16, 255), edns: fc.boolean(), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }) }).map((m) => {
  const b = Buffer.from(encodeQuery(m.name, { type: m.type, edns: m.edns ? {} : false }));
  for (const [at, v] of m.flips) b[at % b.length] = v;
  return b;
});
const anyBytes = fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u));
export const input = fc.oneof(anyBytes, structured, mutated);


/**
 * A message of `size` bytes (≤ 65535) whose question name is a compression pointer to the end of a
 * chain of pointers, each pointing at the one before it, the first at a real label: a parser that
 * follows pointers without a hop limit (or a loop check) walks the whole chain.
 */
export function pointerChainMessage(size: number, opts: { response?: boolean; id?: number } = {}): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeUInt16BE(opts.id ?? 0x5151, 0);
  buf.writeUInt16BE(opts.response ? 0x8180 : 0x0100, 2);
  buf.writeUInt16BE(1, 4);
  // Question at 12: a pointer (filled in below), then QTYPE A, QCLASS IN.
  buf.writeUInt16BE(1, 14);
  buf.writeUInt16BE(1, 16);
  // The chain from 18: a real name "a.", then pointers, each to the one before it.
  buf[18] = 1;
  buf[19] = 0x61;
  buf[20] = 0;
  let prev = 18;
  let off = 21;
  while (off + 2 <= size && off <= 0x3fff) {
    buf.writeUInt16BE(0xc000 | prev, off);
    prev = off;
    off += 2;
  }
  buf.writeUInt16BE(0xc000 | prev, 12);
  return buf;
}
