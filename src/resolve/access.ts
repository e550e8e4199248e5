import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Decisions remembered per address; bounded so a spoofed flood cannot grow memory. */
const MEMO_LIMIT = 65_536;

/** `access.allow` as a predicate. Parsing a client address costs ~1 µs, so results are memoised. */
export class AccessList {
  private readonly v4: Range[] = [];
  private readonly v6: Range[] = [];
  private readonly memo = new Map<string, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const range: Range = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), ipaddr.parse(text).kind() === 'ipv4' ? 32 : 128];
      (range[0].kind() === 'ipv4' ? this.v4 : this.v6).push(range);
    }
  }

  allows(address: string): boolean {
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    const verdict = this.compute(address);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(address, verdict);
    return verdict;
  }

  private compute(address: string): boolean {
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.process(address); // IPv4-mapped IPv6 becomes IPv4
    } catch {
      return false;
    }
    const ranges = addr.kind() === 'ipv4' ? this.v4 : this.v6;
    for (const range of ranges) if (addr.match(range)) return true;
    return false;
  }
}

/** 127.0.0.0/8 and ::1 (also IPv4-mapped): addresses that cannot arrive from the network. */
export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
