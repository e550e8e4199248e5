/**
 * The PrivateLink 2020-04-15 client: openapi-core's `callApi` with exactly the parameters the
 * generated `@alicloud/privatelink20200415` SDK uses, so that SDK could replace this file.
 * No retries here (the sync loop owns backoff); every failure is a PldnsError (api-errors.ts).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import OpenApiClient, { $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import type Credential from '@alicloud/credentials';
import type { PrivateLinkConfig } from '../config/schema';
import type { Logger } from '../runtime/log';
import type {
  ApiResponse,
  GetVpcEndpointAttributeRequest,
  GetVpcEndpointAttributeResponseBody,
  ListVpcEndpointZonesRequest,
  ListVpcEndpointZonesResponseBody,
  ListVpcEndpointsRequest,
  ListVpcEndpointsResponseBody,
  PrivateLinkApi,
} from './api-types';
import { runWithAgents, type ScopedAgents } from './agent-scope';
import { toPldnsError } from './api-errors';
import { createBootstrapLookup } from './bootstrap-lookup';
import { createPinnedLookup } from './pinned-lookup';
import { CredentialProvider } from './credentials';
import { stsHostFor } from './sts-host';
import { trustStoreWith } from './trust-store';
import { toGetVpcEndpointAttributeBody, toListVpcEndpointZonesBody, toListVpcEndpointsBody } from './wire-models';

export const PRIVATELINK_API_VERSION = '2020-04-15';

export interface PrivateLinkClientOptions {
  /** API host[:port] without a scheme (openapi-core builds a broken URL with one). */
  endpoint: string;
  protocol: 'http' | 'https';
  credentials: CredentialProvider;
  /** Connect and read timeout, each. */
  timeoutMs: number;
  /** Resolves the API host (and STS hosts while signing); undefined: the system resolver. */
  lookup?: LookupFunction;
  /** Extra trusted CA certificates (PEM) for HTTPS to the API and STS hosts, added to the process's own. */
  caPem?: string;
  logger?: Logger;
}

type Query = Record<string, string | number | undefined>;

export class PrivateLinkClient implements PrivateLinkApi {
  private readonly agents: ScopedAgents;
  private api: OpenApiClient | undefined;
  private apiCredential: Credential | undefined;
  /** host:port the calls go to, named in every error. */
  private readonly target: string;

  constructor(private readonly opts: PrivateLinkClientOptions) {
    this.target = endpointWithPort(opts.endpoint, opts.protocol);
    // Our own keep-alive agents: they carry the bootstrap lookup, and close() can free their sockets.
    const agentOptions = { keepAlive: true, ...(opts.lookup ? { lookup: opts.lookup } : {}) };
    const tls = opts.caPem ? { secureContext: trustStoreWith(opts.caPem) } : {};
    this.agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent({ ...agentOptions, ...tls }), ...tls };
  }

  async listVpcEndpoints(request: ListVpcEndpointsRequest): Promise<ApiResponse<ListVpcEndpointsResponseBody>> {
    const raw = await this.call('ListVpcEndpoints', {
      RegionId: request.regionId,
      EndpointId: request.endpointId,
      EndpointName: request.endpointName,
      EndpointStatus: request.endpointStatus,
      ConnectionStatus: request.connectionStatus,
      EndpointType: request.endpointType,
      ServiceName: request.serviceName,
      VpcId: request.vpcId,
      MaxResults: request.maxResults,
      NextToken: request.nextToken,
    });
    return { ...raw, body: toListVpcEndpointsBody(raw.body) };
  }

  async listVpcEndpointZones(request: ListVpcEndpointZonesRequest): Promise<ApiResponse<ListVpcEndpointZonesResponseBody>> {
    const raw = await this.call('ListVpcEndpointZones', {
      RegionId: request.regionId,
      EndpointId: request.endpointId,
      MaxResults: request.maxResults,
      NextToken: request.nextToken,
    });
    return { ...raw, body: toListVpcEndpointZonesBody(raw.body) };
  }

  async getVpcEndpointAttribute(request: GetVpcEndpointAttributeRequest): Promise<ApiResponse<GetVpcEndpointAttributeResponseBody>> {
    const raw = await this.call('GetVpcEndpointAttribute', { RegionId: request.regionId, EndpointId: request.endpointId });
    return { ...raw, body: toGetVpcEndpointAttributeBody(raw.body) };
  }

  /** Frees pooled sockets; the client must not be used afterwards. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async call(action: string, query: Query): Promise<ApiResponse<unknown>> {
    const started = Date.now();
    try {
      const result = await runWithAgents(this.agents, async () => {
        const api = this.apiFor(await this.opts.credentials.ready());
        const request = new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(definedOnly(query)) });
        const params = new $OpenApiUtil.Params({
          action,
          version: PRIVATELINK_API_VERSION,
          protocol: 'HTTPS',
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        });
        return api.callApi(params, request, new $dara.RuntimeOptions({}));
      });
      this.opts.logger?.debug({ action, durationMs: Date.now() - started }, 'privatelink api call');
      return { headers: result.headers, statusCode: result.statusCode, body: result.body };
    } catch (raw) {
      const err = toPldnsError(raw, action, { target: this.target, timeoutMs: this.opts.timeoutMs });
      // A rejected key may have been rotated in the environment or profile: rebuild next time.
      if (err.code === 'PL_AUTH') this.opts.credentials.reset(`${action}: ${err.message}`);
      this.opts.logger?.debug({ action, durationMs: Date.now() - started, code: err.code, details: err.details }, 'privatelink api call failed');
      throw err;
    }
  }

  /** The openapi-core client for this Credential, rebuilt when the provider hands out a new one. */
  private apiFor(credential: Credential): OpenApiClient {
    if (this.api === undefined || this.apiCredential !== credential) {
      this.api = new OpenApiClient(new $OpenApiUtil.Config({
        credential,
        endpoint: this.opts.endpoint,
        // The client-level protocol overrides the per-call "HTTPS", as in the generated SDK.
        protocol: this.opts.protocol.toUpperCase(),
        connectTimeout: this.opts.timeoutMs,
        readTimeout: this.opts.timeoutMs,
      }));
      this.apiCredential = credential;
    }
    return this.api;
  }
}

