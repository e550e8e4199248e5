import t, { type Test } from 'tap';
import { FLAG_QR, FLAG_RA, OPCODE_NOTIFY, RCode, RCODE_NOTAUTH } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage } from '../../../src/fleet/codec/message';
import { notifyResponse } from '../../helpers/notify';
import { readTsig, verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { signResponse } from '../../helpers/tsig';
import { isPldnsError } from '../../../src/errors';
import { NotifyChannel } from '../../../src/fleet/primary/notify-channel';
import { notifySender } from '../../../src/fleet/primary/notify-sender';
import { startResponder, type Responder } from '../../helpers/hardening';

/**
 * The hub's NOTIFY channel (one socket for every NOTIFY) against targets on 127.0.0.1: the key
 * each target uses, the FORMERR fallback to unsigned, REFUSED/NOTAUTH as "declined", forged
 * answers ignored, and many NOTIFYs at once over the one socket.
 */

const KEY_A: TsigKey = { name: 'group-a', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x5a) };
const KEY_B: TsigKey = { name: 'group-b', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x5b) };
const ZONE = 'privatelink.rpz';
const formerr = (q: DnsMessage): Buffer => encodeMessage({ id: q.id, flags: FLAG_QR | FLAG_RA | RCode.FORMERR, question: q.questions[0] ?? null });

async function target(t: Test, answer: (q: DnsMessage, raw: Buffer) => Buffer | undefined): Promise<{ r: Responder; seen: { key: string | null }[] }> {
  const seen: { key: string | null }[] = [];
  const r = await startResponder((raw, send) => {
    const q = parseMessage(raw);
    seen.push({ key: readTsig(q)?.keyName ?? null });
    const reply = answer(q, raw);
    if (reply) send(reply);
  });
  t.teardown(() => r.close());
  return { r, seen };
}
const at = (r: Responder) => ({ host: '127.0.0.1', port: r.port, family: 4 as const });
/** A target holding `key`: it verifies and signs its answer; anything else gets NOTAUTH. */
const keyed = (key: TsigKey) => (q: DnsMessage, raw: Buffer): Buffer => {
  const check = verifyRequest(raw, q, [key]);
  if (check.kind !== 'signed') return encodeMessage({ id: q.id, flags: FLAG_QR | (OPCODE_NOTIFY << 11) | RCODE_NOTAUTH, question: q.questions[0] ?? null });
  return signResponse(notifyResponse(q), key, check.requestMac).message;
};

t.test('each target gets its NOTIFY signed with the key it uses; the answer is verified', async (t) => {
  const channel = new NotifyChannel();
  t.teardown(() => channel.close());
  const send = notifySender([KEY_A, KEY_B], channel);
  const a = await target(t, keyed(KEY_A));
  const b = await target(t, keyed(KEY_B));
  t.equal(await send(at(a.r), ZONE, 7, 'group-a'), 'ack');
  t.equal(await send(at(b.r), ZONE, 7, 'group-b'), 'ack');
  t.equal(await send(at(b.r), ZONE, 8, undefined), 'declined', 'without a known key: the first one, and a group-b target says NOTAUTH');
  t.same(a.seen, [{ key: 'group-a' }]);
  t.same(b.seen, [{ key: 'group-b' }, { key: 'group-a' }]);
});

t.test('a signed NOTIFY answered FORMERR goes again unsigned, once; REFUSED is "declined"', async (t) => {
  const channel = new NotifyChannel();
  t.teardown(() => channel.close());
  const { r, seen } = await target(t, (q) => (readTsig(q) !== undefined ? formerr(q) : notifyResponse(q)));
  t.equal(await channel.send(at(r), ZONE, 7, KEY_A, 2000), 'ack');
  t.same(seen, [{ key: 'group-a' }, { key: null }]);
  const loop = await target(t, (q) => formerr(q));
  const err = await channel.send(at(loop.r), ZONE, 7, KEY_A, 800).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err, 'XFR_TIMEOUT'), 'FORMERR to the unsigned one too: no acknowledgement, no loop');
  t.same(loop.seen, [{ key: 'group-a' }, { key: null }]);
  const refusing = await target(t, (q) => encodeMessage({ id: q.id, flags: FLAG_QR | (OPCODE_NOTIFY << 11) | RCode.REFUSED, question: q.questions[0] ?? null }));
  t.equal(await channel.send(at(refusing.r), ZONE, 7, undefined, 2000), 'declined');
});

t.test('a forged (unsigned) acknowledgement of a signed NOTIFY is a failure, a wrong question is ignored', async (t) => {
  const channel = new NotifyChannel();
  t.teardown(() => channel.close());
  const forged = await target(t, (q) => notifyResponse(q));
  const err = await channel.send(at(forged.r), ZONE, 7, KEY_A, 2000).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err, 'XFR_BAD_TSIG'), `unsigned answer to a signed NOTIFY: ${String(err)}`);
  const other = await target(t, (q) => encodeMessage({ id: q.id, flags: FLAG_QR | (OPCODE_NOTIFY << 11), question: { name: 'other.zone', type: 6, class: 1 } }));
  const err2 = await channel.send(at(other.r), ZONE, 7, undefined, 500).then(() => undefined, (e: unknown) => e);
  t.ok(isPldnsError(err2, 'XFR_TIMEOUT'), 'an answer about another zone does not count');
});

t.test('two hundred NOTIFYs at once over the one socket, each matched to its target', async (t) => {
  const channel = new NotifyChannel();
  t.teardown(() => channel.close());
  const targets = await Promise.all(Array.from({ length: 20 }, () => target(t, keyed(KEY_A))));
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => channel.send(at((targets[i % 20] as { r: Responder }).r), ZONE, 1000 + i, KEY_A, 3000)));
  t.equal(answers.filter((a) => a === 'ack').length, 200);
  t.same(targets.map((x) => x.seen.length), Array(20).fill(10), 'ten each, none lost or crossed');
});
