import http from 'node:http';
import type net from 'node:net';
import type { Logger } from '../runtime/log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { DEFAULTS, type HttpLimitsConfig } from '../config/schema';
import { ConnectionCheck } from './connection-check';
import { ROUTES, jsonReply, rejectRequest, type HttpReply, type HttpSources, type Route } from './routes';

export type { HttpSources, Readiness } from './routes';

export interface HttpServerOptions {
  readonly address: HostPort;
  readonly sources: HttpSources;
  readonly logger: Logger;
  /** Default: every route (ROUTES); a metrics-only listener passes METRICS_ROUTES. */
  readonly routes?: ReadonlyMap<string, Route>;
  /** The `limits.http_*` settings; default DEFAULT_HTTP_LIMITS. */
  readonly limits?: HttpLimitsConfig;
}

/**
 * Limits for an admin port that only probes and scrapers should talk to (limits.http_*). A probe
 * sends its request in one segment: headers still incomplete after 2 s are slowloris.
 */
export const DEFAULT_HTTP_LIMITS: HttpLimitsConfig = {
  maxConnections: DEFAULTS.httpMaxConnections,
  maxConnectionsPerClient: DEFAULTS.httpMaxConnectionsPerClient,
  requestTimeoutMs: DEFAULTS.httpRequestTimeoutMs,
  headersTimeoutMs: DEFAULTS.httpHeadersTimeoutMs,
  keepAliveTimeoutMs: DEFAULTS.httpKeepAliveTimeoutMs,
  maxHeaderBytes: DEFAULTS.httpMaxHeaderBytes,
  maxHeaders: DEFAULTS.httpMaxHeaders,
};
/**
 * Node checks the request deadlines only every connectionsCheckingInterval (30 s by default):
 * checked often here, and only while a connection is open (ConnectionCheck).
 */
const CHECK_INTERVAL_MS = 250;

/** An open connection: when it last started or finished a request, and whether one is running. */
interface Peer {
  readonly address: string;
  since: number;
  active: number;
}
/** How long close() lets responses already being computed finish before cutting every connection. */
const CLOSE_GRACE_MS = 1_000;

/**
 * /healthz, /readyz, /status and /metrics on node:http. The server owns the protocol edge: unknown
 * paths, wrong methods, request bodies (never read into memory), limits, and sources that throw
 * (a 500, logged, never a crash). What it reports comes from `HttpSources`.
 */
export class HttpServer {
  private server: http.Server | undefined;
  private readonly sources: HttpSources;
  private readonly logger: Logger;
  private inFlight = 0;
  private closing = false;
  private readonly peers = new Map<net.Socket, Peer>();
  private readonly perClient = new Map<string, Set<net.Socket>>();
  private readonly limits: HttpLimitsConfig;
  private deadlines: ConnectionCheck | undefined;

  constructor(private readonly options: HttpServerOptions) {
    this.sources = options.sources;
    this.logger = options.logger;
    this.limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  }

  get label(): string {
    return `http://${formatHostPort(this.options.address)}`;
  }

