import type { Logger } from '../../runtime/log';
import { describeError } from '../../errors';
import type { NotifyTarget } from '../../config/schema';
import { formatHostPort, type HostPort } from '../../config/units';
import type { NotifyAnswer } from './notify-channel';
import type { LearnedTarget } from './secondary-registry';

/**
 * Sends one NOTIFY and resolves with the secondary's answer; rejects on timeout or a bad reply.
 * `keyName`: the TSIG key to sign with (the one that secondary uses); undefined: the hub's first.
 */
export type NotifySender = (target: HostPort, zone: string, serial: number, keyName: string | undefined) => Promise<NotifyAnswer>;

/**
 * How one NOTIFY attempt ended (the `result` label of privatelink_dns_transfer_notifies_sent_total):
 * acknowledged; declined by the target — `refused` (REFUSED, or NOTAUTH without a TSIG error: it
 * does not carry that zone) or `bad_tsig` (a TSIG error: it does not accept the key); `failed`
 * (no answer, or one that does not count; retried).
 */
export type NotifyResult = 'ack' | 'refused' | 'bad_tsig' | 'failed';

export interface NotifierObserver {
  sent(result: NotifyResult): void;
}

export interface NotifierOptions {
  /** transfer.notify: told of every serial, retried for about ten minutes. */
  readonly targets: readonly NotifyTarget[];
  /** The secondaries learned from their requests (secondary-registry.ts), per zone. */
  readonly learned?: (zone: string) => readonly LearnedTarget[];
  /** The key a host was last seen signing with: a listed target gets NOTIFY signed with it. */
  readonly keyOf?: (address: string) => string | undefined;
  readonly send: NotifySender;
  readonly observer: NotifierObserver;
  readonly logger: Logger;
  /** First retry delay; doubles per attempt up to maxDelayMs. */
  readonly retryMs?: number;
  readonly maxDelayMs?: number;
  readonly maxAttempts?: number;
  /** Attempts for a learned target: it polls anyway, so a few are enough. */
  readonly learnedMaxAttempts?: number;
  /** NOTIFYs started per second at most (a burst to many secondaries is spread out). */
  readonly ratePerSecond?: number;
  /** NOTIFYs waiting for their answer at once at most. */
  readonly maxInFlight?: number;
}

const DEFAULT_RETRY_MS = 1000;
const DEFAULT_MAX_DELAY_MS = 30_000;
/** About ten minutes of retries at the default cap; the secondaries' own SOA polling covers the rest. */
const DEFAULT_MAX_ATTEMPTS = 25;
const DEFAULT_LEARNED_MAX_ATTEMPTS = 3;
export const DEFAULT_NOTIFY_RATE_PER_SECOND = 500;
export const DEFAULT_NOTIFY_IN_FLIGHT = 64;

interface Job {
  readonly key: string;
  readonly target: HostPort;
  readonly zone: string;
  readonly keyName: string | undefined;
  readonly maxAttempts: number;
  serial: number;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * NOTIFY (RFC 1996) for every new serial to every `transfer.notify` target and every secondary
 * learned from its own signed requests, signed with the key that secondary uses, retried with
 * backoff until it answers. A newer serial replaces a pending one (only the latest matters); a
 * target that declines (REFUSED or NOTAUTH: it does not carry that zone; a TSIG error: it does not
 * accept the key, logged as a warning) is not asked again for this serial. Sends go out through
 * one queue at a bounded rate and concurrency, so a serial change with a thousand secondaries
 * costs the hub's answers little.
 */
export class Notifier {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private tokens: number;
  private tokensAtMs = Date.now();
  private pumpTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private sentTotal = 0;

  constructor(private options: NotifierOptions) {
    this.tokens = this.rate();
  }

  reconfigure(next: NotifierOptions): void {
    this.options = next;
  }

  private rate(): number {
    return Math.max(1, this.options.ratePerSecond ?? DEFAULT_NOTIFY_RATE_PER_SECOND);
  }

