import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { FLAG_QR, FLAG_RA, RCode } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage } from '../../../src/fleet/codec/message';
import { notifyResponse } from '../../helpers/notify';
import { readTsig, verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { signResponse } from '../../helpers/tsig';
import { isPldnsError } from '../../../src/errors';
import { sendNotify } from '../../../src/fleet/secondary/xfr-client';
import { startResponder, type Responder } from '../../helpers/hardening';

/**
 * sendNotify against targets on 127.0.0.1: a signed NOTIFY answered FORMERR (what Unbound's rpz:
 * sends back, opcode QUERY, for any request carrying a TSIG) goes again unsigned, once.
 */

const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const ZONE = 'privatelink.rpz';

/** Unbound's answer to a request it cannot parse: same ID and question, opcode QUERY, FORMERR. */
const formerr = (q: DnsMessage): Buffer => encodeMessage({ id: q.id, flags: FLAG_QR | FLAG_RA | RCode.FORMERR, question: q.questions[0] ?? null });

async function target(t: Test, answer: (q: DnsMessage, raw: Buffer) => Buffer | undefined): Promise<{ r: Responder; seen: { signed: boolean }[] }> {
  const seen: { signed: boolean }[] = [];
  const r = await startResponder((raw, send) => {
    const q = parseMessage(raw);
    seen.push({ signed: readTsig(q) !== undefined });
    const reply = answer(q, raw);
    if (reply) send(reply);
  });
  t.teardown(() => r.close());
  return { r, seen };
}

const at = (r: Responder) => ({ host: '127.0.0.1', port: r.port, family: 4 as const });

t.test('a target that answers a signed NOTIFY with FORMERR gets it again unsigned', async (t) => {
  const { r, seen } = await target(t, (q) => (readTsig(q) !== undefined ? formerr(q) : notifyResponse(q)));
  await sendNotify(at(r), ZONE, 7, { key: KEY, timeoutMs: 2000 });
  t.same(seen, [{ signed: true }, { signed: false }], 'signed first, then unsigned');
});

t.test('a target that speaks TSIG gets one signed NOTIFY and its signed answer is verified', async (t) => {
  const { r, seen } = await target(t, (q, raw) => {
    const check = verifyRequest(raw, q, [KEY]);
    return check.kind === 'signed' ? signResponse(notifyResponse(q), KEY, check.requestMac).message : formerr(q);
  });
  await sendNotify(at(r), ZONE, 7, { key: KEY, timeoutMs: 2000 });
  t.same(seen, [{ signed: true }]);
});

t.test('FORMERR to the unsigned NOTIFY is a failure, never a loop', async (t) => {
  const { r, seen } = await target(t, (q) => formerr(q));
  const err = await sendNotify(at(r), ZONE, 7, { key: KEY, timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err, 'XFR_TIMEOUT'), `no acknowledgement: ${String(err)}`);
  t.same(seen, [{ signed: true }, { signed: false }], 'one fallback only');
  const { r: r2, seen: seen2 } = await target(t, (q) => formerr(q));
  const err2 = await sendNotify(at(r2), ZONE, 7, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err2, 'XFR_TIMEOUT'), 'without a key there is nothing to fall back from');
  t.same(seen2, [{ signed: false }]);
});

t.test('a FORMERR signed with the key comes from a peer that reads TSIG: a failure, no unsigned retry', async (t) => {
  const { r, seen } = await target(t, (q, raw) => {
    const check = verifyRequest(raw, q, [KEY]);
    const bad = encodeMessage({ id: q.id, flags: FLAG_QR | (q.flags & 0x7800) | RCode.FORMERR, question: q.questions[0] ?? null });
    return check.kind === 'signed' ? signResponse(bad, KEY, check.requestMac).message : notifyResponse(q);
  });
  const err = await sendNotify(at(r), ZONE, 7, { key: KEY, timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err, 'XFR_FAILED'), `FORMERR reported: ${String(err)}`);
  t.same(seen, [{ signed: true }]);
});
