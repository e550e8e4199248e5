import type {
  ApiResponse,
  GetVpcEndpointAttributeRequest,
  GetVpcEndpointAttributeResponseBody,
  ListVpcEndpointZonesRequest,
  ListVpcEndpointZonesResponseBody,
  ListVpcEndpointsRequest,
  ListVpcEndpointsResponseBody,
  PrivateLinkApi,
  VpcEndpoint,
  VpcEndpointZone,
} from '../../src/privatelink/api-types';
import type { Clock, ScheduledJob, Scheduler } from '../../src/privatelink/sync';
import type { PrivateLinkConfig } from '../../src/config/schema';

/** Test doubles for the PrivateLink sync: an in-memory API, a manual clock, a manual scheduler. */

export interface FakeEndpoint extends VpcEndpoint {
  zones: VpcEndpointZone[];
}

type Action = 'listVpcEndpoints' | 'listVpcEndpointZones' | 'getVpcEndpointAttribute';
type Request = ListVpcEndpointsRequest | ListVpcEndpointZonesRequest | GetVpcEndpointAttributeRequest;

export class FakeApi implements PrivateLinkApi {
  endpoints: FakeEndpoint[] = [];
  calls: { action: Action; request: Request }[] = [];
  /** Items per page the fake serves, whatever MaxResults says. */
  pageSize = 50;
  private faults: { action: Action; error: unknown; endpointId?: string }[] = [];
  /** Awaited before each call; lets a test hold calls open. */
  gate: (() => Promise<void>) | undefined;

  /** The next call of `action` (for `endpointId`, if given) throws `error`. Queue several for several. */
  failNext(action: Action, error: unknown, endpointId?: string): void {
    this.faults.push(endpointId === undefined ? { action, error } : { action, error, endpointId });
  }

  count(action: Action): number {
    return this.calls.filter((c) => c.action === action).length;
  }

  private async enter(action: Action, request: Request): Promise<void> {
    this.calls.push({ action, request });
    if (this.gate) await this.gate();
    const id = (request as { endpointId?: string }).endpointId;
    const i = this.faults.findIndex((f) => f.action === action && (f.endpointId === undefined || f.endpointId === id));
    if (i >= 0) {
      const [fault] = this.faults.splice(i, 1);
      throw fault?.error;
    }
  }

  private page<T>(items: T[], nextToken: string | undefined): { items: T[]; nextToken: string } {
    const start = nextToken ? Number(nextToken) : 0;
    const end = start + this.pageSize;
    return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : '' };
  }

  async listVpcEndpoints(request: ListVpcEndpointsRequest): Promise<ApiResponse<ListVpcEndpointsResponseBody>> {
    await this.enter('listVpcEndpoints', request);
    const matching = this.endpoints.filter(
      (e) =>
        (!request.endpointId || e.endpointId === request.endpointId) &&
        (!request.serviceName || e.serviceName === request.serviceName) &&
        (!request.vpcId || e.vpcId === request.vpcId),
    );
    const { items, nextToken } = this.page(matching, request.nextToken);
    return { statusCode: 200, body: { requestId: 'r', nextToken, endpoints: items.map(({ zones: _z, ...ep }) => ep) } };
  }

  async listVpcEndpointZones(request: ListVpcEndpointZonesRequest): Promise<ApiResponse<ListVpcEndpointZonesResponseBody>> {
    await this.enter('listVpcEndpointZones', request);
    const ep = this.endpoints.find((e) => e.endpointId === request.endpointId);
    const { items, nextToken } = this.page(ep?.zones ?? [], request.nextToken);
    return { statusCode: 200, body: { requestId: 'r', nextToken, zones: items } };
  }

  async getVpcEndpointAttribute(request: GetVpcEndpointAttributeRequest): Promise<ApiResponse<GetVpcEndpointAttributeResponseBody>> {
    await this.enter('getVpcEndpointAttribute', request);
    const ep = this.endpoints.find((e) => e.endpointId === request.endpointId);
    const { zones: _z, ...rest } = ep ?? { zones: [] };
    return { statusCode: 200, body: rest };
  }
}

export function zone(zoneId: string, eniIp: string, extra: Partial<VpcEndpointZone> = {}): VpcEndpointZone {
  return { zoneId, eniIp, zoneStatus: 'Connected', zoneDomain: `${zoneId}.ep.example.com`, eniId: `eni-${zoneId}`, vSwitchId: `vsw-${zoneId}`, ...extra };
}

export function endpoint(endpointId: string, zones: VpcEndpointZone[], extra: Partial<VpcEndpoint> = {}): FakeEndpoint {
  return {
    endpointId,
    endpointName: `name-${endpointId}`,
    serviceName: `com.example.${endpointId}`,
    endpointDomain: `${endpointId}.epsrv.cn-hangzhou.privatelink.aliyuncs.com`,
    endpointStatus: 'Active',
    connectionStatus: 'Connected',
    vpcId: 'vpc-1',
    zones,
    ...extra,
  };
}

/** Timers fire only when the test advances time. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: { id: number; at: number; fn: () => void }[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  get pending(): { at: number }[] {
    return this.timers.map((t) => ({ at: t.at }));
  }

  /** Moves time forward, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

export class ManualScheduler {
  expressions: string[] = [];
  private ticks: (() => void)[] = [];
  stopped = 0;

  readonly scheduler: Scheduler = (expression, tick): ScheduledJob => {
    this.expressions.push(expression);
    this.ticks.push(tick);
    return {
      stop: () => {
        this.stopped++;
        this.ticks = this.ticks.filter((t) => t !== tick);
      },
    };
  };

  /** Fires every active schedule once, as a cron tick would. */
  tick(): void {
    for (const t of [...this.ticks]) t();
  }

  get active(): number {
    return this.ticks.length;
  }
}

/** Kept here too for the tests that import it with the other fakes; defined in log-capture.ts. */
export { captureLogger } from './log-capture';

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** `privatelink:` for the real client against a simulator at `endpoint` (its default key pair). */
export function simulatorApiConfig(endpoint: string, overrides: Partial<PrivateLinkConfig> = {}): PrivateLinkConfig {
  return {
    endpoint,
    protocol: 'http',
    connectTo: null,
    caPem: null,
    credentials: { type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'simulator' },
    bootstrap: [],
    refresh: '*/30 * * * * *',
    jitterMs: 0,
    timeoutMs: 2000,
    maxStaleMs: 86_400_000,
    maxBackoffMs: 300_000,
    quotaPerMinute: 1000,
    ...overrides,
  };
}
