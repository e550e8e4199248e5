import type { AccessConfig } from '../config/schema';
import type { Admission, AdmissionCheck, ClientAddress, Protocol } from '../server/request';
import { AccessList, isLoopbackAddress } from './access';
import { RateLimiter } from './rate-limiter';
import { queryClock } from '../server/query-clock';

/** Where admission reports the clients it limited. */
export interface AdmissionObserver {
  limited(action: 'drop' | 'slip'): void;
}

/**
 * Who may ask: the access list first (REFUSED), then the UDP rate limit (drop, or TC "slip").
 * TCP needs a handshake, so it is not spoofable and not limited here. Loopback sources cannot be
 * spoofed from the network (the kernel drops them as martians) and on an edge node they are the
 * node itself: never rate-limited.
 */
export class AdmissionPolicy {
  private access: AccessList;
  private limiter: RateLimiter | undefined;
  private config: AccessConfig;
  /**
   * UDP REFUSED answers (and zone answers) per client prefix outside access.allow
   * (access.refused_rate_limit): a refusal is as big as the query, so without a limit the daemon
   * reflects whatever a spoofed source sends (BIND's errors-per-second). Always on, whether or not
   * access.rate_limit is.
   */
  private refusals: RateLimiter;

  constructor(config: AccessConfig, private readonly observer: AdmissionObserver) {
    this.config = config;
    this.access = new AccessList(config.allow);
    this.limiter = config.rateLimit ? new RateLimiter(config.rateLimit) : undefined;
    this.refusals = refusalLimiter(config);
  }

  /** Keeps the limiters' buckets when their settings did not change. */
  reconfigure(next: AccessConfig): void {
    this.access = new AccessList(next.allow);
    if (!sameRateLimit(this.config.rateLimit, next.rateLimit)) this.limiter = next.rateLimit ? new RateLimiter(next.rateLimit) : undefined;
    const { refusedRateLimit: was } = this.config;
    const { refusedRateLimit: now } = next;
    if (was.responsesPerSecond !== now.responsesPerSecond || was.burst !== now.burst) this.refusals = refusalLimiter(next);
    this.config = next;
  }

  readonly check: AdmissionCheck = (client: ClientAddress, protocol: Protocol): Admission => {
    if (!this.access.allows(client.address)) return 'refuse';
    const limiter = this.limiter;
    if (!limiter || protocol === 'tcp' || isLoopbackAddress(client.address)) return 'pass';
    // queryClock.wallMs: Date.now() as of this query's receipt, without allocating a number.
    const verdict = limiter.check(client.address, queryClock.wallMs);
    if (verdict === 'ok') return 'pass';
    this.observer.limited(verdict);
    return verdict;
  };

  /** Whether a UDP REFUSED may go to this client now; loopback sources are never limited. */
  readonly mayRefuse: RefusalLimit = (client: ClientAddress): boolean => {
    if (isLoopbackAddress(client.address) || this.refusals.check(client.address, Date.now()) === 'ok') return true;
    this.observer.limited('drop');
    return false;
  };
}

/** Kept apart from `check`: zone requests from outside access.allow are not refusals. */
export type RefusalLimit = (client: ClientAddress) => boolean;

function refusalLimiter(config: AccessConfig): RateLimiter {
  return new RateLimiter({ ...config.refusedRateLimit, slip: 0 });
}

function sameRateLimit(a: AccessConfig['rateLimit'], b: AccessConfig['rateLimit']): boolean {
  if (a === null || b === null) return a === b;
  return a.responsesPerSecond === b.responsesPerSecond && a.burst === b.burst && a.slip === b.slip;
}
