/**
 * The PrivateLink API simulator: a node:http server that answers the way the real service does
 * (its actions, paging, errors and request signing), so the real client, its signing and its error handling run end
 * to end without a cloud account. `privatelink-dns simulate` listens on 127.0.0.1:8054 by default.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../runtime/log';
import { errorReply, handleApiCall, isSimulatedAction, newRequestId } from './api';
import { handleControl } from './control';
import { validateSimulatorData } from './data';
import type { Fault, FaultSpec } from './faults';
import { verifyV2, verifyV3, type SignatureFailure, type VerifyOptions } from './signature';
import { SimulatorStore } from './store';
import { StsIssuer, STS_API_VERSION, stsFieldsOf, type SimulatorStsOptions, type StsRequestFields } from './sts';
import type { ApiReply, SimulatorData } from './types';

export const SIMULATOR_DEFAULT_HOST = '127.0.0.1';
export const SIMULATOR_DEFAULT_PORT = 8054;
export const SIMULATOR_DEFAULT_ACCESS_KEY_ID = 'simulator';
export const SIMULATOR_DEFAULT_ACCESS_KEY_SECRET = 'simulator';
const API_VERSION = '2020-04-15';
const MAX_BODY_BYTES = 1024 * 1024;
const CONTROL_PREFIX = '/_simulator/';

export interface SimulatorOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  data?: SimulatorData;
  accessKeyId?: string;
  accessKeySecret?: string;
  /** Serve HTTPS with this key and certificate (PEM) instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Also answer STS AssumeRole (signed with the simulator's key) and AssumeRoleWithOIDC (RRSA) for this role. */
  sts?: SimulatorStsOptions;
  logger?: Logger;
}

/** What a request arrived with: the Host header and, over TLS, the SNI name (null without SNI). */
export interface SeenRequest {
  host: string;
  servername: string | null;
  action: string;
  /** STS calls: the session fields asked for (ExternalId, DurationSeconds, Policy...). */
  sts?: StsRequestFields;
}

export interface RunningSimulator {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the form the client's `endpoint` wants (no scheme). */
  readonly endpoint: string;
  /** `http(s)://host:port`, for the control API. */
  readonly url: string;
  /** The last requests (up to 100), oldest first. */
  requests(): readonly SeenRequest[];
  /** In-process equivalents of the control API. */
  setData(data: SimulatorData): void;
  getData(): SimulatorData;
  addFault(spec: FaultSpec): Fault;
  clearFaults(): void;
  calls(): Record<string, number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  send(res, status, body === undefined ? '' : JSON.stringify(body), 'application/json;charset=utf-8', headers);
}

