import type nodeCron from 'node-cron';

/** node-cron, required when a schedule is first checked: a config without a privatelink section never loads it. */
function cron(): typeof nodeCron {
  return require('node-cron');
}

/** What each field accepts, for messages that say why an expression is wrong. */
const FIELD_RANGES: Record<string, string> = {
  second: 'second: 0-59',
  minute: 'minute: 0-59',
  hour: 'hour: 0-23',
  dayOfMonth: 'day of month: 1-31',
  month: 'month: 1-12 or jan-dec',
  dayOfWeek: 'day of week: 0-7 or sun-sat',
};

const FORMAT_HINT = 'fields are [second] minute hour day-of-month month day-of-week, e.g. "*/5 * * * *" is every 5 minutes';

/** Why `expression` is not a schedule node-cron accepts, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  const result = cron().validateDetailed(expression);
  if (result.valid) return undefined;
  const why = result.errors.map((e) => {
    const range = FIELD_RANGES[e.field];
    if (range === undefined) return e.message;
    if (/impossible/.test(e.message)) return `day of month "${e.value}" never occurs in the months given`;
    return `"${e.value}" is not valid for the ${range}`;
  });
  return `is not a valid cron expression: ${why.join('; ')} (${FORMAT_HINT})`;
}

/** The next `count` times a valid expression fires after `from` (the system time zone, as the sync loop runs it). */
export function nextCronRuns(expression: string, count: number, from: Date = new Date()): Date[] {
  const task = cron().createTask(expression, () => {});
  try {
    const out: Date[] = [];
    let at = from;
    for (let i = 0; i < count; i++) {
      // getNextRuns starts at "now"; walk from `from` with the matcher it uses so tests can fix the clock.
      const next = (task as unknown as { timeMatcher: { getNextMatch(d: Date): Date } }).timeMatcher.getNextMatch(at);
      out.push(next);
      at = next;
    }
    return out;
  } finally {
    task.destroy();
  }
}

/**
 * A scheduled sync waits a random jitter of at most this share of the shortest time between two
 * ticks, so it has run (and, unless it takes longer than the rest, finished) before the next tick:
 * jitter never makes a tick skip. Half keeps the default 5-minute schedule's 2 minutes (a fleet's
 * calls still spread over several quota minutes) and cuts a 30 s schedule's to 15 s.
 */
export const MAX_JITTER_SHARE = 0.5;

/** What the sync loop does with `privatelink.refresh` and `privatelink.jitter`; `check` prints it. */
export interface SyncSchedule {
  /** Shortest time between two ticks (a lower bound when the day fields skip days). */
  readonly shortestIntervalMs: number;
  /** Longest time between two ticks; undefined when the day fields skip days. */
  readonly longestIntervalMs: number | undefined;
  /** `privatelink.jitter` as configured. */
  readonly configuredJitterMs: number;
  /** What each scheduled sync waits at most: the configured jitter, capped at MAX_JITTER_SHARE of the interval. */
  readonly jitterMs: number;
  /** Ticks, and so syncs, in an hour the schedule runs in. */
  readonly syncsPerHour: number;
}

export function syncSchedule(expression: string, configuredJitterMs: number): SyncSchedule {
  const fields = cron().parse(expression);
  const gaps = gapsS(fields.second, fields.minute, fields.hour);
  const everyDay = fields.dayOfMonth.length === 31 && fields.month.length === 12 && [0, 1, 2, 3, 4, 5, 6].every((d) => fields.dayOfWeek.includes(d));
  const shortestIntervalMs = gaps.shortest * 1000;
  return {
    shortestIntervalMs,
    longestIntervalMs: everyDay ? gaps.longest * 1000 : undefined,
    configuredJitterMs,
    jitterMs: Math.min(configuredJitterMs, Math.floor(shortestIntervalMs * MAX_JITTER_SHARE)),
    syncsPerHour: fields.second.length * fields.minute.length,
  };
}

/** The shortest and longest gaps between two times of day the fields allow, in seconds, across midnight too. */
function gapsS(seconds: readonly number[], minutes: readonly number[], hours: readonly number[]): { shortest: number; longest: number } {
  const ascending = (a: number, b: number) => a - b;
  const s = [...seconds].sort(ascending);
  const m = [...minutes].sort(ascending);
  const h = [...hours].sort(ascending);
  let shortest = 86_400;
  let longest = 0;
  let first: number | undefined;
  let previous: number | undefined;
  for (const hh of h) {
    for (const mm of m) {
      for (const ss of s) {
        const at = hh * 3600 + mm * 60 + ss;
        if (previous !== undefined) {
          shortest = Math.min(shortest, at - previous);
          longest = Math.max(longest, at - previous);
        }
        first ??= at;
        previous = at;
      }
    }
  }
  if (first !== undefined && previous !== undefined) {
    const wrap = first + 86_400 - previous;
    shortest = Math.min(shortest, wrap);
    longest = Math.max(longest, wrap);
  }
  return { shortest: Math.max(1, shortest), longest };
}

/** `check`'s line: how often the syncs run, the jitter each really waits, how late a change can be. */
export function describeSchedule(schedule: SyncSchedule): string {
  const capped =
    schedule.jitterMs < schedule.configuredJitterMs
      ? ` (privatelink.jitter ${formatMs(schedule.configuredJitterMs)} is capped at ${MAX_JITTER_SHARE * 100}% of the shortest interval)`
      : '';
  const regular = schedule.longestIntervalMs === schedule.shortestIntervalMs;
  const every = regular ? `every ${formatMs(schedule.shortestIntervalMs)}` : `at least ${formatMs(schedule.shortestIntervalMs)} apart`;
  const reach =
    schedule.longestIntervalMs === undefined
      ? ''
      : `; a change at the API is picked up by a sync that starts within ${formatMs(schedule.longestIntervalMs + schedule.jitterMs)} (longest interval + jitter), unless syncs are backing off after errors or one outlasts the interval`;
  return `privatelink schedule: a sync ${every}, ${schedule.syncsPerHour} per hour, each within ${formatMs(schedule.jitterMs)} of its tick${capped}${reach}`;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
