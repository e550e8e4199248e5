import type { Logger } from '../../runtime/log';
import { LogBudget } from '../../runtime/log-budget';
import { isPldnsError } from '../../errors';
import { FLAG_AA, FLAG_QR, OPCODE_NOTIFY, RCODE_NOTAUTH, RCode, RRType, TYPE_TSIG } from '../../wire/constants';
import { parseMessage, encodeMessage, type DnsMessage, type DnsQuestion } from '../codec/message';
import type { ClientAddress, Protocol, ZoneReply, ZoneService } from '../../server/request';
import type { Query } from '../../wire/query';
import type { ZoneRecord } from '../codec/zone-record';
import { wireToZoneRecord } from '../codec/zone-record-wire';
import { zoneSoa } from '../zone/policy-zone';
import { serialGt } from '../codec/serial';
import type { Authenticate, RequestAuth } from './request-auth';
import type { TransferAcl } from './transfer-acl';
import type { PublishedZone, ZonePublisher } from './zone-publisher';
import { axfrRecords, ixfrRecords, packMessages, setQuestionType, singleMessage } from './xfr-messages';
import { SharedMessages } from './shared-messages';

export type TransferKind = 'axfr' | 'ixfr' | 'soa' | 'query' | 'notify';
export type TransferResult = 'ok' | 'refused' | 'notauth' | 'formerr' | 'aborted';

/** What the zone side reports (the app binds it to privatelink_dns_transfer_* metrics). */
export interface ZoneServerObserver {
  served(kind: TransferKind, result: TransferResult): void;
  /** A log line about a rejected request was dropped (over the log budget). */
  logSuppressed?(): void;
}

/** The edge side: a NOTIFY for `zone` arrived; accepted only from a configured primary. */
export interface NotifyReceiver {
  notified(zone: string, client: ClientAddress, keyName: string | undefined): 'accepted' | 'refused' | 'notauth' | 'unknown-zone';
  /** Whether `address` is one of the configured primaries (the only sources a NOTIFY is taken from). */
  isPrimary(address: string): boolean;
}

export interface ZoneServerOptions {
  /** Hub: the published zones, and who may read them. */
  readonly publisher?: ZonePublisher;
  readonly acl?: TransferAcl;
  /** Edge: where NOTIFY goes. */
  readonly notifyReceiver?: NotifyReceiver;
  readonly authenticate: Authenticate;
  readonly observer: ZoneServerObserver;
  readonly logger: Logger;
}

/**
 * The zone side of the DNS edge: SOA, AXFR and IXFR of the published zones (TCP for transfers,
 * transfer.allow and TSIG checked first), authoritative answers for names inside them, and NOTIFY
 * for an edge. Transfers are streams of messages the TCP server writes as the client reads, so a
 * slow or stalled client costs only its own connection. The AXFR messages of a serial are built
 * once, as the first reader needs them, and shared; each client gets a copy with its ID (and the
 * IXFR question for an AXFR-style IXFR answer), signed.
 */
export class ZoneServer implements ZoneService {
  private readonly axfrCache = new WeakMap<PublishedZone, SharedMessages>();
  /** Records by owner name, per published zone: answers inside the zone without scanning it. */
  private readonly byName = new WeakMap<PublishedZone, Map<string, ZoneRecord[]>>();
  /** Rejections are logged within a budget: anyone can send them (they are all counted by the observer). */
  private readonly rejections: LogBudget;

  constructor(private readonly options: ZoneServerOptions) {
    this.rejections = new LogBudget(options.logger, () => options.observer.logSuppressed?.());
  }

  claims(query: Query): boolean {
    if (query.qtype === RRType.AXFR || query.qtype === RRType.IXFR) return true;
    return this.options.publisher?.zoneOf(query.qname) !== undefined;
  }

  /** An edge takes NOTIFY from its primaries; a hub serves transfer.allow. */
  acceptsConnection(address: string): boolean {
    if (this.options.notifyReceiver?.isPrimary(address)) return true;
    return this.options.acl?.mayConnect(address) ?? false;
  }

