import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { formatHostPort, type HostPort } from '../../config/units';
import { CLASS_IN, FLAG_QR, FLAG_TC, MAX_MESSAGE_BYTES, OPCODE_QUERY, RCode, RRType } from '../../wire/constants';
import { encodeMessage, parseMessage, type DnsMessage, type DnsQuestion, type WireRecord } from '../codec/message';
import { canonicalName } from '../../wire/name-codec';
import { serialOnlySoa } from '../codec/notify';
import { readErrorAnswer } from '../codec/error-answer';
import { frameMessage, TcpFrameReader } from '../../wire/tcp-frames';
import { signRequest, TsigStreamVerifier, type TsigCheck, type TsigKey } from '../codec/tsig';
import type { Soa } from '../codec/soa';
import { wireToSoa } from '../codec/zone-record-wire';
import { PldnsError, type ErrorCode } from '../../errors';
import { TransferAssembler, type TransferResult } from './transfer-assembler';

/**
 * The secondary's side of the wire: SOA checks and zone transfers over TCP (RFC 5936, 1995),
 * every answer matched to its request and TSIG-verified as a chain when a key is set (RFC 8945),
 * all of it under one deadline and a byte cap. (The hub's NOTIFYs go out through
 * primary/notify-channel.ts; an error answer reads the same on both sides: codec/error-answer.ts.)
 */

export type { TransferResult } from './transfer-assembler';

/** A transfer larger than this is refused, whatever the primary says (a policy zone is far smaller). */
const DEFAULT_TRANSFER_MAX_BYTES = 64 * 1024 * 1024;

export interface XfrOptions {
  readonly key?: TsigKey;
  /** Deadline for the whole exchange, connect to last byte. */
  readonly timeoutMs: number;
  /** Abandons the exchange (shutdown): the socket closes at once and the call rejects with XFR_FAILED. */
  readonly signal?: AbortSignal;
}

export interface TransferOptions extends XfrOptions {
  /** Ask IXFR from this serial; AXFR without it. */
  readonly currentSerial?: number;
  /** Cap on the bytes read from the primary; default DEFAULT_TRANSFER_MAX_BYTES. */
  readonly maxBytes?: number;
  /** Cap on the records kept (the transfer stops at the first one over it). */
  readonly maxRecords?: number;
}

/**
 * The primary's SOA for `zone`: over UDP first (a datagram each way, so a fleet of edges polling
 * costs the hub no TCP connections), over TCP when the UDP answer is truncated or does not come.
 */
export async function querySoa(server: HostPort, zone: string, opts: XfrOptions): Promise<Soa> {
  const name = canonicalName(zone);
  const question: DnsQuestion = { name, type: RRType.SOA, class: CLASS_IN };
  const started = Date.now();
  const udpTimeoutMs = Math.min(UDP_SOA_TIMEOUT_MS, Math.floor(opts.timeoutMs / 2));
  const viaUdp = await udpSoaAnswer(server, question, { ...opts, timeoutMs: udpTimeoutMs });
  const msg = viaUdp ?? (await tcpSoaAnswer(server, question, { ...opts, timeoutMs: Math.max(1, opts.timeoutMs - (Date.now() - started)) }));
  const r = msg.answers.find((a) => a.type === RRType.SOA && a.name === name);
  const soa = r === undefined ? undefined : wireToSoa(r)?.soa;
  if (soa === undefined) throw xfrError('XFR_FAILED', server, zone, `the answer holds no SOA for "${name}"`);
  return soa;
}

/** How long an SOA query waits for its UDP answer before asking over TCP. */
const UDP_SOA_TIMEOUT_MS = 1000;

async function tcpSoaAnswer(server: HostPort, question: DnsQuestion, opts: XfrOptions): Promise<DnsMessage> {
  const found: DnsMessage[] = [];
  await exchange(server, question, undefined, { ...opts, maxBytes: 2 + MAX_MESSAGE_BYTES }, (msg) => {
    found.push(msg);
    return true;
  });
  const msg = found[0];
  if (msg === undefined) throw xfrError('XFR_FAILED', server, question.name, 'no answer');
  return msg;
}

/**
 * One SOA query over UDP from a fresh socket (random port and ID, RFC 5452) connected to the
 * primary. Resolves with the checked answer; undefined when it is truncated or does not come in
 * time, or when UDP fails (an ICMP port unreachable on the connected socket: a primary that
 * serves TCP only), and the caller asks over TCP; rejects on an answer that is wrong (rcode, TSIG).
 */
