import type { Logger } from '../../runtime/log';
import { LogBudget } from '../../runtime/log-budget';
import { isPldnsError } from '../../errors';
import { FLAG_AA, FLAG_CD, FLAG_QR, FLAG_RD, FLAG_TC, OPCODE_MASK, OPCODE_NOTIFY, RCODE_MASK, RCODE_NOTAUTH, RCode, RRType, TYPE_TSIG } from '../../wire/constants';
import { appendOpt, optBytes, udpLimit } from '../../wire/response';
import { parseMessage, encodeMessage, type DnsMessage, type DnsQuestion } from '../codec/message';
import type { ClientAddress, Protocol, ZoneReply, ZoneService } from '../../server/request';
import type { Query } from '../../wire/query';
import type { ZoneRecord } from '../codec/zone-record';
import { wireToSoa } from '../codec/zone-record-wire';
import { zoneSoa } from '../zone/policy-zone';
import { serialGt } from '../codec/serial';
import type { Authenticate, RequestAuth } from './request-auth';
import type { Sighting } from './secondary-registry';
import type { TransferAcl } from './transfer-acl';
import type { PublishedZone, ZonePublisher } from './zone-publisher';
import { axfrRecords, ixfrRecords, packMessages, setQuestionType, singleMessage } from './xfr-messages';
import { SharedMessages } from './shared-messages';
import { requestEdns, type RequestEdns } from './zone-edns';

export type TransferKind = 'axfr' | 'ixfr' | 'soa' | 'query' | 'notify';
/** How a request to the zone side ended (a transfer's outcome on the pulling side is TransferResult). */
export type ServedResult = 'ok' | 'refused' | 'notauth' | 'formerr' | 'aborted' | 'servfail';

/** What the zone side reports (the app binds it to privatelink_dns_transfer_* metrics). */
export interface ZoneServerObserver {
  served(kind: TransferKind, result: ServedResult): void;
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
  /** Hub: told of every signed SOA check and transfer served (learned NOTIFY, the fleet in /status). */
  readonly secondaries?: { saw(s: Sighting): void };
  /** Edge: where NOTIFY goes. */
  readonly notifyReceiver?: NotifyReceiver;
  readonly authenticate: Authenticate;
  readonly observer: ZoneServerObserver;
  readonly logger: Logger;
  /** This instance's identity for EDNS NSID (RFC 5001): config.nsid; null or absent: NSID is not answered. */
  readonly nsid?: string | null;
}

/** What every answer to one request shares: its ID, header bits, EDNS and TSIG. */
interface Reply {
  readonly m: DnsMessage;
  readonly question: DnsQuestion;
  readonly edns: RequestEdns | null;
  readonly auth: RequestAuth;
  readonly protocol: Protocol;
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
  private readonly ixfrCache = new WeakMap<PublishedZone, Map<number, SharedMessages>>();
  /** Records by owner name, per published zone: answers inside the zone without scanning it. */
  private readonly byName = new WeakMap<PublishedZone, Map<string, ZoneRecord[]>>();
  private readonly nsid: Buffer | undefined;
  /** Rejections are logged within a budget: anyone can send them (they are all counted by the observer). */
  private readonly rejections: LogBudget;

  constructor(private readonly options: ZoneServerOptions) {
    this.nsid = options.nsid ? Buffer.from(options.nsid, 'latin1') : undefined;
    this.rejections = new LogBudget(options.logger, () => options.observer.logSuppressed?.());
  }

