import t from 'tap';
import { PldnsError, describeError, isPldnsError } from '../src/errors';

t.test('details are checked against the code at construction', async (t) => {
  const throttled = new PldnsError('PL_THROTTLED', 'Throttling.User', { details: { retryAfterMs: 1500, apiCode: 'Throttling.User' } });
  t.same(throttled.details, { retryAfterMs: 1500, apiCode: 'Throttling.User' });
  // @ts-expect-error retryAfterMs is a number
  t.ok(new PldnsError('PL_THROTTLED', 'x', { details: { retryAfterMs: 'soon' } }));
  // @ts-expect-error USAGE carries no details
  t.ok(new PldnsError('USAGE', 'x', { details: { flag: 'config' } }));
  // @ts-expect-error CONFIG_INVALID needs its problems
  t.ok(new PldnsError('CONFIG_INVALID', 'x', { details: {} }));
  // @ts-expect-error not a field of UPSTREAM_TIMEOUT
  t.ok(new PldnsError('UPSTREAM_TIMEOUT', 'x', { details: { mismatches: 1, server: 'a' } }));
  t.equal(new PldnsError('USAGE', 'x').details, undefined);
});

t.test('isPldnsError with a code narrows to that code and its details', async (t) => {
  const err: unknown = new PldnsError('CONFIG_INVALID', 'bad', { details: { problems: [{ path: 'a.b', problem: 'is wrong' }] } });
  t.notOk(isPldnsError(err, 'CONFIG_READ'));
  t.notOk(isPldnsError(new Error('plain')));
  if (!isPldnsError(err, 'CONFIG_INVALID')) throw new Error('expected CONFIG_INVALID');
  const paths: string[] = (err.details?.problems ?? []).map((p) => p.path);
  t.same(paths, ['a.b']);
  t.equal(describeError(err), 'CONFIG_INVALID: bad');
});
