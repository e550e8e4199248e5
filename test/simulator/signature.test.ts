/**
 * Raw HTTP requests signed by openapi-core's own signer (an implementation independent of the
 * simulator's verifier), then tampered with.
 */
import t from 'tap';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { OpenApiUtil } from '@alicloud/openapi-core';
import { startSimulator, type RunningSimulator } from '../../src/simulator';

interface Raw {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

function send(sim: RunningSimulator, path: string, headers: Record<string, string>, body = ''): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: sim.host, port: sim.port, path, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers and query as openapi-core's doRequest builds them, signed with its getAuthorization. */
function signed(sim: RunningSimulator, query: Record<string, string>, opts: { secret?: string; body?: string; date?: string; nonce?: string; action?: string } = {}) {
  const body = opts.body ?? '';
  const hash = createHash('sha256').update(body).digest('hex');
  const headers: Record<string, string> = {
    host: sim.endpoint,
    'x-acs-version': '2020-04-15',
    'x-acs-action': opts.action ?? 'ListVpcEndpoints',
    'x-acs-date': opts.date ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': opts.nonce ?? randomUUID(),
    accept: 'application/json',
    'x-acs-content-sha256': hash,
  };
  const req = { method: 'POST', pathname: '/', query, headers } as unknown as Parameters<typeof OpenApiUtil.getAuthorization>[0];
  headers.Authorization = OpenApiUtil.getAuthorization(req, 'ACS3-HMAC-SHA256', hash, 'simulator', opts.secret ?? 'simulator');
  return headers;
}

const qs = (q: Record<string, string>) => `/?${new URLSearchParams(q).toString().replace(/\+/g, '%20')}`;

t.test('V3 signatures are verified exactly', async (t) => {
  const sim = await startSimulator({ port: 0, data: { endpoints: [{ EndpointId: 'ep-1', Zones: [] }, { EndpointId: 'ep-2', Zones: [] }] } });
  t.teardown(() => sim.close());
  const query = { RegionId: 'cn-hangzhou', EndpointId: 'ep-1', EndpointName: "a b!'()*~" };

  const ok = await send(sim, qs(query), signed(sim, query));
  t.equal(ok.status, 200, 'a correctly signed request (with characters RFC 3986 treats specially) is accepted');
  t.type(ok.headers['x-acs-request-id'], 'string');

  const tampered = await send(sim, qs({ ...query, EndpointId: 'ep-2' }), signed(sim, query));
  t.equal(tampered.status, 400);
  t.equal(tampered.body.Code, 'SignatureDoesNotMatch', 'a changed query parameter is rejected');
  t.match(tampered.body, { RequestId: String, HostId: String, Message: /string to sign/, Recommend: /SignatureDoesNotMatch/ });

  const added = await send(sim, qs({ ...query, VpcId: 'vpc-x' }), signed(sim, query));
  t.equal(added.body.Code, 'SignatureDoesNotMatch', 'an added query parameter is rejected');

  const otherAction = signed(sim, query);
  otherAction['x-acs-action'] = 'GetVpcEndpointAttribute';
  t.equal((await send(sim, qs(query), otherAction)).body.Code, 'SignatureDoesNotMatch', 'a changed signed header is rejected');

  const unsignedExtra = signed(sim, query);
  unsignedExtra['user-agent'] = 'something else';
  t.equal((await send(sim, qs(query), unsignedExtra)).status, 200, 'headers outside SignedHeaders are not checked');

  const bodyHeaders = signed(sim, query);
  t.equal((await send(sim, qs(query), bodyHeaders, 'Smuggled=1')).body.Code, 'SignatureDoesNotMatch', 'a body that does not match x-acs-content-sha256');

  const nonce = randomUUID();
  t.equal((await send(sim, qs(query), signed(sim, query, { nonce }))).status, 200);
  t.equal((await send(sim, qs(query), signed(sim, query, { nonce }))).body.Code, 'SignatureNonceUsed', 'a replayed nonce');

  const old = new Date(Date.now() - 20 * 60 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  t.equal((await send(sim, qs(query), signed(sim, query, { date: old }))).body.Code, 'InvalidTimeStamp.Expired');

  const wrong = await send(sim, qs(query), signed(sim, query, { secret: 'nope' }));
  t.equal(wrong.body.Code, 'SignatureDoesNotMatch');

  const unknown = signed(sim, query);
  unknown.Authorization = unknown.Authorization.replace('Credential=simulator', 'Credential=LTAIother');
  const unknownReply = await send(sim, qs(query), unknown);
  t.equal(unknownReply.status, 404);
  t.equal(unknownReply.body.Code, 'InvalidAccessKeyId.NotFound');

  const narrow = signed(sim, query);
  narrow.Authorization = narrow.Authorization.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=host');
  t.equal((await send(sim, qs(query), narrow)).body.Code, 'IncompleteSignature', 'action and date must be signed');

  const none = await send(sim, qs(query), { host: sim.endpoint, 'x-acs-action': 'ListVpcEndpoints' });
  t.equal(none.status, 400);
  t.equal(none.body.Code, 'IncompleteSignature');
});

t.test('V2 (Action in the query, HMAC-SHA1) is verified too', async (t) => {
  const sim = await startSimulator({ port: 0 });
  t.teardown(() => sim.close());
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params: Record<string, string> = {
    Action: 'ListVpcEndpoints', Version: '2020-04-15', RegionId: 'cn-hangzhou', Format: 'JSON', AccessKeyId: 'simulator',
    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', SignatureNonce: randomUUID(), Timestamp: new Date().toISOString(),
  };
  const canonical = Object.keys(params).sort().map((k) => `${enc(k)}=${enc(params[k])}`).join('&');
  const signature = createHmac('sha1', 'simulator&').update(`POST&${enc('/')}&${enc(canonical)}`).digest('base64');
  const ok = await send(sim, qs({ ...params, Signature: signature }), { host: sim.endpoint });
  t.equal(ok.status, 200);
  t.equal(ok.body.TotalCount, 0);
  const bad = await send(sim, qs({ ...params, RegionId: 'cn-beijing', SignatureNonce: randomUUID(), Signature: signature }), { host: sim.endpoint });
  t.equal(bad.body.Code, 'SignatureDoesNotMatch');
});
