import { serialAdd, serialGt, toSerial } from '../codec/serial';

export { serialAdd, serialCompare, serialGt, toSerial, SERIAL_MODULO } from '../codec/serial';

/**
 * SOA serial numbers of published zones: the rule for the next one (RFC 1982 arithmetic is in
 * fleet/codec/serial.ts). A serial is the unix time, in seconds, of the last content change, so it never goes
 * back across restarts and two hubs that publish the same data give comparable serials.
 */

/** What a hub remembers per published zone, so the serial survives restarts. */
export interface SerialRecord {
  readonly serial: number;
  /** zoneDigest of the content that serial names. */
  readonly digest: string;
}

/**
 * The serial for content with `digest`: unchanged content keeps its serial; changed content gets
 * the current time, or previous + 1 when the clock is not ahead of it (a clock stepped back, two
 * changes in one second, a serial taken over from a hub whose clock ran fast).
 */
export function nextSerial(prev: SerialRecord | undefined, digest: string, nowSec: number): number {
  const now = toSerial(nowSec);
  if (prev === undefined) return now;
  if (prev.digest === digest) return toSerial(prev.serial);
  const bumped = serialAdd(prev.serial, 1);
  return serialGt(now, bumped) ? now : bumped;
}