  /** Tells every target that `zone` now has `serial`. */
  announce(zone: string, serial: number): void {
    if (this.stopped) return;
    const { targets, learned, keyOf } = this.options;
    const all = new Map<string, { target: HostPort; keyName: string | undefined; maxAttempts: number }>();
    // A listed host is told at its listed port only (with the key it was seen using).
    const listedHosts = new Set(targets.map((t) => t.host));
    for (const l of learned?.(zone) ?? []) {
      if (listedHosts.has(l.target.host)) continue;
      all.set(formatHostPort(l.target), { target: l.target, keyName: l.keyName, maxAttempts: this.options.learnedMaxAttempts ?? DEFAULT_LEARNED_MAX_ATTEMPTS });
    }
    for (const target of targets) {
      // Its own key ("ADDRESS key:NAME"), else the key it was seen signing with, else the hub's first.
      all.set(formatHostPort(target), { target, keyName: target.key?.name ?? keyOf?.(target.host), maxAttempts: this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS });
    }
    for (const [label, t] of all) {
      const key = `${label} ${zone}`;
      const old = this.jobs.get(key);
      if (old?.timer) clearTimeout(old.timer);
      const job: Job = { key, target: t.target, zone, keyName: t.keyName, maxAttempts: t.maxAttempts, serial, attempts: 0, timer: undefined };
      this.jobs.set(key, job);
      this.queue.push(job);
    }
    this.pump();
  }

  /** Starts queued sends while the rate and the in-flight bound allow. */
  private pump(): void {
    if (this.stopped) return;
    const rate = this.rate();
    const max = Math.max(1, this.options.maxInFlight ?? DEFAULT_NOTIFY_IN_FLIGHT);
    const now = Date.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAtMs) * rate) / 1000);
    this.tokensAtMs = now;
    while (this.queueHead < this.queue.length && this.inFlight < max) {
      const job = this.queue[this.queueHead] as Job;
      if (this.jobs.get(job.key) !== job) {
        this.queueHead++;
        continue;
      }
      if (this.tokens < 1) break;
      this.tokens -= 1;
      this.queueHead++;
      void this.attempt(job);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queueHead < this.queue.length && this.inFlight < max && this.pumpTimer === undefined) {
      const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, waitMs);
      this.pumpTimer.unref?.();
    }
  }

  private async attempt(job: Job): Promise<void> {
    if (this.stopped || this.jobs.get(job.key) !== job) return;
    job.timer = undefined;
    job.attempts++;
    this.inFlight++;
    this.sentTotal++;
    const { send, observer, logger } = this.options;
    const target = formatHostPort(job.target);
    try {
      const answer = await send(job.target, job.zone, job.serial, job.keyName);
      if (this.jobs.get(job.key) === job) this.jobs.delete(job.key);
      if (answer.result === 'ack') {
        observer.sent('ack');
      } else if (answer.error.code === 'XFR_BAD_TSIG') {
        observer.sent('bad_tsig');
        logger.warn({ target, zone: job.zone, serial: job.serial, err: describeError(answer.error) }, 'NOTIFY declined: the target does not accept our TSIG key; not retried for this serial');
      } else {
        observer.sent('refused');
        logger.debug({ target, zone: job.zone, serial: job.serial, err: describeError(answer.error) }, 'NOTIFY refused: the target does not carry this zone');
      }
    } catch (err) {
      observer.sent('failed');
      if (this.stopped || this.jobs.get(job.key) !== job) return;
      if (job.attempts >= job.maxAttempts) {
        this.jobs.delete(job.key);
        logger.warn({ target, zone: job.zone, serial: job.serial, attempts: job.attempts, err: describeError(err) }, 'NOTIFY not acknowledged; giving up (the secondary still polls the SOA)');
        return;
      }
      const base = this.options.retryMs ?? DEFAULT_RETRY_MS;
      const delay = Math.min(base * 2 ** (job.attempts - 1), this.options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
      if (job.attempts === 1) logger.info({ target, zone: job.zone, serial: job.serial, err: describeError(err) }, 'NOTIFY not acknowledged; retrying');
      job.timer = setTimeout(() => {
        job.timer = undefined;
        if (this.jobs.get(job.key) !== job) return;
        this.queue.push(job);
        this.pump();
      }, delay * (0.75 + Math.random() * 0.5));
      job.timer.unref?.();
    } finally {
      this.inFlight--;
      this.pump();
    }
  }

  /** Pending NOTIFYs, for /status. */
  get pending(): { target: string; serial: number; attempts: number }[] {
    return [...this.jobs.values()].map((j) => ({ target: j.key, serial: j.serial, attempts: j.attempts }));
  }

  /** NOTIFY attempts made since start. */
  get sent(): number {
    return this.sentTotal;
  }

  stop(): void {
    this.stopped = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const job of this.jobs.values()) if (job.timer) clearTimeout(job.timer);
    this.jobs.clear();
    this.queue.length = 0;
    this.queueHead = 0;
  }
}
