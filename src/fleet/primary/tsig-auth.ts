import type { TsigKey } from '../codec/tsig';
import { TsigStreamSigner, tsigErrorResponse, verifyRequest } from '../codec/tsig';
import type { Authenticate, RequestAuth } from './request-auth';

const UNSIGNED: RequestAuth = { kind: 'unsigned' };

/** RFC 8945 on the serving side: verify with the configured keys; sign every answer message in a chain. */
export function tsigAuthenticator(keys: readonly TsigKey[]): Authenticate {
  return (msg, parsed) => {
    const check = verifyRequest(msg, parsed, keys);
    if (check.kind === 'unsigned') return UNSIGNED;
    if (check.kind === 'signed') {
      const signer = new TsigStreamSigner(check.key, check.requestMac);
      return { kind: 'signed', keyName: check.key.name, sign: (m) => signer.sign(m) };
    }
    return { kind: 'failed', reason: `${check.error}: ${check.reason}`, response: tsigErrorResponse(parsed, check) };
  };
}
