/** SOA serial arithmetic (RFC 1982, SERIAL_BITS = 32): serials wrap, so "newer" is modular. */

/** True when serial `a` is newer than `b`; false when equal, older, or exactly 2^31 apart (undefined in RFC 1982). */
export function serialGreater(a: number, b: number): boolean {
  const d = ((a >>> 0) - (b >>> 0) + 0x1_0000_0000) % 0x1_0000_0000;
  return d !== 0 && d < 0x8000_0000;
}

/** The serial after `s`: 2^32 - 1 wraps to 0 (RFC 1982 allows it; the next is still "greater"). */
export function serialNext(s: number): number {
  return ((s >>> 0) + 1) % 0x1_0000_0000;
}
