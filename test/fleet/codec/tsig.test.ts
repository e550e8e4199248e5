import t from 'tap';
import { createHmac } from 'node:crypto';
import { CLASS_IN, FLAG_QR, RCODE_NOTAUTH, RRType, TYPE_TSIG } from '../../../src/wire/constants';
import { encodeMessage, parseMessage } from '../../../src/fleet/codec/message';
import { nameToWire } from '../../../src/wire/name-codec';
import {
  readTsig, signRequest, tsigErrorResponse, TsigError, TsigStreamSigner, TsigStreamVerifier, verifyRequest, type TsigCheck, type TsigKey, type TsigRequestFailure,
} from '../../../src/fleet/codec/tsig';
import { signResponse, verifyResponse } from '../../helpers/tsig';

const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.from('0123456789abcdef0123456789abcdef') };
const KEY512: TsigKey = { name: 'Fleet512.Example.', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 7) };
const NOW = 1_800_000_000;

const query = (id = 0x1234): Buffer => encodeMessage({ id, flags: 0, question: { name: 'privatelink.rpz', type: RRType.SOA, class: CLASS_IN } });
const reply = (id: number, n = 1): Buffer => encodeMessage({
  id, flags: FLAG_QR, question: { name: 'privatelink.rpz', type: RRType.SOA, class: CLASS_IN },
  answers: Array.from({ length: n }, (_, i) => ({
    name: `n${i}.privatelink.rpz`, type: RRType.A, class: CLASS_IN, ttl: 60, rdata: Buffer.from([10, 0, 0, i & 255]),
  })),
});

t.test('request: sign, then verify against the key list', async (t) => {
  for (const key of [KEY, KEY512]) {
    const q = query();
    const { message, mac } = signRequest(q, key, { nowSec: NOW });
    const macBytes = key.algorithm === 'hmac-sha256' ? 32 : 64;
    // owner, type/class/TTL/rdlength, algorithm, time/fudge/MAC size, MAC, original ID/error/other length
    t.equal(message.length - q.length, nameToWire(key.name).length + 10 + nameToWire(key.algorithm).length + 10 + macBytes + 6, 'one TSIG record appended');
    const p = parseMessage(message);
    const tsig = readTsig(p);
    t.match(tsig, { keyName: key === KEY ? 'fleet' : 'fleet512.example', algorithm: key.algorithm, timeSigned: NOW, fudge: 300, originalId: 0x1234, error: 0 });
    t.equal(tsig?.offset, q.length);
    // The MAC per RFC 8945 §4.3, computed here independently of the signer.
    // key name, class ANY, TTL 0, algorithm, time signed (NOW, 48 bits), fudge 300, error 0, other length 0
    const timers = Buffer.from([0, 0, 0x6b, 0x49, 0xd2, 0x00, 1, 0x2c, 0, 0, 0, 0]);
    const vars = Buffer.concat([nameToWire(key.name), Buffer.from([0, 255, 0, 0, 0, 0]), nameToWire(key.algorithm), timers]);
    t.same(mac, createHmac(key.algorithm === 'hmac-sha256' ? 'sha256' : 'sha512', key.secret).update(q).update(vars).digest(), 'MAC as RFC 8945 defines it');
    const check = verifyRequest(message, p, [KEY, KEY512], { nowSec: NOW + 299 });
    t.match(check, { kind: 'signed', key, requestMac: mac });
    // A forwarder may rewrite the ID: the original ID in the TSIG keeps the MAC valid.
    const moved = Buffer.from(message);
    moved.writeUInt16BE(0x9999, 0);
    t.match(verifyRequest(moved, parseMessage(moved), [key], { nowSec: NOW }), { kind: 'signed' }, 'ID rewritten in flight');
  }
  t.same(verifyRequest(query(), parseMessage(query()), [KEY]), { kind: 'unsigned' });
});

