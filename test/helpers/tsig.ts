import { parseMessage } from '../../src/fleet/codec/message';
import { readTsig, TsigStreamSigner, TsigStreamVerifier, type TsigCheck, type TsigKey, type TsigOptions } from '../../src/fleet/codec/tsig';

/** The single-response side of TSIG, which only test responders and checks need (the daemon signs and verifies streams). */

/** Signs a single response to a request that carried `requestMac` (the first message of a stream). */
export function signResponse(msg: Buffer, key: TsigKey, requestMac: Buffer, opts?: TsigOptions): { message: Buffer; mac: Buffer } {
  const message = new TsigStreamSigner(key, requestMac, opts).sign(msg);
  const mac = readTsig(parseMessage(message))?.mac;
  if (mac === undefined) throw new Error('signed response without a TSIG record');
  return { message, mac };
}

/** Verifies a single response (a query's or NOTIFY's answer). */
export function verifyResponse(msg: Buffer, key: TsigKey, requestMac: Buffer, opts?: TsigOptions): TsigCheck {
  let parsed: ReturnType<typeof parseMessage>;
  try {
    parsed = parseMessage(msg);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const v = new TsigStreamVerifier(key, requestMac, opts);
  const check = v.verify(msg, parsed);
  return check.ok ? v.finish() : check;
}
