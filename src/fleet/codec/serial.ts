/** SOA serial arithmetic (RFC 1982, SERIAL_BITS = 32): serials are unsigned 32-bit numbers that wrap. */

export const SERIAL_MODULO = 2 ** 32;
const HALF = 2 ** 31;

/** A serial, as the unsigned 32-bit number the wire carries. */
export function toSerial(n: number): number {
  return ((Math.floor(n) % SERIAL_MODULO) + SERIAL_MODULO) % SERIAL_MODULO;
}

/**
 * RFC 1982 §3.2: -1 when a precedes b, 1 when a follows b, 0 when equal, undefined when they are
 * exactly 2^31 apart (the comparison is not defined there; callers treat it as "not newer").
 */
export function serialCompare(a: number, b: number): -1 | 0 | 1 | undefined {
  const d = toSerial(toSerial(a) - toSerial(b));
  if (d === 0) return 0;
  if (d === HALF) return undefined;
  return d < HALF ? 1 : -1;
}

/** a is strictly newer than b. */
export function serialGt(a: number, b: number): boolean {
  return serialCompare(a, b) === 1;
}

/** RFC 1982 §3.1: adding more than 2^31 - 1 is not defined. */
export function serialAdd(s: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > HALF - 1) throw new RangeError(`serial increment must be 0..2^31-1, got ${n}`);
  return toSerial(toSerial(s) + n);
}