t.test('request failures: BADKEY, BADSIG, BADTIME, BADTRUNC, FORMERR and their responses', async (t) => {
  const { message, mac } = signRequest(query(), KEY, { nowSec: NOW });
  const p = parseMessage(message);
  t.match(verifyRequest(message, p, [KEY512], { nowSec: NOW }), { kind: 'error', error: 'BADKEY' }, 'unknown key name');
  const otherAlgorithm: TsigKey = { ...KEY, algorithm: 'hmac-sha512' };
  t.match(verifyRequest(message, p, [otherAlgorithm], { nowSec: NOW }), { kind: 'error', error: 'BADKEY' }, 'known name, other algorithm');
  t.match(verifyRequest(message, p, [{ ...KEY, secret: Buffer.from('other') }], { nowSec: NOW }), { kind: 'error', error: 'BADSIG' }, 'other secret');
  const tampered = Buffer.from(message);
  tampered[14] ^= 0x20; // the question name's case: still parses, no longer signed
  t.match(verifyRequest(tampered, parseMessage(tampered), [KEY], { nowSec: NOW }), { kind: 'error', error: 'BADSIG' }, 'tampered byte');
  const late = verifyRequest(message, p, [KEY], { nowSec: NOW + 301 });
  t.match(late, { kind: 'error', error: 'BADTIME', key: KEY, requestMac: mac }, 'clock 301 s ahead');
  t.match(verifyRequest(message, p, [KEY], { nowSec: NOW - 301 }), { kind: 'error', error: 'BADTIME' }, 'clock 301 s behind');

  // Truncated MACs (RFC 8945 §5.2.2.1): the MAC size field and the rdata both say `bytes`.
  const tsig = readTsig(p)!;
  const algLen = nameToWire('hmac-sha256').length;
  const macSizeAt = tsig.offset + nameToWire('fleet').length + 10 + algLen + 8;
  const macAt = macSizeAt + 2;
  const rdlengthAt = tsig.offset + nameToWire('fleet').length + 8;
  const truncated = (bytes: number, macBytes: Buffer = message.subarray(macAt, macAt + bytes)): Buffer => {
    const m = Buffer.concat([message.subarray(0, macSizeAt), Buffer.from([0, bytes]), macBytes, message.subarray(macAt + 32)]);
    m.writeUInt16BE(m.readUInt16BE(rdlengthAt) - (32 - bytes), rdlengthAt);
    return m;
  };
  const short16 = truncated(16);
  const badtrunc = verifyRequest(short16, parseMessage(short16), [KEY], { nowSec: NOW });
  t.match(badtrunc, { kind: 'error', error: 'BADTRUNC' }, 'the right MAC truncated to 16 bytes (the RFC floor): BADTRUNC, below our minimum of 32');
  t.match(verifyRequest(truncated(20), parseMessage(truncated(20)), [KEY], { nowSec: NOW }), { kind: 'error', error: 'BADTRUNC' }, '20 bytes: BADTRUNC');
  const wrong16 = truncated(16, Buffer.alloc(16, 9));
  t.match(verifyRequest(wrong16, parseMessage(wrong16), [KEY], { nowSec: NOW }), { kind: 'error', error: 'BADSIG' }, 'a wrong truncated MAC: BADSIG (the MAC is checked first)');
  t.match(verifyRequest(short16, parseMessage(short16), [KEY], { nowSec: NOW + 301 }), { kind: 'error', error: 'BADTIME' }, 'a truncated MAC out of time: BADTIME (time before truncation)');
  for (const bytes of [15, 10, 1]) {
    const m = truncated(bytes);
    t.match(verifyRequest(m, parseMessage(m), [KEY], { nowSec: NOW }), { kind: 'error', error: 'FORMERR' }, `${bytes} bytes, under the RFC floor of 16: FORMERR`);
  }
  const btr = parseMessage(tsigErrorResponse(p, badtrunc as TsigRequestFailure, { nowSec: NOW }));
  t.equal(btr.rcode, RCODE_NOTAUTH, 'BADTRUNC: NOTAUTH');
  t.match(readTsig(btr), { error: TsigError.BADTRUNC, keyName: 'fleet' }, 'BADTRUNC in the TSIG');
  t.equal(readTsig(btr)!.mac.length, 0, 'BADTRUNC is unsigned (an error about the MAC)');

  // A TSIG that is not the last record.
  const opt = { name: '', type: RRType.OPT, class: 1232, ttl: 0, rdata: Buffer.alloc(0) };
  const notLast = encodeMessage({ id: 1, flags: 0, question: p.questions[0], additionals: [p.additionals[0], opt] });
  const notLastParsed = parseMessage(notLast);
  const formerr = verifyRequest(notLast, notLastParsed, [KEY], { nowSec: NOW });
  t.match(formerr, { kind: 'error', error: 'FORMERR' }, 'TSIG before OPT');
  const formerrReply = parseMessage(tsigErrorResponse(notLastParsed, formerr as TsigRequestFailure));
  t.equal(formerrReply.rcode, 1);
  t.equal(formerrReply.additionals.length, 0, 'FORMERR carries no TSIG');

  const failures = [
    ['BADKEY', verifyRequest(message, p, [KEY512])],
    ['BADSIG', verifyRequest(tampered, parseMessage(tampered), [KEY], { nowSec: NOW })],
  ] as const;
  for (const [error, failing] of failures) {
    const r = parseMessage(tsigErrorResponse(p, failing as TsigRequestFailure, { nowSec: NOW }));
    t.equal(r.id, 0x1234);
    t.equal(r.rcode, RCODE_NOTAUTH, `${error}: NOTAUTH`);
    t.ok(r.flags & FLAG_QR);
    t.same(r.questions, p.questions);
    const rt = readTsig(r)!;
    t.match(rt, { keyName: 'fleet', algorithm: 'hmac-sha256', error: TsigError[error] }, `${error} in the TSIG`);
    t.equal(rt.mac.length, 0, `${error}: unsigned`);
    t.match(verifyResponse(tsigErrorResponse(p, failing as TsigRequestFailure), KEY, mac), { ok: false, error: TsigError[error] }, 'a client sees the error');
  }
  const bt = parseMessage(tsigErrorResponse(p, late as TsigRequestFailure, { nowSec: NOW + 301 }));
  const btTsig = readTsig(bt)!;
  t.equal(bt.rcode, RCODE_NOTAUTH);
  t.match(btTsig, { error: TsigError.BADTIME, timeSigned: NOW });
  t.equal(btTsig.mac.length, 32, 'BADTIME is signed');
  t.equal(btTsig.otherData.readUIntBE(0, 6), NOW + 301, "BADTIME other data: the server's time");
});

