import type { DnsMessage } from '../codec/message';

/**
 * What TSIG made of a request: unsigned; signed with a known key (and how to sign each message of
 * the answer, chaining MACs); or failed, with the NOTAUTH answer RFC 8945 §5.3.2 prescribes.
 */
export type RequestAuth =
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'signed'; readonly keyName: string; readonly sign: (message: Buffer) => Buffer }
  | { readonly kind: 'failed'; readonly reason: string; readonly response: Buffer };

export type Authenticate = (msg: Buffer, parsed: DnsMessage) => RequestAuth;
