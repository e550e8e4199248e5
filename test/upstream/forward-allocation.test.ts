import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

/**
 * What a forwarded query allocates, measured in a plain node process (the built forwarder and
 * native exchanger, test/helpers/forward-alloc-runner.cjs) rather than under the test runner's
 * instrumentation. A count of bytes, not of time: it does not move with machine load. The bound
 * holds the shape of the forward path (a reused job as the exchange's sink, one timer for all
 * deadlines); the promise-per-layer path it replaced allocated about 4.4 KB per forward, this one
 * about 1.1 KB (the reply, its scan and the query bytes).
 */

const FORWARDS = 3000;
const CONCURRENCY = 100;
const MAX_BYTES_PER_FORWARD = 2000;

t.test(`${FORWARDS} forwards, ${CONCURRENCY} out at once: bytes per forward bounded, one timer for all deadlines`, async (t) => {
  const runner = join(__dirname, '..', 'helpers', 'forward-alloc-runner.cjs');
  // A young generation large enough that no collection runs inside the measured window.
  const flags = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];
  const r = spawnSync(process.execPath, [...flags, runner, String(FORWARDS), String(CONCURRENCY)], { encoding: 'utf8', timeout: 90_000 });
  t.equal(r.status, 0, `runner exit ${r.status}: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { bytesPerForward: number; gcs: number; timersIdle: number; timersMid: number; failed: number };
  t.comment(`figure: ${m.bytesPerForward.toFixed(0)} bytes per forward; timers ${m.timersIdle} idle, ${m.timersMid} with ${CONCURRENCY} out`);
  t.equal(m.failed, 0, 'every forward answered');
  t.equal(m.gcs, 0, 'no collection inside the window (the heap delta is every byte allocated)');
  t.ok(m.bytesPerForward > 0 && m.bytesPerForward < MAX_BYTES_PER_FORWARD, `${m.bytesPerForward.toFixed(0)} bytes per forward (< ${MAX_BYTES_PER_FORWARD})`);
  t.ok(m.timersMid - m.timersIdle <= 1, `timers alive: ${m.timersIdle} idle, ${m.timersMid} with exchanges out`);
});
