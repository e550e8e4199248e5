import type { Registry } from 'prom-client';

/** Whether the daemon should receive traffic; `reasons` says why not. */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** What the HTTP server reports. The app computes all of it; this room only renders it. */
export interface HttpSources {
  /** Listeners bound, every name has usable IPs younger than max_stale, not in lameduck. */
  readiness(): Readiness;
  /** The document served as /status. */
  status(): Record<string, unknown>;
  registry: Registry;
  /** Refreshes point-in-time gauges (event-loop delay, table age, cache size) just before a scrape. */
  beforeMetrics?(): void;
}

/** A complete response, rendered before anything is written so a throwing source can still become a 500. */
export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Route {
  /** Methods this path answers; anything else gets 405 with these in `Allow`. */
  readonly methods: readonly string[];
  readonly handle: (sources: HttpSources) => HttpReply | Promise<HttpReply>;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** JSON with a trailing newline so `curl` output ends cleanly; `indentSpaces` for documents read by people. */
export function jsonReply(status: number, value: unknown, indentSpaces = 0): HttpReply {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify(value, null, indentSpaces)}\n` };
}

function healthz(): HttpReply {
  // Answering at all proves the event loop turns; deliberately no other checks.
  return { status: 200, contentType: TEXT, body: 'ok\n' };
}

function readyz(sources: HttpSources): HttpReply {
  const { ready, reasons } = sources.readiness();
  return ready ? jsonReply(200, { ready: true }) : jsonReply(503, { ready: false, reasons: [...reasons] });
}

function status(sources: HttpSources): HttpReply {
  return jsonReply(200, sources.status(), 2);
}

async function metrics(sources: HttpSources): Promise<HttpReply> {
  sources.beforeMetrics?.();
  const body = await sources.registry.metrics();
  return { status: 200, contentType: sources.registry.contentType, body };
}

/** The whole HTTP surface, by exact path (query strings are ignored). */
export const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/healthz', { methods: ['GET', 'HEAD'], handle: healthz }],
  ['/readyz', { methods: ['GET', 'HEAD'], handle: readyz }],
  ['/status', { methods: ['GET'], handle: status }],
  ['/metrics', { methods: ['GET'], handle: metrics }],
]);

/** What a separate `listen.metrics` address serves: the scrape and nothing that tells more. */
export const METRICS_ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([['/metrics', ROUTES.get('/metrics') as Route]]);

/** The reply for a request, or undefined when the route itself must run. */
export function rejectRequest(route: Route | undefined, method: string): HttpReply | undefined {
  if (route === undefined) return jsonReply(404, { error: 'not found' });
  if (!route.methods.includes(method)) {
    return { ...jsonReply(405, { error: 'method not allowed' }), headers: { allow: route.methods.join(', ') } };
  }
  return undefined;
}
