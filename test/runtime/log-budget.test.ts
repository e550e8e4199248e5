import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/runtime/log';
import { LogBudget } from '../../src/runtime/log-budget';

// Log lines a remote party can trigger: a fixed number per window and message, the rest counted.

function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

t.test('at most N lines per window and message; the next window says how many were left out', async (t) => {
  const { lines, logger } = capture();
  let now = 1_000_000;
  let counted = 0;
  const budget = new LogBudget(logger, () => counted++, 3, 60_000, () => now);
  const written = Array.from({ length: 1000 }, (_, i) => budget.write('warn', { i }, 'bad TSIG')).filter(Boolean).length;
  t.equal(written, 3, '3 of 1,000 written');
  t.equal(budget.write('info', {}, 'another message'), true, 'each message has its own budget');
  t.equal(budget.suppressed, 997);
  t.equal(counted, 997, 'each dropped line is reported (for the metric)');
  now += 59_999;
  t.equal(budget.write('warn', {}, 'bad TSIG'), false, 'still the same window');
  now += 1;
  t.equal(budget.write('warn', { i: 'next' }, 'bad TSIG'), true, 'a new window');
  await new Promise((r) => setImmediate(r));
  const bad = lines.filter((l) => l.msg === 'bad TSIG');
  t.equal(bad.length, 4);
  t.same(bad.map((l) => l.suppressed), [undefined, undefined, undefined, 998], 'the first line of the new window counts what was dropped');
  t.equal(bad[0]?.level, 'warn');
  t.equal(lines.find((l) => l.msg === 'another message')?.level, 'info');
});
