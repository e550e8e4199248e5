import t, { type Test } from 'tap';
import { FLAG_QR, FLAG_RA, OPCODE_NOTIFY, RCode, RCODE_NOTAUTH } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage } from '../../../src/fleet/codec/message';
import { notifyResponse, parseNotify } from '../../helpers/notify';
import { readTsig, TsigError, tsigErrorResponse, verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { signResponse } from '../../helpers/tsig';
import { isPldnsError } from '../../../src/errors';
import { NotifyChannel, type NotifyAnswer } from '../../../src/fleet/primary/notify-channel';
import { notifySender } from '../../../src/fleet/primary/notify-sender';
import { startResponder, type Responder } from '../../helpers/hardening';

/**
 * The one NOTIFY sender (one socket for every NOTIFY) against targets on 127.0.0.1: the key each
 * target uses, the FORMERR fallback to unsigned, a declined NOTIFY told apart by why (REFUSED or
 * NOTAUTH: XFR_REFUSED; a TSIG error: XFR_BAD_TSIG), forged and mismatched answers ignored or
 * failed, and many NOTIFYs at once over the one socket.
 */

const KEY_A: TsigKey = { name: 'group-a', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x5a) };
const KEY_B: TsigKey = { name: 'group-b', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x5b) };
const ZONE = 'privatelink.rpz';
/** Unbound's answer to a request it cannot parse: same ID and question, opcode QUERY, FORMERR. */
const formerr = (q: DnsMessage): Buffer => encodeMessage({ id: q.id, flags: FLAG_QR | FLAG_RA | RCode.FORMERR, question: q.questions[0] ?? null });
/** A NOTIFY answer with `rcode`, unsigned. */
const rcodeAnswer = (q: DnsMessage, rcode: number): Buffer => encodeMessage({ id: q.id, flags: FLAG_QR | (OPCODE_NOTIFY << 11) | rcode, question: q.questions[0] ?? null });

async function target(t: Test, answer: (q: DnsMessage, raw: Buffer) => Buffer | Buffer[] | undefined): Promise<{ r: Responder; seen: { key: string | null }[]; got: DnsMessage[] }> {
  const seen: { key: string | null }[] = [];
  const got: DnsMessage[] = [];
  const r = await startResponder((raw, send) => {
    const q = parseMessage(raw);
    got.push(q);
    seen.push({ key: readTsig(q)?.keyName ?? null });
    const reply = answer(q, raw);
    for (const out of reply === undefined ? [] : Array.isArray(reply) ? reply : [reply]) send(out);
  });
  t.teardown(() => r.close());
  return { r, seen, got };
}
const at = (r: Responder) => ({ host: '127.0.0.1', port: r.port, family: 4 as const });
/**
 * A target holding `key`: it verifies and signs its answer; a request signed otherwise gets
 * NOTAUTH with the TSIG error (BADKEY, BADSIG: RFC 8945 §5.2), an unsigned one NOTAUTH.
 */
const keyed = (key: TsigKey) => (q: DnsMessage, raw: Buffer): Buffer => {
  const check = verifyRequest(raw, q, [key]);
  if (check.kind === 'error') return tsigErrorResponse(q, check);
  if (check.kind === 'unsigned') return rcodeAnswer(q, RCODE_NOTAUTH);
  return signResponse(notifyResponse(q), key, check.requestMac).message;
};
const failure = (p: Promise<NotifyAnswer>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);
function channel(t: Test): NotifyChannel {
  const c = new NotifyChannel();
  t.teardown(() => c.close());
  return c;
}

t.test('each target gets its NOTIFY signed with the key it uses; the answer is verified', async (t) => {
  const send = notifySender([KEY_A, KEY_B], channel(t));
  const a = await target(t, keyed(KEY_A));
  const b = await target(t, keyed(KEY_B));
  t.same(await send(at(a.r), ZONE, 7, 'group-a'), { result: 'ack' });
  t.same(await send(at(b.r), ZONE, 7, 'group-b'), { result: 'ack' });
  const declined = await send(at(b.r), ZONE, 8, undefined);
  t.match(declined, { result: 'declined', error: { code: 'XFR_BAD_TSIG', details: { rcode: RCODE_NOTAUTH, tsigError: TsigError.BADKEY } } },
    'without a known key: the first one, and a group-b target says NOTAUTH with BADKEY');
  t.same(a.seen, [{ key: 'group-a' }]);
  t.same(b.seen, [{ key: 'group-b' }, { key: 'group-a' }]);
});

t.test('the NOTIFY names zone and serial; an answer with another ID is ignored until ours comes', async (t) => {
  const c = channel(t);
  const spoofThenAck = await target(t, (q, raw) => {
    const check = verifyRequest(raw, q, [KEY_A]);
    if (check.kind !== 'signed') return undefined;
    const spoof = Buffer.from(notifyResponse(q));
    spoof.writeUInt16BE(q.id ^ 0xffff, 0);
    return [spoof, signResponse(notifyResponse(q), KEY_A, check.requestMac).message];
  });
  t.same(await c.send(at(spoofThenAck.r), `${ZONE}.`, 42, KEY_A, 3000), { result: 'ack' });
  t.same(parseNotify(spoofThenAck.got[0] as DnsMessage), { zone: ZONE, serial: 42 }, 'zone (trailing dot dropped) and serial');
  t.equal(spoofThenAck.got[0]?.opcode, OPCODE_NOTIFY);
  t.same(spoofThenAck.seen, [{ key: 'group-a' }], 'one NOTIFY, signed');
});