  /** Sources named by address (a transfer.allow network, a primary): not held to the REFUSED rate. */
  trusts(address: string): boolean {
    return (this.options.notifyReceiver?.isPrimary(address) ?? false) || (this.options.acl?.allowsAddress(address) ?? false);
  }

  handle(msg: Buffer, client: ClientAddress, protocol: Protocol): ZoneReply | undefined {
    let m: DnsMessage;
    try {
      m = parseMessage(msg);
    } catch (err) {
      if (isPldnsError(err, 'WIRE_MALFORMED')) return undefined;
      throw err;
    }
    if ((m.flags & FLAG_QR) !== 0 || m.questions.length !== 1) return undefined;
    const question = m.questions[0] as DnsQuestion;
    if (m.opcode === OPCODE_NOTIFY) return this.notify(msg, m, question, client);
    if (m.opcode !== 0) return undefined;
    const zone = this.options.publisher?.zoneOf(question.name);
    const transfer = question.type === RRType.AXFR || question.type === RRType.IXFR;
    const signed = m.additionals.some((r) => r.type === TYPE_TSIG);
    if (!zone) {
      // Not a zone of ours: transfers are refused; anything else takes the normal path.
      return transfer || signed ? this.reply(m, question, RCode.REFUSED, [], this.auth(msg, m)) : undefined;
    }
    const kind: TransferKind = question.type === RRType.AXFR ? 'axfr' : question.type === RRType.IXFR ? 'ixfr' : question.type === RRType.SOA ? 'soa' : 'query';
    const auth = this.auth(msg, m);
    if (auth.kind === 'failed') {
      this.options.observer.served(kind, 'notauth');
      this.rejections.write('warn', { client: client.address, zone: question.name, reason: auth.reason }, 'zone request with a bad TSIG signature: NOTAUTH');
      return auth.response;
    }
    const keyName = auth.kind === 'signed' ? auth.keyName : undefined;
    if (!this.options.acl?.allows(client.address, keyName)) {
      this.options.observer.served(kind, 'refused');
      if (transfer) this.rejections.write('info', { client: client.address, zone: question.name, key: keyName ?? null, type: kind }, 'zone transfer refused: not in transfer.allow');
      return this.reply(m, question, RCode.REFUSED, [], auth);
    }
    if (transfer && question.name !== zone.origin) {
      // Transfers are of whole zones: a name inside one is not a zone of ours.
      this.options.observer.served(kind, 'refused');
      return this.reply(m, question, RCode.REFUSED, [], auth);
    }
    if (question.type === RRType.AXFR) {
      if (protocol === 'udp') {
        this.options.observer.served(kind, 'refused');
        return this.reply(m, question, RCode.REFUSED, [], auth);
      }
      return this.stream(m, auth, kind, this.axfrMessages(zone));
    }
    if (question.type === RRType.IXFR) return this.ixfr(m, question, zone, auth, protocol);
    this.options.observer.served(kind, 'ok');
    return this.answer(m, question, zone, auth);
  }

  private auth(msg: Buffer, m: DnsMessage): RequestAuth {
    return this.options.authenticate(msg, m);
  }

  private ixfr(m: DnsMessage, question: DnsQuestion, zone: PublishedZone, auth: RequestAuth, protocol: Protocol): ZoneReply {
    const theirs = m.authorities.find((r) => r.type === RRType.SOA);
    const theirSoa = theirs ? wireToZoneRecord(theirs) : undefined;
    const theirSerial = theirSoa ? Number(theirSoa.data.split(' ')[2]) : NaN;
    if (!Number.isInteger(theirSerial)) {
      this.options.observer.served('ixfr', 'formerr');
      return this.reply(m, question, RCode.FORMERR, [], auth);
    }
    const current = zoneSoa(zone.zone);
    // Up to date (or ahead of us: another hub was newer): our SOA alone says "nothing to send".
    // Over UDP the SOA alone also tells the client to come back over TCP (RFC 1995 §2).
    if (!serialGt(zone.zone.serial, theirSerial) || protocol === 'udp') {
      this.options.observer.served('ixfr', 'ok');
      return this.reply(m, question, RCode.NOERROR, [current], auth);
    }
    const changes = zone.journal.changesSince(theirSerial);
    if (changes) return this.stream(m, auth, 'ixfr', packMessages(question, ixfrRecords(zone.zone, changes)));
    // No history back to their serial: the whole zone, under their IXFR question (RFC 1995 §4).
    return this.stream(m, auth, 'ixfr', this.axfrMessages(zone), RRType.IXFR);
  }

