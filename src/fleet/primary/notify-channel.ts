import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { formatHostPort, type HostPort } from '../../config/units';
import { PldnsError, type TransferDetails } from '../../errors';
import { FLAG_QR, OPCODE_NOTIFY, OPCODE_QUERY, RCode, RRType } from '../../wire/constants';
import { canonicalName } from '../../wire/name-codec';
import { readErrorAnswer } from '../codec/error-answer';
import { parseMessage, type DnsMessage } from '../codec/message';
import { buildNotify } from '../codec/notify';
import { signRequest, TsigStreamVerifier, type TsigKey } from '../codec/tsig';

/**
 * The one NOTIFY sender (RFC 1996). The hub's NOTIFYs go over one UDP socket per address family
 * (instead of a socket per NOTIFY: a burst to a thousand learned secondaries then costs a thousand
 * datagrams, not a thousand sockets). Each NOTIFY has its own random ID; an answer counts only
 * from the target's address and port, with that ID, our question (zone, SOA) and opcode, and our
 * key's signature when signed. A target that answers a signed NOTIFY with a FORMERR not signed by
 * our key does not read TSIG (Unbound's rpz: answers so, with opcode QUERY): it gets the same
 * NOTIFY unsigned, once. That gives nothing away: a NOTIFY only asks for an SOA check the target
 * makes with its own access, and a target that wants signatures refuses the unsigned one. No
 * retransmission: the notifier retries.
 */

/**
 * Why a target declined a NOTIFY, read from its answer (codec/error-answer.ts): XFR_REFUSED — it
 * answered REFUSED, or NOTAUTH without a TSIG error (it does not carry the zone for us);
 * XFR_BAD_TSIG — it set a TSIG error (BADKEY, BADSIG, BADTIME: it does not accept our key).
 * `details` holds the rcode and the TSIG error.
 */
export type NotifyDeclined = PldnsError<'XFR_REFUSED' | 'XFR_BAD_TSIG'>;

/**
 * The target's answer. Anything else — no answer in time, a send error, another error rcode
 * (XFR_FAILED), an acknowledgement that fails our TSIG check (XFR_BAD_TSIG) — rejects: the
 * notifier retries those.
 */
export type NotifyAnswer = { readonly result: 'ack' } | { readonly result: 'declined'; readonly error: NotifyDeclined };

interface Pending {
  readonly id: number;
  readonly target: HostPort;
  readonly name: string;
  readonly plain: Buffer;
  signed: { message: Buffer; mac: Buffer } | undefined;
  readonly key: TsigKey | undefined;
  readonly settle: (answer: NotifyAnswer | undefined, err?: PldnsError) => void;
}

function notifyError<C extends 'XFR_REFUSED' | 'XFR_BAD_TSIG' | 'XFR_FAILED' | 'XFR_TIMEOUT'>(
  code: C, target: HostPort, zone: string, what: string, details?: Omit<TransferDetails, 'server' | 'zone'>,
): PldnsError<C> {
  return new PldnsError(code, `${formatHostPort(target)} zone "${zone}": ${what}`, { details: { server: formatHostPort(target), zone, ...details } });
}

export class NotifyChannel {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  /** NOTIFY `zone` at `serial` to `target`, signed with `key` when given. */
  send(target: HostPort, zone: string, serial: number, key: TsigKey | undefined, timeoutMs: number): Promise<NotifyAnswer> {
    const name = canonicalName(zone);
    if (this.closed) return Promise.reject(notifyError('XFR_FAILED', target, name, 'the hub is stopping'));
    let id = randomInt(0, 0x10000);
    for (let i = 0; this.pending.has(id) && i < 0x10000; i++) id = (id + 1) & 0xffff;
    if (this.pending.has(id)) return Promise.reject(notifyError('XFR_FAILED', target, name, 'too many NOTIFYs in flight'));
    const plain = buildNotify(id, name, serial);
    const signed = key === undefined ? undefined : signRequest(plain, key);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(undefined, notifyError('XFR_TIMEOUT', target, name, `no NOTIFY acknowledgement within ${timeoutMs} ms`)), timeoutMs);
      const settle = (answer: NotifyAnswer | undefined, err?: PldnsError): void => {
        if (this.pending.get(id) !== p) return;
        this.pending.delete(id);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(answer as NotifyAnswer);
      };
      const p: Pending = { id, target, name, plain, signed, key, settle };
      this.pending.set(id, p);
      this.write(p, signed?.message ?? plain);
    });
  }

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      s.on('message', (raw, rinfo) => this.received(raw, rinfo));
      // A send error arrives on the send callback; anything else (ICMP on a connected socket cannot happen here) is ignored.
      s.on('error', () => {});
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  private write(p: Pending, message: Buffer): void {
    const family = p.target.family === 6 ? 6 : 4;
    this.socket(family).send(message, p.target.port, p.target.host, (err) => {
      if (err) p.settle(undefined, notifyError('XFR_FAILED', p.target, p.name, `NOTIFY could not be sent: ${err.message}`));
    });
  }

  private received(raw: Buffer, rinfo: dgram.RemoteInfo): void {
    if (raw.length < 12) return;
    const p = this.pending.get(raw.readUInt16BE(0));
    if (!p || rinfo.port !== p.target.port || (p.target.family !== 0 && rinfo.address !== p.target.host)) return;
    let msg: DnsMessage;
    try {
      msg = parseMessage(raw);
    } catch {
      return;
    }
    const q = msg.questions;
    if ((msg.flags & FLAG_QR) === 0 || q.length !== 1 || q[0]?.name !== p.name || q[0].type !== RRType.SOA) return;
    const check = p.key === undefined || p.signed === undefined ? undefined : new TsigStreamVerifier(p.key, p.signed.mac).verify(raw, msg);
    if (check !== undefined && !check.ok && msg.rcode === RCode.FORMERR && (msg.opcode === OPCODE_NOTIFY || msg.opcode === OPCODE_QUERY)) {
      p.signed = undefined;
      this.write(p, p.plain);
      return;
    }
    if (msg.opcode !== OPCODE_NOTIFY) return;
    if (msg.rcode !== RCode.NOERROR) {
      const answer = readErrorAnswer(msg);
      const details = { ...answer.details, ...(check !== undefined && !check.ok ? { tsig: check.reason } : {}) };
      const what = `the target answered ${answer.what}`;
      if (answer.code === 'XFR_FAILED') p.settle(undefined, notifyError('XFR_FAILED', p.target, p.name, what, details));
      else p.settle({ result: 'declined', error: notifyError(answer.code, p.target, p.name, what, details) });
    } else if (check !== undefined && !check.ok) {
      p.settle(undefined, notifyError('XFR_BAD_TSIG', p.target, p.name, `TSIG: ${check.reason}`, { tsig: check.reason }));
    } else p.settle({ result: 'ack' });
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.settle(undefined, notifyError('XFR_FAILED', p.target, p.name, 'the hub is stopping'));
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
