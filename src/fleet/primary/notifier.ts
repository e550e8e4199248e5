import type { Logger } from '../../runtime/log';
import { describeError } from '../../errors';
import type { NotifyTarget } from '../../config/schema';
import { formatHostPort } from '../../config/units';

/** Sends one NOTIFY and resolves with the secondary's answer; rejects on timeout or a bad reply. */
export type NotifySender = (target: NotifyTarget, zone: string, serial: number) => Promise<'ack' | 'declined'>;

export interface NotifierObserver {
  sent(result: 'ack' | 'declined' | 'failed'): void;
}

export interface NotifierOptions {
  readonly targets: readonly NotifyTarget[];
  readonly send: NotifySender;
  readonly observer: NotifierObserver;
  readonly logger: Logger;
  /** First retry delay; doubles per attempt up to maxDelayMs. */
  readonly retryMs?: number;
  readonly maxDelayMs?: number;
  readonly maxAttempts?: number;
}

const DEFAULT_RETRY_MS = 1000;
const DEFAULT_MAX_DELAY_MS = 30_000;
/** About ten minutes of retries at the default cap; the secondaries' own SOA polling covers the rest. */
const DEFAULT_MAX_ATTEMPTS = 25;

interface Job {
  serial: number;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * NOTIFY (RFC 1996) to every `transfer.notify` target for every new serial, retried with backoff
 * until the target answers. A newer serial replaces a pending one (only the latest matters); a
 * target that answers REFUSED or NOTAUTH does not carry that zone and is not asked again for
 * this serial.
 */
export class Notifier {
  private readonly jobs = new Map<string, Job>();
  private stopped = false;

  constructor(private options: NotifierOptions) {}

  reconfigure(next: NotifierOptions): void {
    this.options = next;
  }

  /** Tells every target that `zone` now has `serial`. */
  announce(zone: string, serial: number): void {
    if (this.stopped) return;
    for (const target of this.options.targets) {
      const key = `${formatHostPort(target)} ${zone}`;
      const old = this.jobs.get(key);
      if (old?.timer) clearTimeout(old.timer);
      const job: Job = { serial, attempts: 0, timer: undefined };
      this.jobs.set(key, job);
      void this.attempt(key, target, zone, job);
    }
  }

  private async attempt(key: string, target: NotifyTarget, zone: string, job: Job): Promise<void> {
    if (this.stopped || this.jobs.get(key) !== job) return;
    job.timer = undefined;
    job.attempts++;
    const { send, observer, logger } = this.options;
    try {
      const answer = await send(target, zone, job.serial);
      observer.sent(answer);
      if (this.jobs.get(key) === job) this.jobs.delete(key);
      if (answer === 'declined') logger.debug({ target: formatHostPort(target), zone, serial: job.serial }, 'NOTIFY declined: the target does not carry this zone');
      return;
    } catch (err) {
      observer.sent('failed');
      const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      if (this.stopped || this.jobs.get(key) !== job) return;
      if (job.attempts >= maxAttempts) {
        this.jobs.delete(key);
        logger.warn({ target: formatHostPort(target), zone, serial: job.serial, attempts: job.attempts, err: describeError(err) }, 'NOTIFY not acknowledged; giving up (the secondary still polls the SOA)');
        return;
      }
      const base = this.options.retryMs ?? DEFAULT_RETRY_MS;
      const delay = Math.min(base * 2 ** (job.attempts - 1), this.options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
      if (job.attempts === 1) logger.info({ target: formatHostPort(target), zone, serial: job.serial, err: describeError(err) }, 'NOTIFY not acknowledged; retrying');
      job.timer = setTimeout(() => void this.attempt(key, target, zone, job), delay * (0.75 + Math.random() * 0.5));
      job.timer.unref?.();
    }
  }

  /** Pending NOTIFYs, for /status. */
  get pending(): { target: string; serial: number; attempts: number }[] {
    return [...this.jobs.entries()].map(([key, j]) => ({ target: key, serial: j.serial, attempts: j.attempts }));
  }

  stop(): void {
    this.stopped = true;
    for (const job of this.jobs.values()) if (job.timer) clearTimeout(job.timer);
    this.jobs.clear();
  }
}