  claims(query: Query): boolean {
    if (query.qtype === RRType.AXFR || query.qtype === RRType.IXFR) return true;
    // The whole zone name, published or not (before the first data its requests get SERVFAIL).
    return this.options.publisher?.covers(query.qname) ?? false;
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
    const edns = requestEdns(m);
    if (m.opcode === OPCODE_NOTIFY) return this.notify(msg, m, question, client, edns, protocol);
    if (m.opcode !== 0) return undefined;
    const zone = this.options.publisher?.zoneOf(question.name);
    const transfer = question.type === RRType.AXFR || question.type === RRType.IXFR;
    const signed = m.additionals.some((r) => r.type === TYPE_TSIG);
    // Our zone, not published yet (no data): SERVFAIL, so secondaries keep what they hold.
    if (!zone && this.options.publisher?.covers(question.name)) return this.unpublished(msg, m, question, client, edns, protocol);
    if (!zone) {
      // Not a zone of ours: transfers are refused; anything else takes the normal path.
      if (!transfer && !signed) return undefined;
      const r = this.request(m, question, edns, this.auth(msg, m), protocol);
      return Buffer.isBuffer(r) ? r : this.reply(r, RCode.REFUSED, []);
    }
    const kind: TransferKind = question.type === RRType.AXFR ? 'axfr' : question.type === RRType.IXFR ? 'ixfr' : question.type === RRType.SOA ? 'soa' : 'query';
    const auth = this.auth(msg, m);
    if (auth.kind === 'failed') {
      this.options.observer.served(kind, 'notauth');
      this.rejections.write('warn', { client: client.address, zone: question.name, reason: auth.reason }, 'zone request with a bad TSIG signature: NOTAUTH');
      return auth.response;
    }
    const r = this.request(m, question, edns, auth, protocol);
    if (Buffer.isBuffer(r)) {
      this.options.observer.served(kind, 'formerr');
      return r;
    }
    const keyName = auth.kind === 'signed' ? auth.keyName : undefined;
    if (!this.options.acl?.allows(client.address, keyName)) {
      this.options.observer.served(kind, 'refused');
      if (transfer) this.rejections.write('info', { client: client.address, zone: question.name, key: keyName ?? null, type: kind }, 'zone transfer refused: not in transfer.allow');
      return this.reply(r, RCode.REFUSED, []);
    }
    if (keyName !== undefined && (kind === 'soa' || kind === 'axfr') && question.name === zone.origin) {
      this.options.secondaries?.saw({ address: client.address, keyName, zone: zone.origin, kind, ourSerial: zone.zone.serial });
    }
    if (transfer && question.name !== zone.origin) {
      // Transfers are of whole zones: a name inside one is not a zone of ours.
      this.options.observer.served(kind, 'refused');
      return this.reply(r, RCode.REFUSED, []);
    }
    if (question.type === RRType.AXFR) {
      if (protocol === 'udp') {
        this.options.observer.served(kind, 'refused');
        return this.reply(r, RCode.REFUSED, []);
      }
      return this.stream(r, kind, this.axfrMessages(zone));
    }
    if (question.type === RRType.IXFR) return this.ixfr(r, zone, client);
    this.options.observer.served(kind, 'ok');
    return this.answer(r, zone);
  }

  /**
   * The request's reply context, or the answer its EDNS forces instead of any other: FORMERR (no
   * OPT) for a malformed OPT, BADVERS (our OPT, version 0: RFC 6891 §6.1.3) for a version above 0.
   */
  private request(m: DnsMessage, question: DnsQuestion, edns: RequestEdns | null | 'formerr', auth: RequestAuth, protocol: Protocol): Reply | Buffer {
    if (edns === 'formerr') return this.reply({ m, question, edns: null, auth, protocol }, RCode.FORMERR, []);
    const r: Reply = { m, question, edns, auth, protocol };
    return edns !== null && edns.version > 0 ? this.reply(r, RCode.BADVERS, []) : r;
  }

  /** A request for our zone before it is published: SERVFAIL (bad signatures and the ACL first). */
  private unpublished(msg: Buffer, m: DnsMessage, question: DnsQuestion, client: ClientAddress, edns: RequestEdns | null | 'formerr', protocol: Protocol): Buffer {
    const kind: TransferKind = question.type === RRType.AXFR ? 'axfr' : question.type === RRType.IXFR ? 'ixfr' : question.type === RRType.SOA ? 'soa' : 'query';
    const auth = this.auth(msg, m);
    if (auth.kind === 'failed') {
      this.options.observer.served(kind, 'notauth');
      return auth.response;
    }
    const keyName = auth.kind === 'signed' ? auth.keyName : undefined;
    const r = this.request(m, question, edns, auth, protocol);
    if (Buffer.isBuffer(r)) {
      this.options.observer.served(kind, 'formerr');
      return r;
    }
    const allowed = this.options.acl?.allows(client.address, keyName) ?? false;
    this.options.observer.served(kind, allowed ? 'servfail' : 'refused');
    return this.reply(r, allowed ? RCode.SERVFAIL : RCode.REFUSED, []);
  }

