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
