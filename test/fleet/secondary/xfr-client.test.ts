import t from 'tap';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { CLASS_IN, FLAG_AA, FLAG_QR, OPCODE_NOTIFY, RCode, RRType } from '../../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage, type DnsQuestion, type WireRecord } from '../../../src/fleet/codec/message';
import { buildNotify } from '../../../src/fleet/codec/notify';
import { notifyResponse, parseNotify } from '../../helpers/notify';
import { frameMessage, TcpFrameReader } from '../../../src/wire/tcp-frames';
import { TsigStreamSigner, verifyRequest, type TsigKey } from '../../../src/fleet/codec/tsig';
import { signResponse } from '../../helpers/tsig';
import type { ZoneRecord } from '../../../src/fleet/codec/zone-record';
import { zoneRecordToWire } from '../../../src/fleet/codec/zone-record-wire';
import { parseSoa } from '../../../src/fleet/codec/soa';
import { querySoa, transferZone } from '../../../src/fleet/secondary/xfr-client';

/** The transfer client against scripted primaries: framing, chains, and every way a primary can misbehave. */

const Z = 'privatelink.rpz';
const KEY: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const OTHER: TsigKey = { ...KEY, secret: randomBytes(32) };
const soa = (serial: number): ZoneRecord => ({ name: Z, type: RRType.SOA, ttl: 60, data: `ns.${Z} hostmaster.${Z} ${serial} 30 10 600 60` });
const host = (i: number): ZoneRecord => ({ name: `h${i}.example.com.${Z}`, type: RRType.A, ttl: 30, data: `10.0.${i >> 8}.${i & 255}` });

interface Request {
  readonly raw: Buffer;
  readonly msg: DnsMessage;
  /** The request's MAC when it verified with KEY. */
  readonly mac: Buffer | undefined;
}
type Script = (req: Request, socket: net.Socket) => void;

