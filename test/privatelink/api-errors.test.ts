import t from 'tap';
import { ClientError, ServerError, ThrottlingError } from '@alicloud/openapi-core';
import { PldnsError } from '../../src/errors';
import { toPldnsError } from '../../src/privatelink/api-errors';

const api = (Cls: typeof ClientError | typeof ServerError | typeof ThrottlingError, statusCode: number, code: string, extra = {}) =>
  new Cls({ statusCode, code, message: `code: ${statusCode}`, requestId: 'REQ-1', data: {}, ...extra });

t.test('api codes map to stable PldnsError codes', async (t) => {
  const cases: Array<[Error, string]> = [
    [api(ThrottlingError, 400, 'Throttling.User'), 'PL_THROTTLED'],
    [api(ThrottlingError, 400, 'Throttling.Api'), 'PL_THROTTLED'],
    [api(ClientError, 400, 'SignatureDoesNotMatch'), 'PL_AUTH'],
    [api(ClientError, 404, 'InvalidAccessKeyId.NotFound'), 'PL_AUTH'],
    [api(ClientError, 400, 'InvalidAccessKeyId.Inactive'), 'PL_AUTH'],
    [api(ClientError, 403, 'Forbidden.RAM'), 'PL_FORBIDDEN'],
    [api(ClientError, 403, 'NoPermission'), 'PL_FORBIDDEN'],
    [api(ClientError, 403, 'Forbidden'), 'PL_FORBIDDEN'],
    [api(ClientError, 403, 'Forbidden.AccessKeyDisabled'), 'PL_AUTH'],
    [api(ClientError, 400, 'InvalidTimeStamp.Expired'), 'PL_AUTH'],
    [api(ClientError, 400, 'SignatureNonceUsed'), 'PL_AUTH'],
    [api(ClientError, 403, 'SomethingNew'), 'PL_AUTH'],
    [api(ClientError, 400, 'EndpointNotFound'), 'PL_NOT_FOUND'],
    [api(ClientError, 400, 'EndpointServiceNotFound'), 'PL_NOT_FOUND'],
    [api(ClientError, 404, 'InvalidApi.NotFound'), 'PL_BAD_RESPONSE'],
    [api(ClientError, 400, 'MissingRegionId'), 'PL_BAD_RESPONSE'],
    [api(ServerError, 500, 'InternalError'), 'PL_SERVER'],
    [api(ServerError, 503, 'ServiceUnavailable'), 'PL_SERVER'],
  ];
  for (const [err, code] of cases) {
    const mapped = toPldnsError(err, 'ListVpcEndpoints');
    t.equal(mapped.code, code, `${(err as ClientError).code} → ${code}`);
    t.match(mapped.details, { action: 'ListVpcEndpoints', apiCode: (err as ClientError).code, requestId: 'REQ-1' });
    t.equal(mapped.cause, err, 'keeps the original as cause');
  }
});

t.test('throttling carries retryAfterMs only when the server sent one', async (t) => {
  t.equal(toPldnsError(api(ThrottlingError, 400, 'Throttling', { retryAfter: 2000 }), 'X').details?.retryAfterMs, 2000);
  t.notOk('retryAfterMs' in (toPldnsError(api(ThrottlingError, 400, 'Throttling'), 'X').details ?? {}));
});

t.test('transport failures are PL_NETWORK', async (t) => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'CERT_HAS_EXPIRED']) {
    const err = Object.assign(new Error(`connect ${code}`), { code });
    const mapped = toPldnsError(err, 'X');
    t.equal(mapped.code, 'PL_NETWORK', code);
    t.equal(mapped.details?.errno, code);
  }
  const timeout = Object.assign(new Error('ReadTimeout(300). GET http://x failed.'), { name: 'RequestTimeoutError' });
  t.match(toPldnsError(timeout, 'X'), { code: 'PL_NETWORK', details: { timeout: true } });
  const connectTimeout = Object.assign(new Error('ConnectTimeout: Connect http://x failed.'), { name: 'RequestTimeoutError' });
  t.match(toPldnsError(connectTimeout, 'X'), { code: 'PL_NETWORK', details: { timeout: true } });
});

t.test('a body that is not JSON is PL_BAD_RESPONSE', async (t) => {
  let syntax: unknown;
  try {
    JSON.parse('<html>');
  } catch (err) {
    syntax = err;
  }
  t.equal(toPldnsError(syntax, 'X').code, 'PL_BAD_RESPONSE');
});

t.test('missing credentials before sending are PL_CREDENTIALS; PldnsErrors pass through', async (t) => {
  t.equal(toPldnsError(new ClientError({ code: 'InvalidCredentials', message: 'set up credentials' }), 'X').code, 'PL_CREDENTIALS');
  const own = new PldnsError('PL_CREDENTIALS', 'no keys');
  t.equal(toPldnsError(own, 'X'), own);
  t.equal(toPldnsError('a string', 'X').code, 'PL_BAD_RESPONSE');
  t.equal(toPldnsError(new Error('odd'), 'X').code, 'PL_BAD_RESPONSE');
});

t.test('without an action (errors outside any one call): no prefix, no action in details', async (t) => {
  const plain = toPldnsError(new Error('boom'));
  t.equal(plain.code, 'PL_BAD_RESPONSE');
  t.equal(plain.message, 'boom');
  t.notOk(plain.details && 'action' in plain.details);
  const refused = toPldnsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  t.equal(refused.code, 'PL_NETWORK');
  t.equal(refused.message, 'ECONNREFUSED');
  t.same(refused.details, { errno: 'ECONNREFUSED' });
  t.equal(toPldnsError('text').message, 'text');
});

t.test('messages name the target and drop the SDK noise', async (t) => {
  const target = { target: 'privatelink.cn-hangzhou.aliyuncs.com:443', timeoutMs: 5000 };
  const refused = toPldnsError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }), 'ListVpcEndpoints', target);
  t.equal(refused.message, 'ListVpcEndpoints to privatelink.cn-hangzhou.aliyuncs.com:443: ECONNREFUSED');
  t.match(refused.details, { action: 'ListVpcEndpoints', target: target.target, errno: 'ECONNREFUSED' });
  const noisy = toPldnsError({ name: 'Error', message: 'socket hang upundefinedGET https://undefined/' }, 'ListVpcEndpoints', target);
  t.equal(noisy.message, 'ListVpcEndpoints to privatelink.cn-hangzhou.aliyuncs.com:443: socket hang up');
  const only = toPldnsError({ message: 'undefinedPOST https://undefined/?Action=x' }, 'ListVpcEndpointZones', target);
  t.equal(only.message, 'ListVpcEndpointZones to privatelink.cn-hangzhou.aliyuncs.com:443: unknown error');
  const timeout = toPldnsError({ name: 'RequestTimeoutError', message: 'ReadTimeout(5000). undefinedGET https://undefined/' }, 'ListVpcEndpoints', target);
  t.equal(timeout.message, 'ListVpcEndpoints to privatelink.cn-hangzhou.aliyuncs.com:443: timed out after 5000ms');
});
