import { RCODE_NAMES, RCODE_NOTAUTH, RCode } from '../../wire/constants';
import type { DnsMessage } from './message';
import { readTsig, tsigErrorName } from './tsig';

/**
 * What a peer's error answer (rcode other than NOERROR) to our SOA query, transfer or NOTIFY
 * says, read the same way on both sides of the fleet: the stable error code it is reported under.
 *
 * - XFR_BAD_TSIG: the peer set a TSIG error (RFC 8945 §5.3: BADKEY, BADSIG, BADTIME): it does not
 *   accept our key or signature;
 * - XFR_REFUSED: REFUSED, or NOTAUTH without a TSIG error: it does not serve that zone to us;
 * - XFR_FAILED: any other rcode (SERVFAIL, NOTIMP, FORMERR...).
 */
export interface ErrorAnswer {
  readonly code: 'XFR_BAD_TSIG' | 'XFR_REFUSED' | 'XFR_FAILED';
  /** For a message: "REFUSED", "NOTAUTH with TSIG error BADKEY". */
  readonly what: string;
  /** For the error's details: the rcode, and the TSIG error the peer set when it set one. */
  readonly details: { readonly rcode: number; readonly tsigError?: number };
}

export function readErrorAnswer(msg: DnsMessage): ErrorAnswer {
  const rcode = msg.rcode;
  const name = RCODE_NAMES[rcode] ?? (rcode === RCODE_NOTAUTH ? 'NOTAUTH' : String(rcode));
  let tsigError = 0;
  try {
    tsigError = readTsig(msg)?.error ?? 0;
  } catch {
    // a malformed TSIG on an error answer: the rcode is what it says
  }
  if (tsigError !== 0) return { code: 'XFR_BAD_TSIG', what: `${name} with TSIG error ${tsigErrorName(tsigError)}`, details: { rcode, tsigError } };
  if (rcode === RCode.REFUSED || rcode === RCODE_NOTAUTH) return { code: 'XFR_REFUSED', what: name, details: { rcode } };
  return { code: 'XFR_FAILED', what: name, details: { rcode } };
}
