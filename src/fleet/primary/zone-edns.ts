import { EDNS_OPTION_NSID, OPT_DO_BIT, RRType } from '../../wire/constants';
import type { DnsMessage } from '../codec/message';

/** EDNS as a zone request carried it (RFC 6891): what the answer's OPT depends on. */
export interface RequestEdns {
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  /** An NSID option was sent (RFC 5001). */
  readonly nsid: boolean;
}

/**
 * The request's OPT: null without one; 'formerr' for more than one, one outside the additional
 * section or not owned by the root (RFC 6891 §6.1.1). Unknown options and flags are ignored.
 */
export function requestEdns(m: DnsMessage): RequestEdns | null | 'formerr' {
  if (m.answers.some(isOpt) || m.authorities.some(isOpt)) return 'formerr';
  const opts = m.additionals.filter(isOpt);
  if (opts.length === 0) return null;
  const opt = opts[0];
  if (opts.length > 1 || opt === undefined || opt.name !== '') return 'formerr';
  let nsid = false;
  const rdata = opt.rdata;
  // The codec checked that the record fits; options that do not tile the rdata are a FORMERR too.
  let o = 0;
  while (o + 4 <= rdata.length) {
    if (rdata.readUInt16BE(o) === EDNS_OPTION_NSID) nsid = true;
    o += 4 + rdata.readUInt16BE(o + 2);
  }
  if (o !== rdata.length) return 'formerr';
  return { udpSize: opt.class, version: (opt.ttl >>> 16) & 0xff, dnssecOk: ((opt.ttl >>> 8) & OPT_DO_BIT) !== 0, nsid };
}

function isOpt(r: { readonly type: number }): boolean {
  return r.type === RRType.OPT;
}