function formPairs(req: IncomingMessage, body: Buffer): Array<[string, string]> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') || body.length === 0) return [];
  return [...new URLSearchParams(body.toString('utf8'))];
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const store = new SimulatorStore(validateSimulatorData(opts.data ?? { endpoints: [] }));
  const accessKeyId = opts.accessKeyId ?? SIMULATOR_DEFAULT_ACCESS_KEY_ID;
  const accessKeySecret = opts.accessKeySecret ?? SIMULATOR_DEFAULT_ACCESS_KEY_SECRET;
  const logger = opts.logger?.child({ component: 'simulator' });
  const timers = new Set<NodeJS.Timeout>();
  const sts = new StsIssuer(opts.sts);
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });

  function verify(req: IncomingMessage, path: string, query: Array<[string, string]>, params: Array<[string, string]>, body: Buffer): SignatureFailure | undefined {
    const verifyOptions: VerifyOptions = {
      secretFor: (id) => (id === accessKeyId ? accessKeySecret : sts.secretFor(id, Date.now())),
      checkToken: (id, token) => sts.checkToken(id, token),
      useNonce: (nonce, nowMs) => store.useNonce(nonce, nowMs),
      nowMs: Date.now(),
    };
    if (req.headers.authorization !== undefined) {
      return verifyV3({ method: req.method ?? 'GET', path, query, headers: req.headers, body }, verifyOptions);
    }
    return verifyV2(req.method ?? 'GET', params, verifyOptions);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, requestId: string): Promise<void> {
    const hostId = (req.headers.host ?? 'privatelink.simulator').replace(/:\d+$/, '');
    const query = [...url.searchParams];
    // V2 (RPC, HMAC-SHA1) clients may put parameters in a form body; V3 sends them in the query.
    const params = [...query, ...formPairs(req, body)];
    const paramMap = new URLSearchParams(params);
    const reply = (r: ApiReply) => {
      logger?.debug({ action, status: r.status, code: r.body.Code, requestId }, 'api call');
      sendJson(res, r.status, r.body, r.headers);
    };
    const action = (req.headers['x-acs-action'] as string | undefined) ?? paramMap.get('Action') ?? '';
    if (action === '') return reply(errorReply(400, 'MissingAction', 'Action is mandatory for this request.', requestId, hostId));
    store.countCall(action);
    const isSts = (action === 'AssumeRole' || action === 'AssumeRoleWithOIDC') && paramMap.get('Version') === STS_API_VERSION;
    seen.push({
      host: req.headers.host ?? '', servername: ((req.socket as TLSSocket).servername as string | false | undefined) || null, action,
      ...(isSts ? { sts: stsFieldsOf(paramMap) } : {}),
    });
    if (seen.length > 100) seen.shift();

    // STS is anonymous (the caller has no key yet): answered before any signature check.
    if (action === 'AssumeRoleWithOIDC' && paramMap.get('Version') === STS_API_VERSION) {
      return reply(sts.assumeRoleWithOidc(paramMap, { requestId, hostId, nowMs: Date.now() }));
    }

    const failure = verify(req, url.pathname, query, params, body);
    if (failure) return reply(errorReply(failure.status, failure.code, failure.message, requestId, hostId));
    if (action === 'AssumeRole' && paramMap.get('Version') === STS_API_VERSION) {
      return reply(sts.assumeRole(paramMap, { requestId, hostId, nowMs: Date.now() }));
    }

    const version = (req.headers['x-acs-version'] as string | undefined) ?? paramMap.get('Version') ?? '';
    if (version !== API_VERSION) {
      return reply(errorReply(400, 'InvalidVersion', `Specified parameter Version "${version}" is not valid.`, requestId, hostId));
    }
    if (!isSimulatedAction(action)) {
      return reply(errorReply(404, 'InvalidApi.NotFound', `Specified api "${action}" is not found, please check your url and method.`, requestId, hostId));
    }

    const effect = store.faults.take(action);
    if (effect.delayMs > 0) await sleep(effect.delayMs);
    const fault = effect.error;
    if (fault?.status !== undefined) {
      if (fault.body !== undefined) {
        logger?.debug({ action, status: fault.status, requestId }, 'api call (raw fault body)');
        return send(res, fault.status, fault.body, 'text/html;charset=utf-8');
      }
      const r = errorReply(fault.status, fault.code ?? 'InternalError', fault.message ?? `Injected fault ${fault.id}.`, requestId, hostId);
      if (fault.accessDeniedDetail !== undefined) r.body.AccessDeniedDetail = fault.accessDeniedDetail;
      if (fault.retryAfterMs !== undefined) r.headers = { 'x-acs-retry-after': String(fault.retryAfterMs) };
      return reply(r);
    }
    reply(handleApiCall(action, store.getData(), paramMap, { requestId, hostId }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    // Every response, errors and control replies included, carries a request id like the real one.
    res.setHeader('x-acs-request-id', requestId);
    const body = await readBody(req);
    if (body === undefined) return sendJson(res, 413, { error: 'request body too large' });
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      const r = handleControl(store, req.method ?? 'GET', url.pathname.slice(CONTROL_PREFIX.length), body);
      return sendJson(res, r.status, r.body);
    }
    return handleApi(req, res, url, body, requestId);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      logger?.error({ err }, 'simulator request failed');
      sendJson(res, 500, { Code: 'InternalError', Message: 'The request processing has failed due to some unknown error.' });
    });
  };
  const server = opts.tls ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : createServer(onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? SIMULATOR_DEFAULT_PORT, opts.host ?? SIMULATOR_DEFAULT_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address;
  const hostForUrl = address.family === 'IPv6' ? `[${host}]` : host;
  logger?.info({ host, port: address.port, endpoints: store.getData().endpoints.length }, 'privatelink simulator listening');

  return {
    host,
    port: address.port,
    endpoint: `${hostForUrl}:${address.port}`,
    url: `${opts.tls ? 'https' : 'http'}://${hostForUrl}:${address.port}`,
    requests: () => [...seen],
    setData: (data) => store.setData(validateSimulatorData(data)),
    getData: () => store.getData(),
    addFault: (spec) => store.faults.add(spec),
    clearFaults: () => store.faults.clear(),
    calls: () => store.callCounts(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // Keep-alive and delayed requests would hold close() open: end them now.
        for (const socket of sockets) socket.destroy();
      }),
  };
}