t.test('unsigned NOTIFY, unsigned acknowledgement; a forged (unsigned) one to a signed NOTIFY fails', async (t) => {
  const c = channel(t);
  const plain = await target(t, (q) => notifyResponse(q));
  t.same(await c.send(at(plain.r), ZONE, 1, undefined, 2000), { result: 'ack' });
  const err = await failure(c.send(at(plain.r), ZONE, 7, KEY_A, 2000));
  t.ok(isPldnsError(err, 'XFR_BAD_TSIG'), `unsigned answer to a signed NOTIFY: ${String(err)}`);
  t.same(plain.seen, [{ key: null }, { key: 'group-a' }], 'no unsigned retry after a NOERROR');
});

t.test('REFUSED and NOTAUTH are declined as XFR_REFUSED, a TSIG error as XFR_BAD_TSIG, another rcode fails', async (t) => {
  const c = channel(t);
  const refusing = await target(t, (q) => rcodeAnswer(q, RCode.REFUSED));
  t.match(await c.send(at(refusing.r), ZONE, 7, undefined, 2000), { result: 'declined', error: { code: 'XFR_REFUSED', details: { rcode: RCode.REFUSED } } });
  const notauth = await target(t, (q) => rcodeAnswer(q, RCODE_NOTAUTH));
  t.match(await c.send(at(notauth.r), ZONE, 7, undefined, 2000), { result: 'declined', error: { code: 'XFR_REFUSED', details: { rcode: RCODE_NOTAUTH } } },
    'NOTAUTH without a TSIG error: the zone is not served to us');
  const badSig = await target(t, keyed({ ...KEY_A, secret: Buffer.alloc(32, 0x11) }));
  const declined = await c.send(at(badSig.r), ZONE, 7, KEY_A, 2000);
  t.match(declined, { result: 'declined', error: { code: 'XFR_BAD_TSIG', message: /NOTAUTH with TSIG error BADSIG/, details: { tsigError: TsigError.BADSIG } } });
  t.same(badSig.seen, [{ key: 'group-a' }], 'a TSIG error is an answer: no unsigned retry');
  const servfail = await target(t, (q) => rcodeAnswer(q, RCode.SERVFAIL));
  const err = await failure(c.send(at(servfail.r), ZONE, 7, undefined, 2000));
  t.ok(isPldnsError(err, 'XFR_FAILED'), `SERVFAIL is a failure (retried): ${String(err)}`);
  t.match(err, { details: { rcode: RCode.SERVFAIL } });
});

t.test('a signed NOTIFY answered FORMERR goes again unsigned, once', async (t) => {
  const c = channel(t);
  const { r, seen } = await target(t, (q) => (readTsig(q) !== undefined ? formerr(q) : notifyResponse(q)));
  t.same(await c.send(at(r), ZONE, 7, KEY_A, 2000), { result: 'ack' });
  t.same(seen, [{ key: 'group-a' }, { key: null }], 'signed first, then unsigned');
  const loop = await target(t, (q) => formerr(q));
  const err = await failure(c.send(at(loop.r), ZONE, 7, KEY_A, 800));
  t.ok(isPldnsError(err, 'XFR_TIMEOUT'), 'FORMERR to the unsigned one too: no acknowledgement, no loop');
  t.same(loop.seen, [{ key: 'group-a' }, { key: null }], 'one fallback only');
  const unkeyed = await target(t, (q) => formerr(q));
  const err2 = await failure(c.send(at(unkeyed.r), ZONE, 7, undefined, 800));
  t.ok(isPldnsError(err2, 'XFR_TIMEOUT'), 'without a key there is nothing to fall back from');
  t.same(unkeyed.seen, [{ key: null }]);
});

t.test('a FORMERR signed with the key comes from a peer that reads TSIG: a failure, no unsigned retry', async (t) => {
  const c = channel(t);
  const { r, seen } = await target(t, (q, raw) => {
    const check = verifyRequest(raw, q, [KEY_A]);
    return check.kind === 'signed' ? signResponse(rcodeAnswer(q, RCode.FORMERR), KEY_A, check.requestMac).message : notifyResponse(q);
  });
  const err = await failure(c.send(at(r), ZONE, 7, KEY_A, 1000));
  t.ok(isPldnsError(err, 'XFR_FAILED'), `FORMERR reported: ${String(err)}`);
  t.same(seen, [{ key: 'group-a' }]);
});

t.test('an answer about another zone does not count; no answer is XFR_TIMEOUT', async (t) => {
  const c = channel(t);
  const other = await target(t, (q) => encodeMessage({ id: q.id, flags: FLAG_QR | (OPCODE_NOTIFY << 11), question: { name: 'other.zone', type: 6, class: 1 } }));
  const err = await failure(c.send(at(other.r), ZONE, 7, undefined, 500));
  t.ok(isPldnsError(err, 'XFR_TIMEOUT'), 'another zone in the answer');
  const silent = await target(t, () => undefined);
  const err2 = await failure(c.send(at(silent.r), ZONE, 1, undefined, 300));
  t.ok(isPldnsError(err2, 'XFR_TIMEOUT'), `silent: ${String(err2)}`);
  t.equal(silent.seen.length, 1, 'sent once: the notifier retries, not the channel');
});

t.test('two hundred NOTIFYs at once over the one socket, each matched to its target', async (t) => {
  const c = channel(t);
  const targets = await Promise.all(Array.from({ length: 20 }, () => target(t, keyed(KEY_A))));
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => c.send(at((targets[i % 20] as { r: Responder }).r), ZONE, 1000 + i, KEY_A, 3000)));
  t.equal(answers.filter((a) => a.result === 'ack').length, 200);
  t.same(targets.map((x) => x.seen.length), Array(20).fill(10), 'ten each, none lost or crossed');
});
