import type { Logger } from '../runtime/log';
import { QueryParser, detachQuery, transferQuestionEnd, type Query } from '../wire/query';
import { queryClock } from './query-clock';
import { buildRcodeResponse, buildRefusedFor, buildRejectResponse, truncateResponse, udpLimit } from '../wire/response';
import { RCode } from '../wire/constants';
import type { AdmissionCheck, ClientAddress, DnsHandler, DnsRequest, PipelineCounters, Protocol, ZoneReply, ZoneService } from './request';

/**
 * Where a transport sends what the pipeline decided. `send` answers the message being served (only
 * during `serve`); `hold` keeps the client for an answer that comes later and returns the function
 * that delivers it (call it once; null sends nothing). `stream` writes several messages in order
 * (zone transfers; TCP only).
 */
export interface PipelineOutput {
  /** `send` copies the bytes before it returns (batch output slots): the answer may be built in a reused buffer. */
  readonly copiesReplies?: boolean;
  /** The transport refreshed queryClock when the message arrived (once per batch): its receipt time is read, not taken again. */
  readonly stampsArrival?: boolean;
  send(bytes: Buffer): void;
  hold(): (bytes: Buffer | null) => void;
  stream?(messages: Iterable<Buffer>): void;
}

export interface PipelineRoutes {
  readonly handler: DnsHandler;
  readonly admit: AdmissionCheck;
  /** Whether a UDP REFUSED may be sent to this client now (refusals are rate-limited); absent: always. */
  readonly mayRefuse?: (client: ClientAddress) => boolean;
  readonly zone?: ZoneService;
}

/**
 * The one path from bytes to answer, shared by every transport: guard and parse, admit (access,
 * rate limit), then reject, answer at once, or hand to the handler; handler failures cost that
 * query a SERVFAIL. Transports only move bytes. Routes are swapped whole on reload.
 */
export class QueryPipeline {
  private routes: PipelineRoutes;
  /** One parser and one request object for every query: nothing allocated per datagram (issue 26). */
  private readonly parser = new QueryParser();
  private readonly request = new ReusedRequest();

  constructor(routes: PipelineRoutes, private readonly counters: PipelineCounters, private readonly logger: Logger) {
    this.routes = routes;
  }

  reconfigure(routes: PipelineRoutes): void {
    this.routes = routes;
  }

  get pipelineCounters(): PipelineCounters {
    return this.counters;
  }

  /**
   * Whether a TCP client may hold a connection at all (RFC 7766 §10): one whose every query would
   * be refused is turned away at accept, so it cannot take the slots allowed clients need. With a
   * zone service, transfer.allow (and TSIG-keyed requests from anywhere) count too.
   */
  admitsConnection(client: ClientAddress): boolean {
    const { admit, zone } = this.routes;
    if (admit(client, 'tcp') !== 'refuse') return true;
    if (zone === undefined) return false;
    return zone.acceptsConnection ? zone.acceptsConnection(client.address) : true;
  }