/** A TCP primary on loopback that hands each request to `script`; returns its port and the requests it saw. */
async function fakePrimary(t: Tap, script: Script): Promise<{ port: number; requests: Request[] }> {
  const requests: Request[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const reader = new TcpFrameReader();
    socket.on('data', (chunk) => {
      for (const raw of reader.push(chunk)) {
        const msg = parseMessage(raw);
        const check = verifyRequest(raw, msg, [KEY]);
        const req = { raw, msg, mac: check.kind === 'signed' ? check.requestMac : undefined };
        requests.push(req);
        script(req, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, requests };
}
type Tap = Pick<typeof t, 'teardown'>;

const hp = (port: number): { host: string; port: number; family: 4 } => ({ host: '127.0.0.1', port, family: 4 });

/** Answer messages for `req`, `perMessage` records each; signed in a chain when the request was. */
interface AnswerOptions {
  readonly rcode?: number;
  readonly id?: number;
  readonly question?: DnsQuestion;
}

function answerMessages(req: Request, records: readonly WireRecord[], perMessage: number, opts: AnswerOptions = {}): Buffer[] {
  const out: Buffer[] = [];
  const signer = req.mac === undefined ? undefined : new TsigStreamSigner(KEY, req.mac);
  for (let i = 0; i === 0 || i < records.length; i += perMessage) {
    const msg = encodeMessage({
      id: opts.id ?? req.msg.id, flags: FLAG_QR | FLAG_AA | (opts.rcode ?? 0),
      question: i === 0 ? opts.question ?? req.msg.questions[0] : null, answers: records.slice(i, i + perMessage),
    });
    out.push(signer ? signer.sign(msg) : msg);
  }
  return out;
}

const ZONE = [soa(9), ...Array.from({ length: 30 }, (_, i) => host(i))];
const AXFR_RECORDS = [...ZONE, soa(9)].map(zoneRecordToWire);

t.test('TCP framing: byte-by-byte and all-at-once answers give the same zone', async (t) => {
  for (const mode of ['split', 'merged'] as const) {
    const p = await fakePrimary(t, (req, socket) => {
      const frames = Buffer.concat(answerMessages(req, AXFR_RECORDS, 7).map(frameMessage));
      if (mode === 'merged') {
        socket.write(frames);
        return;
      }
      let i = 0;
      const drip = (): void => {
        if (i < frames.length && !socket.destroyed) socket.write(frames.subarray(i, ++i), () => setImmediate(drip));
      };
      drip();
    });
    const r = await transferZone(hp(p.port), Z, { key: KEY, timeoutMs: 20_000 });
    t.same(r, { kind: 'axfr', serial: 9, records: ZONE }, `${mode}: every record, in order`);
    t.equal(p.requests[0].msg.questions[0].type, RRType.AXFR);
    t.ok(p.requests[0].mac, `${mode}: the request was signed`);
  }
});

t.test('IXFR request carries our serial; NOTIMP falls back to AXFR', async (t) => {
  const p = await fakePrimary(t, (req, socket) => {
    if (req.msg.questions[0].type === RRType.IXFR) {
      for (const m of answerMessages(req, [], 1, { rcode: RCode.NOTIMP })) socket.write(frameMessage(m));
    } else {
      for (const m of answerMessages(req, AXFR_RECORDS, 100)) socket.write(frameMessage(m));
    }
  });
  const r = await transferZone(hp(p.port), Z, { key: KEY, timeoutMs: 10_000, currentSerial: 4 });
  t.equal(r.kind, 'axfr');
  t.same(p.requests.map((q) => q.msg.questions[0].type), [RRType.IXFR, RRType.AXFR]);
  const auth = p.requests[0].msg.authorities;
  t.equal(auth.length, 1);
  t.equal(auth[0].type, RRType.SOA);
  t.equal(auth[0].rdata.readUInt32BE(2), 4, 'the authority SOA holds our serial');
  t.not(p.requests[0].msg.id, p.requests[1].msg.id, 'a fresh ID per request');
});

t.test('a primary that misbehaves gets a typed error', async (t) => {
  type Case = [string, Script, string | RegExp, RegExp?];
  const write = (socket: net.Socket, msgs: Buffer[]): void => {
    for (const m of msgs) socket.write(frameMessage(m));
  };
  const otherQuestion = { name: 'example.com', type: RRType.AXFR, class: CLASS_IN };
  const outOfZone = [...AXFR_RECORDS.slice(0, 2), zoneRecordToWire({ ...host(1), name: 'evil.example' }), AXFR_RECORDS[0]];
  const unsigned = (req: Request, answers: WireRecord[]): Buffer => encodeMessage({ id: req.msg.id, flags: FLAG_QR, question: req.msg.questions[0], answers });
  const cases: Case[] = [
    ['wrong ID', (req, s) => write(s, answerMessages(req, AXFR_RECORDS, 100, { id: req.msg.id ^ 1 })), 'XFR_FAILED', /does not match/],
    ['other question', (req, s) => write(s, answerMessages(req, AXFR_RECORDS, 100, { question: otherQuestion })), 'XFR_FAILED', /another question/],
    ['SERVFAIL', (req, s) => write(s, answerMessages(req, [], 1, { rcode: RCode.SERVFAIL })), 'XFR_FAILED', /SERVFAIL/],
    ['REFUSED', (req, s) => write(s, answerMessages(req, [], 1, { rcode: RCode.REFUSED })), 'XFR_REFUSED'],
    ['out-of-zone record', (req, s) => write(s, answerMessages(req, outOfZone, 100)), 'XFR_FAILED', /outside zone/],
    ['closed mid-transfer', (req, s) => {
      write(s, answerMessages(req, AXFR_RECORDS.slice(0, 5), 100));
      s.end();
    }, 'XFR_FAILED', /closed/],
    ['signed with another key', (req, s) => {
      const msg = encodeMessage({ id: req.msg.id, flags: FLAG_QR, question: req.msg.questions[0], answers: AXFR_RECORDS });
      write(s, [signResponse(msg, OTHER, req.mac!).message]);
    }, 'XFR_BAD_TSIG'],
    ['unsigned answer', (req, s) => write(s, [unsigned(req, AXFR_RECORDS)]), 'XFR_BAD_TSIG', /not signed/],
    ['last message unsigned', (req, s) => {
      const msgs = answerMessages(req, AXFR_RECORDS.slice(0, -1), 100);
      write(s, [...msgs, encodeMessage({ id: req.msg.id, flags: FLAG_QR, question: null, answers: AXFR_RECORDS.slice(-1) })]);
    }, 'XFR_BAD_TSIG', /not signed/],
    ['garbage', (_req, s) => s.write(frameMessage(Buffer.from([1, 2, 3]))), 'XFR_FAILED', /malformed/],
  ];
  for (const [label, script, code, message] of cases) {
    const p = await fakePrimary(t, script);
    await t.rejects(transferZone(hp(p.port), Z, { key: KEY, timeoutMs: 5000 }), { code, ...(message ? { message } : {}) }, label);
  }
});

t.test('deadline and byte cap hold against a primary that never finishes', async (t) => {
  const silent = await fakePrimary(t, () => undefined);
  let started = Date.now();
  await t.rejects(querySoa(hp(silent.port), Z, { timeoutMs: 300 }), { code: 'XFR_TIMEOUT' }, 'no answer');
  t.ok(Date.now() - started < 2000, 'rejected near the deadline');

  // One byte every 20 ms: never idle, never done. The deadline is for the whole transfer.
  const drip = await fakePrimary(t, (req, socket) => {
    const frames = Buffer.concat(answerMessages(req, AXFR_RECORDS, 100).map(frameMessage));
    let i = 0;
    const timer = setInterval(() => (i < frames.length && !socket.destroyed ? socket.write(frames.subarray(i, ++i)) : clearInterval(timer)), 20);
    socket.on('close', () => clearInterval(timer));
  });
  started = Date.now();
  await t.rejects(transferZone(hp(drip.port), Z, { key: KEY, timeoutMs: 500 }), { code: 'XFR_TIMEOUT' }, 'slow drip');
  t.ok(Date.now() - started < 2500);

  // Endless records and never the closing SOA.
  const endless = await fakePrimary(t, (req, socket) => {
    const signer = new TsigStreamSigner(KEY, req.mac!);
    let n = 0;
    const more = (): void => {
      if (socket.destroyed || n > 2000) return;
      const recs = n === 0 ? [zoneRecordToWire(soa(9))] : Array.from({ length: 100 }, (_, i) => zoneRecordToWire(host(n * 100 + i)));
      const msg = encodeMessage({ id: req.msg.id, flags: FLAG_QR, question: n === 0 ? req.msg.questions[0] : null, answers: recs });
      socket.write(frameMessage(signer.sign(msg)), () => setImmediate(more));
      n++;
    };
    more();
  });
  const capped = transferZone(hp(endless.port), Z, { key: KEY, timeoutMs: 20_000, maxBytes: 200_000 });
  await t.rejects(capped, { code: 'XFR_FAILED', message: /exceeds 200000 bytes/ }, 'byte cap');
});

t.test('an abort signal abandons a stalled transfer or SOA query at once: rejected, connection closed', async (t) => {
  const closed: string[] = [];
  // Sends the first message of the AXFR, then nothing: a stalled primary.
  const stall = await fakePrimary(t, (req, socket) => {
    socket.write(frameMessage(answerMessages(req, AXFR_RECORDS.slice(0, 3), 100)[0] as Buffer));
    socket.on('close', () => closed.push('axfr'));
  });
  const controller = new AbortController();
  const pending = transferZone(hp(stall.port), Z, { key: KEY, timeoutMs: 600_000, signal: controller.signal });
  for (let i = 0; i < 200 && stall.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(stall.requests.length, 1, 'the request reached the primary');
  controller.abort();
  await t.rejects(pending, { code: 'XFR_FAILED', message: /abandoned/ }, 'the transfer rejects on abort, not at its 10-minute deadline');
  for (let i = 0; i < 200 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(closed, ['axfr'], 'the primary sees the connection close');
  // Already aborted: nothing is asked (the IXFR → AXFR fallback included).
  await t.rejects(transferZone(hp(stall.port), Z, { timeoutMs: 600_000, currentSerial: 5, signal: controller.signal }), { message: /abandoned/ });
  await t.rejects(querySoa(hp(stall.port), Z, { timeoutMs: 600_000, signal: controller.signal }), { message: /abandoned/ }, 'an SOA query too');
});

t.test('querySoa matches and verifies its answer', async (t) => {
  const p = await fakePrimary(t, (req, socket) => {
    for (const m of answerMessages(req, [zoneRecordToWire(soa(77))], 10)) socket.write(frameMessage(m));
  });
  t.same(await querySoa(hp(p.port), Z, { key: KEY, timeoutMs: 5000 }), parseSoa(soa(77).data), 'the SOA, every field typed');
  t.equal(p.requests[0].msg.questions[0].type, RRType.SOA);
  const none = await fakePrimary(t, (req, socket) => {
    for (const m of answerMessages(req, [zoneRecordToWire(host(1))], 10)) socket.write(frameMessage(m));
  });
  await t.rejects(querySoa(hp(none.port), Z, { key: KEY, timeoutMs: 5000 }), { code: 'XFR_FAILED', message: /no SOA/ });
});

t.test('parseNotify', async (t) => {
  t.same(parseNotify(parseMessage(buildNotify(1, Z, 0xfffffffe))), { zone: Z, serial: 0xfffffffe });
  const noSoa = encodeMessage({ id: 1, flags: OPCODE_NOTIFY << 11, question: { name: Z, type: RRType.SOA, class: CLASS_IN } });
  t.same(parseNotify(parseMessage(noSoa)), { zone: Z, serial: undefined }, 'no answer SOA: serial unknown');
  t.equal(parseNotify(parseMessage(encodeMessage({ id: 1, flags: 0, question: { name: Z, type: RRType.SOA, class: CLASS_IN } }))), undefined, 'a query');
  t.equal(parseNotify(parseMessage(notifyResponse(parseMessage(buildNotify(1, Z, 1))))), undefined, 'a response');
  const ack = parseMessage(notifyResponse(parseMessage(buildNotify(7, Z, 1))));
  t.match(ack, { id: 7, opcode: OPCODE_NOTIFY, rcode: 0, questions: [{ name: Z, type: RRType.SOA }] });
  t.ok(ack.flags & FLAG_QR && ack.flags & FLAG_AA);
});