function definedOnly(query: Query): Record<string, string | number> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string | number>;
}

/** `host:port` of the API, with the protocol's default port when the endpoint names none. */
export function endpointWithPort(endpoint: string, protocol: 'http' | 'https'): string {
  const port = protocol === 'http' ? 80 : 443;
  if (endpoint.startsWith('[')) return endpoint.includes(']:') ? endpoint : `${endpoint}:${port}`;
  const colons = endpoint.split(':').length - 1;
  if (colons === 1) return endpoint;
  return colons === 0 ? `${endpoint}:${port}` : `[${endpoint}]:${port}`;
}

/** The API host without its port; `[v6]:port` and `host:port` both handled. */
export function endpointHost(endpoint: string): string {
  if (endpoint.startsWith('[')) return endpoint.slice(1, endpoint.indexOf(']'));
  const colon = endpoint.lastIndexOf(':');
  return colon > 0 && endpoint.indexOf(':') === colon ? endpoint.slice(0, colon) : endpoint;
}

export interface CreatePrivateLinkClientOptions {
  config: PrivateLinkConfig;
  region: string;
  logger?: Logger;
  /** Overrides the bootstrap resolvers (tests, or a caller with its own resolver). */
  lookup?: LookupFunction;
  /** Share one provider between clients (e.g. across config reloads); built from config if absent. */
  credentials?: CredentialProvider;
}

/**
 * The client for a validated config. The API host is resolved through `config.bootstrap` when
 * given, never through the system resolver (on an edge node that is this daemon); an IP endpoint
 * needs no lookup at all. `region` is the caller's: requests carry it as RegionId.
 */
export function createPrivateLinkClient(opts: CreatePrivateLinkClientOptions): PrivateLinkClient {
  const { config } = opts;
  const logger = opts.logger?.child({ component: 'privatelink-client' });
  const host = endpointHost(config.endpoint);
  const hostIsIp = isIP(host) !== 0;
  // Bootstrap resolvers also serve names other than the API host (STS hosts while signing).
  const resolver = opts.lookup ?? (config.bootstrap.length > 0
    ? createBootstrapLookup(config.bootstrap, { timeoutMs: Math.min(config.timeoutMs, 2000) })
    : undefined);
  const lookup = config.connectTo !== null && !hostIsIp ? createPinnedLookup(host, config.connectTo, resolver) : resolver;
  const sts = stsHostFor(config.credentials, process.env);
  logger?.info({
    endpoint: config.endpoint, connectTo: config.connectTo, region: opts.region, bootstrap: resolver !== undefined, credentials: config.credentials.type,
    ...(sts ? { stsHost: sts.host, stsHostSource: sts.source } : {}),
  }, 'privatelink client created');
  return new PrivateLinkClient({
    endpoint: config.endpoint,
    protocol: config.protocol,
    credentials: opts.credentials ?? new CredentialProvider(config.credentials, { logger }),
    timeoutMs: config.timeoutMs,
    lookup,
    ...(config.caPem !== null ? { caPem: config.caPem } : {}),
    logger,
  });
}
