import t from 'tap';
import { FLAG_QR, OPCODE_NOTIFY, RCode, RCODE_NOTAUTH, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../../src/fleet/codec/message';
import { readErrorAnswer } from '../../../src/fleet/codec/error-answer';
import { tsigErrorResponse, signRequest, verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';

/** A peer's error answer, read the same on both sides of the fleet: the code, the words, the details. */

const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x33) };
const question = { name: 'privatelink.rpz', type: RRType.SOA, class: 1 };
const answer = (rcode: number) => parseMessage(encodeMessage({ id: 1, flags: FLAG_QR | (OPCODE_NOTIFY << 11) | rcode, question }));
/** The answer a peer holding a key with the same name and another secret gives a signed request. */
function tsigError(peerKey: TsigKey) {
  const request = signRequest(encodeMessage({ id: 1, flags: OPCODE_NOTIFY << 11, question }), KEY).message;
  const check = verifyRequest(request, parseMessage(request), [peerKey]);
  if (check.kind !== 'error') throw new Error(`expected a TSIG failure, got ${check.kind}`);
  return parseMessage(tsigErrorResponse(parseMessage(request), check));
}

t.test('each rcode and TSIG error maps to one stable code', async (t) => {
  const cases: [string, ReturnType<typeof answer>, unknown][] = [
    ['REFUSED', answer(RCode.REFUSED), { code: 'XFR_REFUSED', what: 'REFUSED', details: { rcode: RCode.REFUSED } }],
    ['NOTAUTH, no TSIG', answer(RCODE_NOTAUTH), { code: 'XFR_REFUSED', what: 'NOTAUTH', details: { rcode: RCODE_NOTAUTH } }],
    ['NOTAUTH + BADSIG', tsigError({ ...KEY, secret: Buffer.alloc(32, 0x44) }), { code: 'XFR_BAD_TSIG', what: 'NOTAUTH with TSIG error BADSIG', details: { rcode: RCODE_NOTAUTH, tsigError: 16 } }],
    ['NOTAUTH + BADKEY', tsigError({ ...KEY, name: 'other' }), { code: 'XFR_BAD_TSIG', what: 'NOTAUTH with TSIG error BADKEY', details: { rcode: RCODE_NOTAUTH, tsigError: 17 } }],
    ['SERVFAIL', answer(RCode.SERVFAIL), { code: 'XFR_FAILED', what: 'SERVFAIL', details: { rcode: RCode.SERVFAIL } }],
    ['NOTIMP', answer(RCode.NOTIMP), { code: 'XFR_FAILED', what: 'NOTIMP', details: { rcode: RCode.NOTIMP } }],
  ];
  for (const [label, msg, expected] of cases) t.same(readErrorAnswer(msg), expected, label);
});
