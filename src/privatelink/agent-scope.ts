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

export interface ScopedAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  /**
   * Trusted CAs for HTTPS. Passed per request too: httpx sets `ca: ''` on every request, which
   * would otherwise override the agent's own `ca`.
   */
  readonly ca?: readonly string[];
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
    const ca = https && agents.ca && !opts.ca ? { ca: agents.ca } : {};
    return original.call(this, url, { ...opts, ...ca, agent: https ? agents.https : agents.http });
  };
  wrapped = true;
}

/** Runs `fn`; every httpx request it makes (awaited or not) goes through `agents`. */
export function runWithAgents<T>(agents: ScopedAgents, fn: () => Promise<T>): Promise<T> {
  wrapHttpxOnce();
  return scope.run(agents, fn);
}
