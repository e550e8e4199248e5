/**
 * The one IPv6 text parser for hot and per-packet paths (ipaddr.js, used by config and the access
 * list, allocates per call). A leaf: imports nothing.
 */

/**
 * Fills `out` (eight entries) with the 16-bit groups of an IPv6 address as Node reports or a user
 * writes it: "::" shorthand, any case, a dotted IPv4 tail ("::ffff:192.0.2.1"); a zone ("%eth0")
 * is ignored. False when the text is not such an address (then `out` holds garbage).
 */
export function parseIpv6Groups(text: string, out: Int32Array): boolean {
  const zone = text.indexOf('%');
  let end = zone >= 0 ? zone : text.length;
  let groups = 8;
  const dot = text.lastIndexOf('.', end - 1);
  if (dot >= 0) {
    const colon = text.lastIndexOf(':', dot);
    if (colon < 0 || !parseDottedQuad(text, colon + 1, end, out)) return false;
    groups = 6;
    // "…::192.0.2.1" keeps its "::"; in "…:192.0.2.1" the colon only separates.
    end = colon > 0 && text.charCodeAt(colon - 1) === COLON ? colon + 1 : colon;
  }
  const gap = text.indexOf('::');
  if (gap < 0 || gap >= end) return parseGroups(text, 0, end, out, 0, groups) === groups;
  const head = gap === 0 ? 0 : parseGroups(text, 0, gap, out, 0, groups);
  if (head < 0) return false;
  const tail = gap + 2 === end ? 0 : parseGroups(text, gap + 2, end, out, head, groups);
  if (tail < 0 || head + tail > groups - 1) return false;
  // Move the tail groups to the end and zero the gap ("::" stands for at least one group).
  for (let k = tail - 1; k >= 0; k--) out[groups - tail + k] = out[head + k];
  for (let k = head; k < groups - tail; k++) out[k] = 0;
  return true;
}

const COLON = 0x3a;
const DOT = 0x2e;

/** Colon-separated hex groups of `s[from, to)` into `out` from index `at` (below `limit`); count, or -1. */
function parseGroups(s: string, from: number, to: number, out: Int32Array, at: number, limit: number): number {
  let count = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    if (i === to || s.charCodeAt(i) === COLON) {
      if (digits === 0 || at + count >= limit) return -1;
      out[at + count] = value;
      count++;
      value = 0;
      digits = 0;
      continue;
    }
    const c = s.charCodeAt(i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0 || ++digits > 4) return -1;
    value = value * 16 + d;
  }
  return count;
}

/** "a.b.c.d" in `s[from, to)` into out[6] and out[7]; false unless four decimal octets. */
function parseDottedQuad(s: string, from: number, to: number, out: Int32Array): boolean {
  let octets = 0;
  let value = 0;
  let digits = 0;
  let high = 0;
  for (let i = from; i <= to; i++) {
    if (i === to || s.charCodeAt(i) === DOT) {
      if (digits === 0 || octets === 4) return false;
      if (octets % 2 === 0) high = value;
      else out[6 + (octets >> 1)] = (high << 8) | value;
      octets++;
      value = 0;
      digits = 0;
      continue;
    }
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9 || ++digits > 3) return false;
    value = value * 10 + d;
    if (value > 255) return false;
  }
  return octets === 4;
}