  serve(msg: Buffer, client: ClientAddress, protocol: Protocol, out: PipelineOutput): void {
    const { handler, admit, zone } = this.routes;
    const counters = this.counters;
    // Receipt time, for admission (rate limits) and the duration histogram.
    if (out.stampsArrival !== true) queryClock.refresh();
    const parsed = this.parser.parse(msg);
    if (parsed.kind === 'drop') {
      counters.dropped(parsed.reason);
      return;
    }
    const admission = admit(client, protocol);
    if (admission === 'drop') {
      counters.dropped('rate_limit');
      return;
    }
    let refusalCharged = false;
    // Rejected messages go to the zone service too: NOTIFY, signed or IXFR requests, and EDNS
    // versions it answers BADVERS itself for names of its zones.
    if (zone !== undefined && (parsed.kind === 'reject' || zone.claims(parsed))) {
      // Admission comes first whatever the opcode (the rate limit above, then access.allow). A source outside
      // it that the zone service does not name (transfer.allow network, primary) gets at most the
      // REFUSED rate of answers over UDP, whatever they would be (NOTAUTH, REFUSED, NOTIFY acks),
      // so zone traffic is no better a reflector than a query. TSIG-keyed requests from anywhere
      // (transfer.allow key:NAME) still get through, within that rate over UDP and freely over TCP.
      if (admission === 'refuse' && protocol === 'udp' && !zone.trusts?.(client.address) && this.routes.mayRefuse) {
        if (!this.routes.mayRefuse(client)) {
          counters.dropped('refused_rate_limit');
          return;
        }
        refusalCharged = true;
      }
      // The zone service may answer later: its own copies of the message and the client.
      const reply = this.zoneReply(zone, Buffer.from(msg), { address: client.address, port: client.port }, protocol);
      if (reply !== undefined) {
        this.deliverZone(reply, parsed.kind === 'query' ? parsed : null, protocol, out);
        return;
      }
    }
    if (parsed.kind === 'reject') {
      // Without a zone service, a transfer request the guard rejected (IXFR with its SOA) is
      // refused like any other transfer, not answered FORMERR.
      const transferEnd = zone === undefined && parsed.reason === 'formerr' ? transferQuestionEnd(msg) : -1;
      counters.rejected(transferEnd > 0 ? 'refused' : parsed.reason, protocol);
      if (admission === 'pass') out.send(transferEnd > 0 ? buildRefusedFor(msg, transferEnd) : buildRejectResponse(msg, parsed));
      return;
    }
    if (admission === 'refuse') {
      if (protocol === 'udp' && !refusalCharged && this.routes.mayRefuse && !this.routes.mayRefuse(client)) {
        counters.dropped('refused_rate_limit');
        return;
      }
      counters.rejected('refused', protocol);
      out.send(buildRcodeResponse(parsed, RCode.REFUSED));
      return;
    }
    if (admission === 'slip') {
      out.send(truncateResponse(parsed, buildRcodeResponse(parsed, RCode.NOERROR)));
      return;
    }
    let result: Buffer | null | Promise<Buffer | null>;
    const request = this.request;
    request.query = parsed;
    request.client = client;
    request.protocol = protocol;
    request.receivedAt = queryClock.micros;
    request.replyCopied = out.copiesReplies === true;
    try {
      result = handler(request);
    } catch (err) {
      out.send(this.failed(parsed, err));
      return;
    }
    if (result instanceof Promise) this.answerLater(result, parsed, protocol, out);
    else if (result) out.send(fit(parsed, protocol, result));
  }

  /**
   * Apart from serve: closures that capture serve's variables would make V8 allocate their
   * context on every call of serve, answered at once or not (48 bytes a query).
   */
  private answerLater(result: Promise<Buffer | null>, parsed: Query, protocol: Protocol, out: PipelineOutput): void {
    const q = detachQuery(parsed);
    const deliver = out.hold();
    result.then(
      (bytes) => deliver(bytes && fit(q, protocol, bytes)),
      (err) => deliver(this.failed(q, err)),
    );
  }

  private zoneReply(zone: ZoneService, msg: Buffer, client: ClientAddress, protocol: Protocol): ZoneReply | Promise<ZoneReply> | undefined {
    try {
      return zone.handle(msg, client, protocol);
    } catch (err) {
      this.counters.dropped('handler_error');
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'zone service failed; message dropped');
      return null;
    }
  }

  private deliverZone(reply: ZoneReply | Promise<ZoneReply>, q: Query | null, protocol: Protocol, out: PipelineOutput): void {
    const write = (r: ZoneReply, send: (bytes: Buffer | null) => void): void => {
      if (r === null || Buffer.isBuffer(r)) send(r);
      else if (protocol === 'tcp' && out.stream) {
        send(null);
        out.stream(r);
      } else {
        // Several messages never go over UDP: the service answers UDP with one message.
        send(null);
      }
    };
    if (reply instanceof Promise) {
      const own = q && detachQuery(q);
      const deliver = out.hold();
      reply.then(
        (r) => write(r, deliver),
        (err) => deliver(own ? this.failed(own, err) : null),
      );
    } else {
      write(reply, (bytes) => {
        if (bytes) out.send(bytes);
      });
    }
  }

  private failed(q: Query, err: unknown): Buffer {
    this.counters.dropped('handler_error');
    this.logger.error({ err: err instanceof Error ? err.message : String(err), qname: q.qname }, 'query handler failed; answering SERVFAIL');
    return buildRcodeResponse(q, RCode.SERVFAIL);
  }
}

/** The pipeline's one DnsRequest, filled in for each query (handlers that answer later detach it). */
class ReusedRequest implements DnsRequest {
  query: Query = EMPTY_QUERY;
  client: ClientAddress = { address: '', port: 0 };
  protocol: Protocol = 'udp';
  receivedAt = 0;
  replyCopied = false;
}

const EMPTY_QUERY: Query = { kind: 'query', id: 0, rd: false, cd: false, qname: '', qtype: 0, qclass: 0, questionEnd: 0, edns: null, raw: Buffer.alloc(0) };

function fit(q: Query, protocol: Protocol, bytes: Buffer): Buffer {
  return protocol === 'udp' && bytes.length > udpLimit(q.edns) ? truncateResponse(q, bytes) : bytes;
}