function udpSoaAnswer(server: HostPort, question: DnsQuestion, opts: XfrOptions): Promise<DnsMessage | undefined> {
  const id = randomInt(0, 0x10000);
  const plain = encodeMessage({ id, flags: OPCODE_QUERY << 11, question });
  const signed = opts.key === undefined ? undefined : signRequest(plain, opts.key);
  const request = signed?.message ?? plain;
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const settle = (result: DnsMessage | undefined, err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (err === undefined) resolve(result);
      else reject(err);
    };
    const timer = setTimeout(() => settle(undefined), opts.timeoutMs);
    const onAbort = (): void => settle(undefined, abandoned(server, question.name));
    if (opts.signal?.aborted) {
      queueMicrotask(onAbort);
    } else opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', () => settle(undefined));
    socket.on('message', (raw) => {
      let msg: DnsMessage;
      try {
        msg = parseMessage(raw);
      } catch {
        return; // not an answer we can read: keep waiting for the real one
      }
      if (msg.id !== id) return;
      if ((msg.flags & FLAG_TC) !== 0) {
        settle(undefined);
        return;
      }
      const verifier = opts.key === undefined || signed === undefined ? undefined : new TsigStreamVerifier(opts.key, signed.mac);
      try {
        const checked = checkedResponse(raw, id, question, true, verifier, server);
        if (verifier !== undefined) tsigOrThrow(verifier.finish(), server, question.name);
        settle(checked);
      } catch (err) {
        settle(undefined, err);
      }
    });
    socket.connect(server.port, server.host, () => socket.send(request));
  });
}

/**
 * Transfers `zone` from `server`: IXFR from `currentSerial` when given (falling back to AXFR when
 * the primary does not implement IXFR), AXFR otherwise. Resolves with the records, the changes,
 * or "uptodate"; rejects with XFR_REFUSED, XFR_BAD_TSIG, XFR_FAILED or XFR_TIMEOUT.
 */
export async function transferZone(server: HostPort, zone: string, opts: TransferOptions): Promise<TransferResult> {
  const started = Date.now();
  const name = canonicalName(zone);
  const maxBytes = opts.maxBytes ?? DEFAULT_TRANSFER_MAX_BYTES;
  if (opts.currentSerial !== undefined) {
    try {
      return await transferOnce(server, name, opts.currentSerial, { ...opts, maxBytes });
    } catch (err) {
      const rcode = err instanceof PldnsError ? err.details?.rcode : undefined;
      if ((rcode !== RCode.NOTIMP && rcode !== RCode.FORMERR) || opts.signal?.aborted) throw err;
    }
  }
  const timeoutMs = Math.max(1, opts.timeoutMs - (Date.now() - started));
  return transferOnce(server, name, undefined, { ...opts, timeoutMs, maxBytes });
}

type ExchangeOptions = XfrOptions & { readonly maxBytes: number; readonly maxRecords?: number };

async function transferOnce(server: HostPort, zone: string, currentSerial: number | undefined, opts: ExchangeOptions): Promise<TransferResult> {
  const ixfr = currentSerial !== undefined;
  const question: DnsQuestion = { name: zone, type: ixfr ? RRType.IXFR : RRType.AXFR, class: CLASS_IN };
  const assembler = new TransferAssembler(zone, currentSerial, opts.maxRecords);
  await exchange(server, question, ixfr ? serialOnlySoa(zone, currentSerial) : undefined, opts, (msg) => {
    try {
      return assembler.push(msg.answers);
    } catch (err) {
      throw err instanceof PldnsError ? xfrError(err.code, server, zone, err.message, err.details) : err;
    }
  });
  return assembler.result();
}

/**
 * One TCP exchange: sends the (signed) request, then hands each checked response to `onMessage`
 * until it returns true. Rejects on the deadline, the byte cap, a closed connection, or a
 * response that fails its checks.
 */
