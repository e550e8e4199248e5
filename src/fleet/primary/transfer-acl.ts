import type { TransferAllowConfig } from '../../config/schema';
import { AccessList } from '../../resolve/access';

/**
 * `transfer.allow`: a CIDR lets unsigned requests from those addresses in; `key:NAME` lets in any
 * request signed with that TSIG key (the signature is checked before this list is asked).
 */
export class TransferAcl {
  private readonly addresses: AccessList;
  private readonly keys: ReadonlySet<string>;

  constructor(allow: TransferAllowConfig) {
    this.addresses = new AccessList(allow.networks);
    this.keys = new Set(allow.keys);
  }

  /** Whether a request from `address` could pass: its network is listed, or some TSIG key is. */
  mayConnect(address: string): boolean {
    return this.keys.size > 0 || this.addresses.allows(address);
  }

  /** Whether `address` is in one of the listed networks (unsigned requests from it are served). */
  allowsAddress(address: string): boolean {
    return this.addresses.allows(address);
  }

  allows(address: string, keyName: string | undefined): boolean {
    if (keyName !== undefined && this.keys.has(keyName)) return true;
    return this.addresses.allows(address);
  }
}