  /** Binds and resolves with the bound port (useful with port 0). */
  async start(): Promise<number> {
    const server = http.createServer(
      {
        maxHeaderSize: this.limits.maxHeaderBytes,
        requestTimeout: this.limits.requestTimeoutMs,
        headersTimeout: this.limits.headersTimeoutMs,
        keepAliveTimeout: this.limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: CHECK_INTERVAL_MS,
      },
      (req, res) => void this.onRequest(req, res),
    );
    server.maxHeadersCount = this.limits.maxHeaders;
    server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PldnsError('LISTEN_FAILED', `cannot bind ${this.label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      server.once('error', onError);
      const { host, port, family } = this.options.address;
      server.listen({ host, port, ipv6Only: family === 6 }, () => {
        server.off('error', onError);
        this.deadlines = ConnectionCheck.take(server, CHECK_INTERVAL_MS);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err: err.message, listener: this.label }, 'http server error'));
    this.server = server;
    return (server.address() as net.AddressInfo).port;
  }

  /**
   * Caps per client and in total. At a cap the connection that has been idle longest (no request
   * running: a keep-alive socket, or one still trickling its headers) is closed for the new one,
   * so health probes get in however many slow connections are open.
   */
  private onConnection(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    let mine = this.perClient.get(address);
    const { maxConnections, maxConnectionsPerClient } = this.limits;
    const full = (mine !== undefined && mine.size >= maxConnectionsPerClient && !this.shedOldestIdle(mine))
      || (this.peers.size >= maxConnections && !this.shedOldestIdle(this.peers.keys()));
    if (full) {
      this.refuse(socket, address);
      return;
    }
    if (!mine) {
      mine = new Set();
      this.perClient.set(address, mine);
    }
    mine.add(socket);
    this.peers.set(socket, { address, since: Date.now(), active: 0 });
    this.deadlines?.connections(this.peers.size);
    socket.once('close', () => this.forget(socket));
  }

  private refuse(socket: net.Socket, address: string): void {
    this.logger.debug({ listener: this.label, client: address }, 'http connection cap reached; connection dropped');
    socket.destroy();
  }

  private shedOldestIdle(sockets: Iterable<net.Socket>): boolean {
    let victim: net.Socket | undefined;
    let since = Infinity;
    for (const socket of sockets) {
      const peer = this.peers.get(socket);
      if (peer && peer.active === 0 && peer.since < since) {
        victim = socket;
        since = peer.since;
      }
    }
    if (!victim) return false;
    this.forget(victim);
    victim.destroy();
    return true;
  }

  private forget(socket: net.Socket): void {
    const peer = this.peers.get(socket);
    if (!peer) return;
    this.peers.delete(socket);
    this.deadlines?.connections(this.peers.size);
    const mine = this.perClient.get(peer.address);
    mine?.delete(socket);
    if (mine?.size === 0) this.perClient.delete(peer.address);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++;
    const peer = this.peers.get(req.socket);
    if (peer) {
      peer.active++;
      res.once('close', () => {
        peer.active--;
        peer.since = Date.now();
      });
    }
    try {
      // Bodies mean nothing here: discard them as they arrive, and do not keep a connection
      // open just to drain one.
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      req.resume();
      if (hasBody || this.closing) res.setHeader('connection', 'close');
      const method = req.method ?? '';
      const path = (req.url ?? '').split('?', 1)[0];
      const route = (this.options.routes ?? ROUTES).get(path);
      const sources = this.sources;
      let reply = rejectRequest(route, method);
      if (reply === undefined && route !== undefined) {
        try {
          reply = await route.handle(sources);
        } catch (err) {
          this.logger.error({ err: err instanceof Error ? err.message : String(err), path, method }, 'http handler failed');
          reply = jsonReply(500, { error: 'internal error' });
        }
      }
      this.send(res, reply ?? jsonReply(500, { error: 'internal error' }));
    } catch (err) {
      // Only writing can fail here (e.g. the client went away); nothing left to answer.
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'http response not sent');
      res.destroy();
    } finally {
      this.inFlight--;
    }
  }

  private send(res: http.ServerResponse, reply: HttpReply): void {
    if (res.headersSent || res.destroyed) return;
    res.statusCode = reply.status;
    res.setHeader('content-type', reply.contentType);
    res.setHeader('content-length', Buffer.byteLength(reply.body));
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    // For HEAD, node sends the headers (content-length included) and drops the body.
    res.end(reply.body);
  }

  /** Whether the deadline check is armed (tests: only while a connection is open). */
  get checkingDeadlines(): boolean {
    return this.deadlines?.running ?? true;
  }

  /** Stops listening, lets responses already being computed finish briefly, then cuts every connection. */
  async close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      server.closeIdleConnections();
    }
    // Idle keep-alive sockets and half-sent requests would otherwise hold close() for their timeouts.
    server.closeAllConnections();
    await closed;
  }
}
