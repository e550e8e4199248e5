import type { ResponseScan } from './message-scan';

/**
 * Copies `message` into `out` at `at` without its OPT record (OPT belongs to one hop, RFC 6891
 * §6.1.1) and without any bytes after the last record, ARCOUNT adjusted. `out` needs
 * `scan.end - scan.optLength` bytes from `at`; returns it.
 */
export function copyWithoutOpt(message: Buffer, scan: ResponseScan, out: Buffer, at = 0): Buffer {
  if (!scan.hasOpt) {
    message.copy(out, at, 0, scan.end);
    return out;
  }
  message.copy(out, at, 0, scan.optOffset);
  message.copy(out, at + scan.optOffset, scan.optOffset + scan.optLength, scan.end);
  out.writeUInt16BE(scan.arcount - 1, at + 10);
  return out;
}

/** `message` without OPT (see copyWithoutOpt): a pooled copy when it has one, else itself or a view of it. */
export function stripOpt(message: Buffer, scan: ResponseScan): Buffer {
  if (!scan.hasOpt) return scan.end === message.length ? message : message.subarray(0, scan.end);
  return copyWithoutOpt(message, scan, Buffer.allocUnsafe(scan.end - scan.optLength));
}
