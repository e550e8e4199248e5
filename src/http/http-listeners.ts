import { formatHostPort, type HostPort } from '../config/units';
import type { HttpLimitsConfig } from '../config/schema';
import type { Logger } from '../runtime/log';
import type { HttpServer } from './http-server';
import type { HttpSources } from './routes';

/** The server and its routes (node:http among them), required when a listener first opens: after the DNS listeners. */
function serverModules(): { server: typeof import('./http-server'); routes: typeof import('./routes') } {
  return { server: require('./http-server'), routes: require('./routes') };
}

/** `listen.http` (every endpoint) and the optional `listen.metrics` (only /metrics), with their limits (default: today's). */
export interface HttpAddresses {
  readonly http: HostPort | null;
  readonly metrics: HostPort | null;
  readonly httpLimits?: HttpLimitsConfig;
}

interface Open {
  readonly key: string;
  readonly server: HttpServer;
  readonly port: number;
}

/**
 * The admin listeners: the full HTTP endpoint and the metrics-only one. A reconfigure keeps a
 * listener whose address did not change and replaces one whose address did.
 */
export class HttpListeners {
  private main: Open | undefined;
  private metricsOnly: Open | undefined;

  constructor(private readonly sources: HttpSources, private readonly logger: Logger) {}

  get ports(): { http: number | undefined; metrics: number | undefined } {
    return { http: this.main?.port, metrics: this.metricsOnly?.port };
  }

  /** The bound ports as the start log line shows them. */
  logFields(): { http?: { port: number }; metrics?: { port: number } } {
    const { http, metrics } = this.ports;
    return { ...(http === undefined ? {} : { http: { port: http } }), ...(metrics === undefined ? {} : { metrics: { port: metrics } }) };
  }

  async open(addresses: HttpAddresses): Promise<void> {
    await this.reconfigure(addresses);
  }

  /** A listener whose address and limits are unchanged is kept; one whose limits changed is reopened with them. */
  async reconfigure(addresses: HttpAddresses): Promise<void> {
    this.main = await this.replace(this.main, addresses.http, false, addresses.httpLimits);
    this.metricsOnly = await this.replace(this.metricsOnly, addresses.metrics, true, addresses.httpLimits);
  }

  async close(): Promise<void> {
    await Promise.all([this.main?.server.close(), this.metricsOnly?.server.close()]);
    this.main = undefined;
    this.metricsOnly = undefined;
  }

  private async replace(current: Open | undefined, address: HostPort | null, metricsOnly: boolean, limits: HttpLimitsConfig | undefined): Promise<Open | undefined> {
    const key = address ? `${formatHostPort(address)} ${JSON.stringify(limits ?? null)}` : '';
    if ((current?.key ?? '') === key) return current;
    await current?.server.close();
    if (!address) return undefined;
    const modules = serverModules();
    const server = new modules.server.HttpServer({
      address, logger: this.logger, sources: this.sources, ...(limits ? { limits } : {}), ...(metricsOnly ? { routes: modules.routes.METRICS_ROUTES } : {}),
    });
    return { key, server, port: await server.start() };
  }
}
