import t from 'tap';
import { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/metrics';
import { metricValue } from '../helpers/metrics';

t.test('a bound counter series is shared by every bind with the same labels', async (t) => {
  const registry = new Registry();
  const c = new FastCounter('x_total', 'help', ['a', 'b'] as const, registry);
  c.bind({ a: '1', b: '2' }).value += 2;
  c.bind({ a: '1', b: '2' }).value++;
  c.inc({ a: '1', b: '3' });
  const body = await registry.metrics();
  t.equal(metricValue(body, 'x_total', { a: '1', b: '2' }), 3);
  t.equal(metricValue(body, 'x_total', { b: '3' }), 1);
  t.match(body, /# TYPE x_total counter/);
});

t.test('a histogram renders cumulative buckets, +Inf, sum and count', async (t) => {
  const registry = new Registry();
  const h = new FastHistogram('y_seconds', 'help', [] as const, [1, 0.1], registry);
  const s = h.bind({});
  for (const v of [0.05, 0.5, 5]) s.observe(v);
  const body = await registry.metrics();
  t.equal(metricValue(body, 'y_seconds_bucket', { le: '0.1' }), 1);
  t.equal(metricValue(body, 'y_seconds_bucket', { le: '1' }), 2, 'buckets are sorted and cumulative');
  t.equal(metricValue(body, 'y_seconds_bucket', { le: '+Inf' }), 3);
  t.equal(metricValue(body, 'y_seconds_sum'), 5.55);
  t.equal(metricValue(body, 'y_seconds_count'), 3);
});
