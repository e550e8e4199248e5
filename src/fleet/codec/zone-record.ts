/**
 * One resource record as a zone holds it: owner, type, TTL and presentation data. Zones are built,
 * diffed (IXFR journal), rendered (zone files) and persisted in this form; the codec turns it into
 * wire bytes and back. Only the types a policy zone uses are supported: SOA, NS, CNAME, A, AAAA, TXT.
 */
export interface ZoneRecord {
  /** Absolute owner name: lower case, no trailing dot, "\\." escapes as in parseQuery. */
  readonly name: string;
  /** RRType number (wire/constants.ts). */
  readonly type: number;
  readonly ttl: number;
  /**
   * Presentation data, canonical so equal data compares equal as strings:
   * A / AAAA: the address as ipaddr.js prints it (IPv6 compressed, lower case);
   * CNAME / NS: the target name, lower case, no trailing dot (the RPZ actions are "rpz-drop", "rpz-passthru");
   * SOA: "mname rname serial refresh retry expire minimum" (names lower case, no trailing dots);
   * TXT: the single character-string's text (at most 255 bytes), unquoted.
   */
  readonly data: string;
}

/** The key that identifies a record in a zone (IXFR diffs compare by it). */
export function zoneRecordKey(r: ZoneRecord): string {
  return `${r.name}\u0000${r.type}\u0000${r.ttl}\u0000${r.data}`;
}