t.test('response: signed over the request MAC; verified by the client side', async (t) => {
  const { message: req, mac } = signRequest(query(7), KEY, { nowSec: NOW });
  const { message: res } = signResponse(reply(7), KEY, mac, { nowSec: NOW + 1 });
  t.same(verifyResponse(res, KEY, mac, { nowSec: NOW + 2 }), { ok: true, signed: true });
  t.match(verifyResponse(res, KEY, Buffer.alloc(32), { nowSec: NOW }), { ok: false, reason: /bad MAC/ }, 'another request MAC');
  t.match(verifyResponse(res, { ...KEY, secret: Buffer.from('x') }, mac, { nowSec: NOW }), { ok: false }, 'another secret');
  t.match(verifyResponse(res, KEY, mac, { nowSec: NOW + 1000 }), { ok: false, error: TsigError.BADTIME }, 'response too old');
  t.match(verifyResponse(reply(7), KEY, mac), { ok: false, reason: /not signed/ }, 'unsigned response');
  t.match(verifyResponse(res, KEY512, mac, { nowSec: NOW }), { ok: false, reason: /not ours/ }, 'signed with another key');
  t.ok(req.length > 0);
});

t.test('multi-message stream: chained MACs, unsigned intermediates, first and last signed', async (t) => {
  const requestMac = signRequest(query(9), KEY, { nowSec: NOW }).mac;
  const plain = [1, 2, 3, 4, 5].map((n) => reply(9, n));
  const signer = new TsigStreamSigner(KEY, requestMac, { nowSec: NOW });
  const signed = plain.map((m) => signer.sign(m));
  const v = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  for (const m of signed) t.same(v.verify(m, parseMessage(m)), { ok: true, signed: true });
  t.same(v.finish(), { ok: true, signed: true });

  const reordered = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  t.same(reordered.verify(signed[0], parseMessage(signed[0])), { ok: true, signed: true });
  t.match(reordered.verify(signed[2], parseMessage(signed[2])), { ok: false }, 'a skipped message breaks the chain');

  // Messages 2 and 3 unsigned, 4 signed over both (RFC 8945 §5.3.1). The signer's MAC input for a
  // later message is prior MAC + bytes + timers, so signing the concatenation m2|m3|m4 gives the
  // MAC; its TSIG record is then put on m4.
  const s2 = new TsigStreamSigner(KEY, requestMac, { nowSec: NOW });
  const first = s2.sign(plain[0]);
  const joined = Buffer.concat([plain[1], plain[2], plain[3]]);
  const joinedSigned = s2.sign(joined);
  const m4 = Buffer.concat([plain[3], joinedSigned.subarray(joined.length)]);
  m4.writeUInt16BE(m4.readUInt16BE(10) + 1, 10);
  const last = s2.sign(plain[4]);
  const v2 = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  t.same(v2.verify(first, parseMessage(first)), { ok: true, signed: true });
  t.same(v2.verify(plain[1], parseMessage(plain[1])), { ok: true, signed: false });
  t.same(v2.verify(plain[2], parseMessage(plain[2])), { ok: true, signed: false });
  t.same(v2.verify(m4, parseMessage(m4)), { ok: true, signed: true }, 'signed message covers the unsigned ones');
  t.same(v2.verify(last, parseMessage(last)), { ok: true, signed: true });
  t.same(v2.finish(), { ok: true, signed: true });

  const v3 = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  t.match(v3.verify(plain[0], parseMessage(plain[0])), { ok: false, reason: /first/ }, 'first unsigned');
  const v4 = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  v4.verify(first, parseMessage(first));
  v4.verify(plain[1], parseMessage(plain[1]));
  t.match(v4.finish(), { ok: false, reason: /not signed/ }, 'last unsigned');
  const v5 = new TsigStreamVerifier(KEY, requestMac, { nowSec: NOW });
  v5.verify(first, parseMessage(first));
  let result: TsigCheck | undefined;
  for (let i = 0; i < 100; i++) result = v5.verify(plain[1], parseMessage(plain[1]));
  t.match(result, { ok: false, reason: /unsigned messages in a row/ }, '100 unsigned in a row');
  t.match(new TsigStreamVerifier(KEY, requestMac).finish(), { ok: false });
  t.equal(parseMessage(signed[4]).additionals[0].type, TYPE_TSIG);
});
