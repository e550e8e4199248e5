/**
 * Injected failures: `POST /_simulator/faults` with
 *   {"action": "ListVpcEndpointZones" | "*", "status": 400, "code": "Throttling.User", "times": 3}
 *   {"action": "*", "delay": "3s"}
 *   {"action": "*", "status": 502, "body": "<html>bad gateway</html>"}   (a non-JSON body, as from a proxy)
 *   {"action": "*", "status": 403, "code": "Forbidden.RAM", "accessDeniedDetail": {"PolicyType": "ControlPolicy", ...}}
 * `times` counts matching calls and defaults to "until DELETE /_simulator/faults"; `after: N` lets
 * the next N matching calls through first (e.g. page 1 of a listing succeeds, page 2 fails).
 */
import { parseDurationMs } from '../config/units';

export interface Fault {
  readonly id: number;
  readonly action: string;
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
  /** Raw response body: served as text/html instead of the JSON error body. */
  readonly body?: string;
  readonly delayMs?: number;
  /** Sent as `x-acs-retry-after` with throttling errors. */
  readonly retryAfterMs?: number;
  /** Sent as the error body's AccessDeniedDetail (which policy denied what), as RAM denials carry it. */
  readonly accessDeniedDetail?: Record<string, unknown>;
  /** Calls left; undefined: unlimited. */
  remaining?: number;
  /** Matching calls still to let through before the fault applies. */
  skip?: number;
}

export type FaultSpec = Omit<Fault, 'id'>;

const DEFAULT_CODES: Record<number, string> = {
  400: 'InvalidParameter',
  403: 'Forbidden',
  404: 'InvalidApi.NotFound',
  429: 'Throttling.User',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export function defaultCodeFor(status: number): string {
  return DEFAULT_CODES[status] ?? (status >= 500 ? 'InternalError' : 'InvalidParameter');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KNOWN_KEYS = new Set(['action', 'status', 'code', 'message', 'body', 'delay', 'retryAfterMs', 'accessDeniedDetail', 'times', 'after']);

/** Checks a fault request; throws an Error whose message is fit for a 400 reply. */
export function parseFault(value: unknown): FaultSpec {
  if (!isObject(value)) throw new Error('a fault must be a JSON object');
  for (const key of Object.keys(value)) if (!KNOWN_KEYS.has(key)) throw new Error(`unknown fault field "${key}"`);
  const { action, status, code, message, body, delay, retryAfterMs, accessDeniedDetail, times, after } = value;
  if (accessDeniedDetail !== undefined && !isObject(accessDeniedDetail)) throw new Error('"accessDeniedDetail" must be an object');
  if (typeof action !== 'string' || action === '') throw new Error('"action" must be an action name or "*"');
  if (status !== undefined && (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)) {
    throw new Error('"status" must be an HTTP status from 400 to 599');
  }
  for (const [name, v] of [['code', code], ['message', message], ['body', body]] as const) {
    if (v !== undefined && typeof v !== 'string') throw new Error(`"${name}" must be a string`);
  }
  let delayMs: number | undefined;
  if (delay !== undefined) {
    delayMs = typeof delay === 'number' ? delay : typeof delay === 'string' ? parseDurationMs(delay) : undefined;
    if (delayMs === undefined || !Number.isFinite(delayMs) || delayMs < 0) throw new Error('"delay" must be a duration such as "3s" or milliseconds');
  }
  if (retryAfterMs !== undefined && (typeof retryAfterMs !== 'number' || retryAfterMs < 0)) throw new Error('"retryAfterMs" must be a number');
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) throw new Error('"times" must be a positive integer');
  if (after !== undefined && (typeof after !== 'number' || !Number.isInteger(after) || after < 0)) throw new Error('"after" must be a non-negative integer');
  const isError = status !== undefined || code !== undefined || body !== undefined;
  if (!isError && delayMs === undefined) throw new Error('a fault needs "status"/"code"/"body" or "delay"');

  let resolvedStatus = status as number | undefined;
  if (isError && resolvedStatus === undefined) {
    resolvedStatus = body !== undefined ? 502 : String(code).includes('Throttling') ? 400 : 500;
  }
  return {
    action,
    status: resolvedStatus,
    code: isError ? ((code as string | undefined) ?? defaultCodeFor(resolvedStatus as number)) : undefined,
    message: message as string | undefined,
    body: body as string | undefined,
    delayMs,
    retryAfterMs: retryAfterMs as number | undefined,
    ...(accessDeniedDetail !== undefined ? { accessDeniedDetail: accessDeniedDetail as Record<string, unknown> } : {}),
    remaining: times as number | undefined,
    skip: after as number | undefined,
  };
}

/** What the matching faults ask of one call. */
export interface FaultEffect {
  delayMs: number;
  error?: Fault;
}

export class FaultList {
  private faults: Fault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: this.nextId++ };
    this.faults.push(fault);
    return fault;
  }

  clear(): void {
    this.faults = [];
  }

  list(): readonly Fault[] {
    return this.faults;
  }

  /**
   * Consumes one use of every fault matching `action`: delays add up; the first error fault
   * (in the order they were added) decides the reply.
   */
  take(action: string): FaultEffect {
    const effect: FaultEffect = { delayMs: 0 };
    for (const fault of this.faults) {
      if (fault.action !== '*' && fault.action !== action) continue;
      if (fault.skip !== undefined && fault.skip > 0) {
        fault.skip -= 1;
        continue;
      }
      const isError = fault.status !== undefined;
      if (isError && effect.error !== undefined) continue;
      if (fault.remaining !== undefined) fault.remaining -= 1;
      effect.delayMs += fault.delayMs ?? 0;
      if (isError) effect.error = fault;
    }
    this.faults = this.faults.filter((f) => f.remaining === undefined || f.remaining > 0);
    return effect;
  }
}
