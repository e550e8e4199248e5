import { serialAdd, serialGt, toSerial } from '../codec/serial';

export { serialAdd, serialCompare, serialGt, toSerial, SERIAL_MODULO } from '../codec/serial';

/**
 * SOA serial numbers of published zones: the rule for the next one (RFC 1982 arithmetic is in
 * fleet/codec/serial.ts). A serial is the time, in unix seconds, at which the data it names was fetched
 * from the API (by the API's clock when it says), never the hub's "now": across the hubs of a
 * fleet a higher serial means fresher data, whatever each hub's clock, start time or serial
 * store says. docs/fleet.md ("Serials") has the argument and its cases.
 */

/** What a hub remembers per published zone, so the serial survives restarts. */
export interface SerialRecord {
  readonly serial: number;
  /** zoneDigest of the content that serial names. */
  readonly digest: string;
}

/**
 * The serial for content with `digest` whose data was fetched at `dataSec`:
 * - unchanged content keeps its serial (a steady fleet transfers nothing);
 * - nothing remembered (first start, lost or corrupt store): the data time itself;
 * - changed content with data newer than the last serial: the data time;
 * - changed content in the same second as the last serial: that serial + 1, so the hub's own
 *   secondaries see the change (ahead of the data time by at most the changes within a second);
 * - changed content with data older than the last serial (a state restored from a backup, an
 *   API clock stepped back): the data time, lower than before, so secondaries holding the newer
 *   zone keep it until this hub has data newer than theirs.
 */
export function serialForData(prev: SerialRecord | undefined, digest: string, dataSec: number): number {
  const data = toSerial(dataSec);
  if (prev === undefined) return data;
  if (prev.digest === digest) return toSerial(prev.serial);
  if (data === toSerial(prev.serial)) return serialAdd(prev.serial, 1);
  return data;
}

/**
 * `export --format rpz`, a file on its own: unchanged content keeps its serial; changed content gets
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