async function exchange(
  server: HostPort,
  question: DnsQuestion,
  authority: WireRecord | undefined,
  opts: ExchangeOptions,
  onMessage: (msg: DnsMessage) => boolean,
): Promise<void> {
  const id = randomInt(0, 0x10000);
  const plain = encodeMessage({ id, flags: OPCODE_QUERY << 11, question, authorities: authority ? [authority] : [] });
  const signed = opts.key === undefined ? undefined : signRequest(plain, opts.key);
  const request = signed?.message ?? plain;
  const verifier = opts.key === undefined || signed === undefined ? undefined : new TsigStreamVerifier(opts.key, signed.mac);
  const zone = question.name;
  let first = true;

  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const reader = new TcpFrameReader();
    let received = 0;
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const timer = setTimeout(() => settle(xfrError('XFR_TIMEOUT', server, zone, `no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = (): void => settle(abandoned(server, zone));
    if (opts.signal?.aborted) {
      queueMicrotask(onAbort);
    } else opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(frameMessage(request)));
    socket.on('error', (err) => settle(xfrError('XFR_FAILED', server, zone, `connection failed: ${err.message}`, undefined, err)));
    socket.on('close', () => settle(xfrError('XFR_FAILED', server, zone, 'the connection closed before the answer was complete')));
    // One message per turn of the event loop, reading paused meanwhile: libuv reads a fast
    // primary's whole zone in a few turns otherwise, and every query would wait for its parsing.
    const frames: Buffer[] = [];
    let draining = false;
    const drain = (): void => {
      draining = false;
      if (settled) return;
      const raw = frames.shift();
      if (raw !== undefined) {
        try {
          const msg = checkedResponse(raw, id, question, first, verifier, server);
          first = false;
          if (onMessage(msg)) {
            if (verifier !== undefined) tsigOrThrow(verifier.finish(), server, zone);
            settle();
            return;
          }
        } catch (err) {
          settle(err);
          return;
        }
      }
      if (frames.length > 0) {
        draining = true;
        setImmediate(drain);
      } else socket.resume();
    };
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > opts.maxBytes) {
        settle(xfrError('XFR_FAILED', server, zone, `the answer exceeds ${opts.maxBytes} bytes`));
        return;
      }
      try {
        for (const raw of reader.push(chunk)) frames.push(raw);
      } catch (err) {
        settle(err);
        return;
      }
      if (frames.length === 0 || draining) return;
      socket.pause();
      draining = true;
      setImmediate(drain);
    });
  });
}

/** Parses a response and checks it answers our request: ID, QR, opcode, question, TSIG, rcode. */
function checkedResponse(
  raw: Buffer, id: number, question: DnsQuestion, first: boolean, verifier: TsigStreamVerifier | undefined, server: HostPort,
): DnsMessage {
  const zone = question.name;
  let msg: DnsMessage;
  try {
    msg = parseMessage(raw);
  } catch (err) {
    throw xfrError('XFR_FAILED', server, zone, `malformed answer: ${(err as Error).message}`);
  }
  if (msg.id !== id || (msg.flags & FLAG_QR) === 0 || msg.opcode !== OPCODE_QUERY) {
    throw xfrError('XFR_FAILED', server, zone, 'an answer that does not match our request (ID, QR or opcode)');
  }
  const q = msg.questions;
  const sameQuestion = q.length === 1 && q[0].name === question.name && q[0].type === question.type && q[0].class === question.class;
  if (first ? !sameQuestion : q.length !== 0 && !sameQuestion) throw xfrError('XFR_FAILED', server, zone, 'an answer to another question');
  const tsig = verifier?.verify(raw, msg);
  if (msg.rcode !== RCode.NOERROR) throw rcodeError(msg, server, zone, tsig);
  if (tsig !== undefined) tsigOrThrow(tsig, server, zone);
  if ((msg.flags & FLAG_TC) !== 0) throw xfrError('XFR_FAILED', server, zone, 'a truncated answer over TCP');
  return msg;
}

function rcodeError(msg: DnsMessage, server: HostPort, zone: string, tsig: TsigCheck | undefined): PldnsError {
  const answer = readErrorAnswer(msg);
  const details = { ...answer.details, ...(tsig !== undefined && !tsig.ok ? { tsig: tsig.reason } : {}) };
  return xfrError(answer.code, server, zone, answer.code === 'XFR_BAD_TSIG' ? answer.what : `the primary answered ${answer.what}`, details);
}

function abandoned(server: HostPort, zone: string): PldnsError {
  return xfrError('XFR_FAILED', server, zone, 'abandoned: shutting down');
}

function tsigOrThrow(check: TsigCheck, server: HostPort, zone: string): void {
  if (!check.ok) throw xfrError('XFR_BAD_TSIG', server, zone, `TSIG: ${check.reason}`, check.error === undefined ? undefined : { tsigError: check.error });
}

function xfrError(code: ErrorCode, server: HostPort, zone: string, what: string, details?: Record<string, unknown>, cause?: unknown): PldnsError {
  return new PldnsError(code, `${formatHostPort(server)} zone "${zone}": ${what}`, { cause, details: { server: formatHostPort(server), zone, ...details } });
}
