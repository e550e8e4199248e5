import type { ResponseScan } from '../wire/message-scan';
import type { DnsRequest, Protocol } from '../server/request';
import type { Query } from '../wire/query';

/** Told once how a forward ended (the forwarder's sink, declared here as the resolver needs it). */
export interface ForwardReceiver {
  forwarded(reply: Buffer, scan: ResponseScan): void;
  forwardFailed(err: unknown): void;
}

/** Where a miss is forwarded (the resolver's ForwardPort). */
export interface ForwardStarter {
  forwardTo(q: Query, protocol: Protocol, sink: ForwardReceiver): void;
}

/** What a miss is handed to when its forward ends: the resolver's relay and failure paths. */
export interface MissHandler {
  /** The client's answer from the upstream's reply (client ID already restored). */
  forwardedMiss(req: DnsRequest, key: string, reply: Buffer, scan: ResponseScan): Buffer;
  /** The client's answer when every upstream failed (stale, or SERVFAIL). */
  failedMiss(req: DnsRequest, key: string): Buffer;
}

/**
 * One cache miss waiting for its upstream answer: the forwarder's sink, and the settle functions of
 * the one promise the query path hands back for it. Reused (Resolver keeps a free list), so a
 * miss costs that promise and no async frame, closure or sink object.
 */
export class PendingMiss implements ForwardReceiver {
  private req: DnsRequest | undefined;
  private key = '';
  private resolve: ((answer: Buffer) => void) | undefined;
  private reject: ((err: unknown) => void) | undefined;
  /** The promise executor, made once per record rather than once per miss. */
  private readonly capture = (resolve: (answer: Buffer) => void, reject: (err: unknown) => void): void => {
    this.resolve = resolve;
    this.reject = reject;
  };

  constructor(
    private readonly handler: MissHandler,
    private readonly release: (miss: PendingMiss) => void,
  ) {}

  /** Forwards the query, with this as the sink; the promise of the client's answer. */
  begin(req: DnsRequest, key: string, forwarder: ForwardStarter): Promise<Buffer> {
    this.req = req;
    this.key = key;
    const answer = new Promise<Buffer>(this.capture);
    forwarder.forwardTo(req.query, req.protocol, this);
    return answer;
  }

  forwarded(reply: Buffer, scan: ResponseScan): void {
    const { req, key, resolve, reject } = this;
    this.done();
    if (!req || !resolve || !reject) return;
    try {
      resolve(this.handler.forwardedMiss(req, key, reply, scan));
    } catch (err) {
      // The pipeline answers SERVFAIL and logs it, as for any handler failure.
      reject(err);
    }
  }

  forwardFailed(): void {
    const { req, key, resolve, reject } = this;
    this.done();
    if (!req || !resolve || !reject) return;
    try {
      resolve(this.handler.failedMiss(req, key));
    } catch (err) {
      reject(err);
    }
  }

  private done(): void {
    this.req = undefined;
    this.key = '';
    this.resolve = undefined;
    this.reject = undefined;
    this.release(this);
  }
}