  private auth(msg: Buffer, m: DnsMessage): RequestAuth {
    return this.options.authenticate(msg, m);
  }

  private ixfr(r: Reply, zone: PublishedZone, client: ClientAddress): ZoneReply {
    const { m, auth } = r;
    const theirs = m.authorities.find((r) => r.type === RRType.SOA);
    const theirSerial = theirs ? wireToSoa(theirs)?.soa.serial : undefined;
    if (theirSerial === undefined) {
      this.options.observer.served('ixfr', 'formerr');
      return this.reply(r, RCode.FORMERR, []);
    }
    if (auth.kind === 'signed') {
      this.options.secondaries?.saw({ address: client.address, keyName: auth.keyName, zone: zone.origin, kind: 'ixfr', theirSerial, ourSerial: zone.zone.serial });
    }
    const current = zoneSoa(zone.zone);
    // Up to date (or ahead of us: another hub was newer): our SOA alone says "nothing to send".
    // Over UDP the SOA alone also tells the client to come back over TCP (RFC 1995 §2).
    if (!serialGt(zone.zone.serial, theirSerial) || r.protocol === 'udp') {
      this.options.observer.served('ixfr', 'ok');
      return this.reply(r, RCode.NOERROR, [current]);
    }
    const incremental = this.ixfrMessages(zone, theirSerial);
    if (incremental) return this.stream(r, 'ixfr', incremental);
    // No history back to their serial: the whole zone, under their IXFR question (RFC 1995 §4).
    return this.stream(r, 'ixfr', this.axfrMessages(zone), RRType.IXFR);
  }