  /** Authoritative data for a name inside the zone: the records, NODATA or NXDOMAIN with the SOA. */
  private answer(m: DnsMessage, question: DnsQuestion, zone: PublishedZone, auth: RequestAuth): Buffer {
    const owned = this.recordsOf(zone).get(question.name) ?? [];
    const matching = owned.filter((r) => r.type === question.type || question.type === RRType.ANY);
    if (matching.length > 0) return this.reply(m, question, RCode.NOERROR, matching, auth);
    return this.reply(m, question, owned.length > 0 ? RCode.NOERROR : RCode.NXDOMAIN, [], auth, [zoneSoa(zone.zone)]);
  }

  private recordsOf(zone: PublishedZone): Map<string, ZoneRecord[]> {
    let index = this.byName.get(zone);
    if (!index) {
      index = new Map();
      for (const r of zone.zone.records) {
        const list = index.get(r.name);
        if (list) list.push(r);
        else index.set(r.name, [r]);
      }
      this.byName.set(zone, index);
    }
    return index;
  }

  private axfrMessages(zone: PublishedZone): SharedMessages {
    let messages = this.axfrCache.get(zone);
    if (!messages) {
      const question = { name: zone.origin, type: RRType.AXFR, class: 1 };
      messages = new SharedMessages(packMessages(question, axfrRecords(zone.zone)));
      this.axfrCache.set(zone, messages);
    }
    return messages;
  }

  /**
   * The messages with the client's ID (and `qtype` in the question when given), each signed in
   * turn; counted when the last one is handed over, or as aborted when the reader goes away.
   */
  private *stream(m: DnsMessage, auth: RequestAuth, kind: TransferKind, messages: Iterable<Buffer>, qtype?: number): Generator<Buffer> {
    let result: TransferResult = 'aborted';
    try {
      for (const body of messages) {
        const copy = Buffer.from(body);
        copy.writeUInt16BE(m.id, 0);
        if (qtype !== undefined) setQuestionType(copy, qtype);
        yield auth.kind === 'signed' ? auth.sign(copy) : copy;
      }
      result = 'ok';
    } finally {
      this.options.observer.served(kind, result);
    }
  }

  private reply(m: DnsMessage, question: DnsQuestion, rcode: number, answers: readonly ZoneRecord[], auth: RequestAuth, authority: readonly ZoneRecord[] = []): Buffer {
    const body = singleMessage(question, answers, authority, rcode);
    body.writeUInt16BE(m.id, 0);
    // Echo RD from the request (RFC 1035); AA stays set: we are the zone's authority.
    body.writeUInt16BE(body.readUInt16BE(2) | (m.flags & 0x0100), 2);
    return auth.kind === 'signed' ? auth.sign(body) : body;
  }

  private notify(msg: Buffer, m: DnsMessage, question: DnsQuestion, client: ClientAddress): ZoneReply | undefined {
    const receiver = this.options.notifyReceiver;
    if (!receiver) return undefined;
    const auth = this.auth(msg, m);
    if (auth.kind === 'failed') {
      this.options.observer.served('notify', 'notauth');
      return auth.response;
    }
    const verdict = receiver.notified(question.name, client, auth.kind === 'signed' ? auth.keyName : undefined);
    const rcode = verdict === 'accepted' ? RCode.NOERROR : verdict === 'notauth' ? RCODE_NOTAUTH : verdict === 'unknown-zone' ? RCODE_NOTAUTH : RCode.REFUSED;
    this.options.observer.served('notify', verdict === 'accepted' ? 'ok' : verdict === 'refused' ? 'refused' : 'notauth');
    const body = encodeMessage({ id: m.id, flags: FLAG_QR | FLAG_AA | (OPCODE_NOTIFY << 11) | rcode, question });
    return auth.kind === 'signed' ? auth.sign(body) : body;
  }
}
