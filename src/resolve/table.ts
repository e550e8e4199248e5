import ipaddr from 'ipaddr.js';
import { runNow, unlimitedBudget, type SliceBudget, type Sliced } from '../runtime/slices';

/** Names whose wildcard lookup a table remembers (then forgets them all and starts again). */
const WILDCARD_MEMO_LIMIT = 4096;

/** The rdata of every record without addresses of a family (zero bytes: nothing to write into). */
const EMPTY_RDATA = Buffer.alloc(0);

/** What the table is built from: one group of names that share the same addresses. */
export interface TableEntryInput {
  /** Stable identity for status and metrics: an endpoint id, "service:<name>" or "static:<first name>". */
  readonly id: string;
  /** Lower-case names without the trailing dot; a leading "*." makes a wildcard. */
  readonly names: readonly string[];
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  /**
   * What a name without usable IPs gets, when the data says so (a policy zone's rpz-drop or
   * rpz-passthru); absent: the configured records.on_unavailable.
   */
  readonly unavailable?: 'servfail' | 'forward';
  /**
   * Addresses held back by prefer_zones: answered instead of ipv4/ipv6 only when reachability
   * probes find every one of those unreachable and some of these reachable.
   */
  readonly fallback?: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
}

/** One answerable record set, with its addresses pre-encoded for the wire. */
export interface TableRecord {
  readonly id: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  /** 4 bytes per address, in configured order. */
  readonly aRdata: Buffer;
  /** 16 bytes per address. */
  readonly aaaaRdata: Buffer;
  /** Copied from the input: overrides records.on_unavailable when the record has no addresses. */
  readonly unavailable?: 'servfail' | 'forward';
  /** Bumped per A/AAAA response to rotate the answer order; the prober reads it as "asked" (no extra hot-path work). */
  rotation: number;
}

export interface TableMatch {
  readonly record: TableRecord;
  /** Number of leading labels of the query name above the matched apex (0 for an exact match). */
  readonly labelsAboveApex: number;
}

/**
 * The managed-name table. Immutable once built (only the rotation counters move); a sync
 * builds a new one and the resolver swaps the reference, so a query never sees half a table.
 */
export class AnswerTable {
  readonly version: number;
  readonly builtAt: number;
  /** Exact names to their match, made once per record (lookup hands out the same object every time). */
  private readonly exact = new Map<string, TableMatch>();
  private readonly wildcards = new Map<string, TableRecord>();
  /** Wildcard lookups of names asked before (see lookup), hits and misses; cleared when full. */
  private readonly wildcardMemo = new Map<string, TableMatch | null>();
  readonly inputs: readonly TableEntryInput[];
  /** One record per input, in input order. */
  readonly records: TableRecord[] = [];

  private constructor(inputs: readonly TableEntryInput[], version: number) {
    this.inputs = inputs;
    this.version = version;
    this.builtAt = Date.now();
  }

  static build(inputs: readonly TableEntryInput[], version = 1): AnswerTable {
    return runNow(AnswerTable.buildInSlices(inputs, version, unlimitedBudget()));
  }

  /**
   * build, one unit per input and per address (a table of a zone at its bound is built between
   * queries). The inputs are kept as given, not copied (their type is read-only; the sources build
   * new ones for every change): a hub of 10,000 names held a frozen copy of each, ~4 MB. The
   * addresses of all records are encoded into one buffer per table, and records without addresses
   * of a family share one empty buffer: no buffer of its own per record and family (~180 B each).
   */
  static *buildInSlices(inputs: readonly TableEntryInput[], version: number, budget: SliceBudget): Sliced<AnswerTable> {
    const table = new AnswerTable(Object.freeze([...inputs]), version);
    let bytes = 0;
    for (const input of inputs) bytes += 4 * input.ipv4.length + 16 * input.ipv6.length;
    const rdata = bytes === 0 ? EMPTY_RDATA : Buffer.allocUnsafeSlow(bytes);
    let offset = 0;
    const encode = (addresses: readonly string[], size: 4 | 16): Buffer => {
      if (addresses.length === 0) return EMPTY_RDATA;
      const start = offset;
      for (const a of addresses) {
        rdata.set((size === 4 ? ipaddr.IPv4 : ipaddr.IPv6).parse(a).toByteArray(), offset);
        offset += size;
      }
      return rdata.subarray(start, offset);
    };
    for (const input of inputs) {
      const record: TableRecord = {
        id: input.id,
        ipv4: input.ipv4,
        ipv6: input.ipv6,
        aRdata: encode(input.ipv4, 4),
        aaaaRdata: encode(input.ipv6, 16),
        rotation: 0,
        ...(input.unavailable !== undefined ? { unavailable: input.unavailable } : {}),
      };
      table.records.push(record);
      const exactMatch: TableMatch = { record, labelsAboveApex: 0 };
      for (const name of input.names) {
        if (name.startsWith('*.')) table.wildcards.set(name.slice(2), record);
        else table.exact.set(name, exactMatch);
      }
      if (budget.spend(1 + input.ipv4.length + input.ipv6.length)) yield;
    }
    return table;
  }

  static empty(): AnswerTable {
    return AnswerTable.build([], 0);
  }

  get size(): number {
    return this.exact.size + this.wildcards.size;
  }

  /**
   * `name`: lower case, no trailing dot. Exact names win; then the longest wildcard suffix. The
   * match objects are shared: treat them as read-only. With `remember` (a name asked before, whose
   * string the parser keeps), the wildcard walk's result is kept for the next time: the walk
   * slices a string per label.
   */
  lookup(name: string, remember = false): TableMatch | undefined {
    const exact = this.exact.get(name);
    if (exact) return exact;
    if (this.wildcards.size === 0) return undefined;
    if (!remember) return this.walkWildcards(name);
    const known = this.wildcardMemo.get(name);
    if (known !== undefined) return known ?? undefined;
    const found = this.walkWildcards(name);
    if (this.wildcardMemo.size >= WILDCARD_MEMO_LIMIT) this.wildcardMemo.clear();
    this.wildcardMemo.set(name, found ?? null);
    return found;
  }

  private walkWildcards(name: string): TableMatch | undefined {
    let labels = 0;
    let dot = name.indexOf('.');
    while (dot >= 0) {
      labels++;
      const suffix = name.slice(dot + 1);
      const wild = this.wildcards.get(suffix);
      if (wild) return { record: wild, labelsAboveApex: labels };
      dot = name.indexOf('.', dot + 1);
    }
    return undefined;
  }

  /** The record of the wildcard `*.<name>` (the name is its parent: an apex of ours), if any. */
  wildcardParent(name: string): TableRecord | undefined {
    return this.wildcards.get(name);
  }

  /** Whether this table manages a name (or wildcard) that `previous` did not. */
  addsNamesTo(previous: AnswerTable): boolean {
    return runNow(this.addsNamesInSlices(previous, unlimitedBudget()));
  }

  /** addsNamesTo, one unit per name. */
  *addsNamesInSlices(previous: AnswerTable, budget: SliceBudget): Sliced<boolean> {
    for (const name of this.exact.keys()) {
      if (!previous.exact.has(name)) return true;
      if (budget.spend()) yield;
    }
    for (const name of this.wildcards.keys()) {
      if (!previous.wildcards.has(name)) return true;
      if (budget.spend()) yield;
    }
    return false;
  }
}