  /** Authoritative data for a name inside the zone: the records, NODATA or NXDOMAIN with the SOA. */
  private answer(r: Reply, zone: PublishedZone): Buffer {
    const { question } = r;
    const owned = this.recordsOf(zone).get(question.name) ?? [];
    const matching = owned.filter((rec) => rec.type === question.type || question.type === RRType.ANY);
    if (matching.length > 0) return this.reply(r, RCode.NOERROR, matching);
    return this.reply(r, owned.length > 0 ? RCode.NOERROR : RCode.NXDOMAIN, [], [zoneSoa(zone.zone)]);
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

  /**
   * The incremental answer from `from`, built once per serial pair and shared: after a NOTIFY every
   * secondary asks for the same change.
   */
  private ixfrMessages(zone: PublishedZone, from: number): SharedMessages | undefined {
    let byFrom = this.ixfrCache.get(zone);
    const cached = byFrom?.get(from);
    if (cached) return cached;
    const changes = zone.journal.changesSince(from);
    if (!changes) return undefined;
    const question = { name: zone.origin, type: RRType.IXFR, class: 1 };
    const messages = new SharedMessages(packMessages(question, ixfrRecords(zone.zone, changes)));
    if (!byFrom) {
      byFrom = new Map();
      this.ixfrCache.set(zone, byFrom);
    }
    // Bounded by the journal: one entry per serial it can start from.
    if (byFrom.size <= zone.journal.length) byFrom.set(from, messages);
    return messages;
  }

  /** The AXFR of a serial is built whole: the publisher passes it on (the hub releases the heap its build used; an IXFR's is small). */
  private readonly transferBuilt = (): void => this.options.publisher?.transferBuilt();

  private axfrMessages(zone: PublishedZone): SharedMessages {
    let messages = this.axfrCache.get(zone);
    if (!messages) {
      const question = { name: zone.origin, type: RRType.AXFR, class: 1 };
      messages = new SharedMessages(packMessages(question, axfrRecords(zone.zone)), this.transferBuilt);
      this.axfrCache.set(zone, messages);
    }
    return messages;
  }

  /**
   * The messages with the client's ID (and `qtype` in the question when given), each with our OPT
   * when the request had one (as BIND: every message, before its TSIG), each signed in turn; counted
   * when the last one is handed over, or as aborted when the reader goes away.
   */
  private *stream(r: Reply, kind: TransferKind, messages: Iterable<Buffer>, qtype?: number): Generator<Buffer> {
    const { m, auth } = r;
    let result: ServedResult = 'aborted';
    try {
      for (const body of messages) {
        let copy: Buffer = Buffer.from(body);
        copy.writeUInt16BE(m.id, 0);
        copy.writeUInt16BE(copy.readUInt16BE(2) | (m.flags & (FLAG_RD | FLAG_CD)), 2);
        if (qtype !== undefined) setQuestionType(copy, qtype);
        copy = this.withOpt(copy, r.edns, 0);
        yield auth.kind === 'signed' ? auth.sign(copy) : copy;
      }
      result = 'ok';
    } finally {
      this.options.observer.served(kind, result);
    }
  }

  /**
   * One answer message: the opcode, RD and CD echoed (RFC 1035, 6840), AA only on data of ours (NOERROR,
   * NXDOMAIN; not on refusals and errors, as BIND), our OPT when the request had one (RFC 6891:
   * payload 1232, DO copied, version 0, the extended bits of `rcode`), signed when it was. Over UDP
   * an answer larger than the client takes becomes TC=1 with no records.
   */
  private reply(r: Reply, rcode: number, answers: readonly ZoneRecord[], authority: readonly ZoneRecord[] = []): Buffer {
    const { m, question, auth } = r;
    let body = singleMessage(question, answers, authority, rcode & RCODE_MASK);
    const room = udpLimit(r.edns) - (r.edns ? optBytes(this.nsidFor(r.edns)) : 0);
    let extra = 0;
    if (r.protocol === 'udp' && body.length > room) {
      body = singleMessage(question, [], [], rcode & RCODE_MASK);
      extra = FLAG_TC;
    }
    const aa = rcode === RCode.NOERROR || rcode === RCode.NXDOMAIN ? FLAG_AA : 0;
    body.writeUInt16BE(m.id, 0);
    body.writeUInt16BE(((body.readUInt16BE(2) & ~FLAG_AA) | aa | extra | (m.flags & (OPCODE_MASK | FLAG_RD | FLAG_CD))) & 0xffff, 2);
    body = this.withOpt(body, r.edns, rcode);
    return auth.kind === 'signed' ? auth.sign(body) : body;
  }

  /** `body` with our OPT appended when the request had EDNS (and NSID when it asked and we have one). */
  private withOpt(body: Buffer, edns: RequestEdns | null, rcode: number): Buffer {
    if (edns === null) return body;
    return appendOpt(body, edns.dnssecOk, rcode, this.nsidFor(edns));
  }

  private nsidFor(edns: RequestEdns): Buffer | undefined {
    return edns.nsid ? this.nsid : undefined;
  }

  private notify(msg: Buffer, m: DnsMessage, question: DnsQuestion, client: ClientAddress, edns: RequestEdns | null | 'formerr', protocol: Protocol): ZoneReply | undefined {
    const receiver = this.options.notifyReceiver;
    if (!receiver) return undefined;
    const auth = this.auth(msg, m);
    if (auth.kind === 'failed') {
      this.options.observer.served('notify', 'notauth');
      return auth.response;
    }
    const r = this.request(m, question, edns, auth, protocol);
    if (Buffer.isBuffer(r)) {
      this.options.observer.served('notify', 'formerr');
      return r;
    }
    const verdict = receiver.notified(question.name, client, auth.kind === 'signed' ? auth.keyName : undefined);
    const rcode = verdict === 'accepted' ? RCode.NOERROR : verdict === 'notauth' ? RCODE_NOTAUTH : verdict === 'unknown-zone' ? RCODE_NOTAUTH : RCode.REFUSED;
    this.options.observer.served('notify', verdict === 'accepted' ? 'ok' : verdict === 'refused' ? 'refused' : 'notauth');
    const body = this.withOpt(encodeMessage({ id: m.id, flags: FLAG_QR | FLAG_AA | (OPCODE_NOTIFY << 11) | rcode, question }), r.edns, 0);
    return auth.kind === 'signed' ? auth.sign(body) : body;
  }
}
