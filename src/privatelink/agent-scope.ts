/**
 * Gives one client's HTTP calls our own http(s).Agent (and so our `lookup`) without touching
 * anyone else's.
 *
 * Why this exists: openapi-core 1.0.8 offers no way to pass an Agent or a lookup. Its doRequest
 * copies a fixed list of runtime fields (no `agent`, no `keepAlive`) into
 * @darabonba/typescript's doAction, which calls `httpx.request(url, options)` without an agent, so
 * httpx falls back to its own module-private keep-alive agents that resolve through the system
 * resolver. The one seam is `httpx.request` itself, read through a live binding on every call. We
 * wrap it once, and the wrapper only adds an agent while running inside `runWithAgents` (an
 * AsyncLocalStorage scope), so other users of httpx in the process are unaffected, and credential
 * providers called while signing one of our requests (STS AssumeRole) use the same lookup.
 * test/privatelink/client.test.ts resolves a name that only the bootstrap server knows, so an
 * upgrade that breaks this seam fails that test.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';

export interface ScopedAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  /**
   * The TLS context for HTTPS (the process's trust store plus privatelink.ca_file), set on every
   * request: a request's TLS options (httpx always sends `ca: ''`) would otherwise build a context
   * without it. A given context makes Node ignore `ca`.
   */
  readonly secureContext?: SecureContext;
}

type HttpxRequest = (url: unknown, opts?: Record<string, unknown>) => Promise<unknown>;

const scope = new AsyncLocalStorage<ScopedAgents>();
// The wrap is process-wide by nature (it patches a module); remember it so it happens once.
let wrapped = false;

function urlIsHttps(url: unknown): boolean {
  // @darabonba/typescript builds "HTTPS://host" (the protocol as configured, upper case).
  if (typeof url === 'string') return url.toLowerCase().startsWith('https:');
  if (typeof url === 'object' && url !== null && 'protocol' in url) return String((url as { protocol: unknown }).protocol).toLowerCase() === 'https:';
  return false;
}

function wrapHttpxOnce(): void {
  if (wrapped) return;
  // The httpx instance @darabonba/typescript itself loads, not whichever one we might resolve.
  const requireFromDara = createRequire(require.resolve('@darabonba/typescript'));
  const httpx = requireFromDara('httpx') as { request: HttpxRequest };
  const original = httpx.request;
  httpx.request = function scopedRequest(this: unknown, url: unknown, opts: Record<string, unknown> = {}) {
    const agents = scope.getStore();
    if (agents === undefined || opts.agent !== undefined) return original.call(this, url, opts);
    const https = urlIsHttps(url);
    const { secureContext } = agents;
    if (!https || secureContext === undefined) return original.call(this, url, { ...opts, agent: https ? agents.https : agents.http });
    // httpx copies only a fixed list of TLS fields into the request (not secureContext); its
    // beforeRequest hook sees the final options.
    const before = opts.beforeRequest as ((o: Record<string, unknown>) => Record<string, unknown>) | undefined;
    const beforeRequest = (o: Record<string, unknown>) => ({ ...(before ? before(o) : o), secureContext });
    return original.call(this, url, { ...opts, beforeRequest, agent: agents.https });
  };
  wrapped = true;
}

/** Runs `fn`; every httpx request it makes (awaited or not) goes through `agents`. */
export function runWithAgents<T>(agents: ScopedAgents, fn: () => Promise<T>): Promise<T> {
  wrapHttpxOnce();
  return scope.run(agents, fn);
}
