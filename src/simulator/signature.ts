/**
 * Request signature verification, as the real API gateway does it: ACS3-HMAC-SHA256 (V3, what
 * openapi-core sends by default) and, for older RPC clients, the HMAC-SHA1 query signature (V2).
 * Only headers named in SignedHeaders are checked, but the ones that say what is being asked
 * (host, action, version, date, nonce, body hash) must be among them: otherwise a captured request
 * could be replayed as another action.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SignedRequest {
  method: string;
  /** The raw path, before `?`. */
  path: string;
  /** Decoded query pairs, in arrival order. */
  query: ReadonlyArray<readonly [string, string]>;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SignatureFailure {
  status: number;
  code: string;
  message: string;
}

export interface VerifyOptions {
  secretFor(accessKeyId: string): string | undefined;
  /** For temporary (STS) keys: a failure unless `token` (x-acs-security-token) is the one issued with the key. */
  checkToken?(accessKeyId: string, token: string | undefined): SignatureFailure | undefined;
  /** Returns false when the nonce was seen within the replay window. */
  useNonce(nonce: string, nowMs: number): boolean;
  nowMs: number;
}

/** Requests dated further than this from the server clock are refused. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const REQUIRED_SIGNED_HEADERS = ['host', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-version'];

/** RFC 3986 percent-encoding, the form both signature versions canonicalise with. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function fail(status: number, code: string, message: string): SignatureFailure {
  return { status, code, message };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function canonicalQuery(query: SignedRequest['query']): string {
  return query
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** The V3 canonical request for `signedHeaders` (lower-case, as listed by the client). */
export function canonicalRequestV3(req: SignedRequest, signedHeaders: readonly string[], payloadHash: string): string {
  const sorted = [...signedHeaders].sort();
  const headerLines = sorted.map((name) => `${name}:${(header(req.headers, name) ?? '').trim()}\n`).join('');
  return [req.method.toUpperCase(), req.path, canonicalQuery(req.query), headerLines, sorted.join(';'), payloadHash].join('\n');
}

export function stringToSignV3(canonicalRequest: string): string {
  return `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
}

function checkDate(date: string | undefined, nowMs: number): SignatureFailure | undefined {
  const parsed = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(parsed)) return fail(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
  if (Math.abs(nowMs - parsed) > MAX_CLOCK_SKEW_MS) return fail(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
  return undefined;
}

const AUTH_RE = /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*$/;

/** Verifies a V3 request; undefined when it is good. */
export function verifyV3(req: SignedRequest, opts: VerifyOptions): SignatureFailure | undefined {
  const authorization = header(req.headers, 'authorization');
  const m = authorization === undefined ? null : AUTH_RE.exec(authorization);
  if (!m) return fail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
  const [, accessKeyId, signedList, signature] = m;
  const signedHeaders = signedList.split(';').map((h) => h.toLowerCase());
  const missing = REQUIRED_SIGNED_HEADERS.filter((h) => !signedHeaders.includes(h) || header(req.headers, h) === undefined);
  if (missing.length > 0) return fail(400, 'IncompleteSignature', `The request signature does not cover: ${missing.join(', ')}.`);

  const secret = opts.secretFor(accessKeyId);
  if (secret === undefined) return fail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const dateProblem = checkDate(header(req.headers, 'x-acs-date'), opts.nowMs);
  if (dateProblem) return dateProblem;

  const payloadHash = header(req.headers, 'x-acs-content-sha256') ?? '';
  const actualHash = createHash('sha256').update(req.body).digest('hex');
  if (!sameText(payloadHash.toLowerCase(), actualHash)) {
    return fail(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation: x-acs-content-sha256 is not the hash of the body.`);
  }

  const stringToSign = stringToSignV3(canonicalRequestV3(req, signedHeaders, payloadHash));
  const expected = createHmac('sha256', secret).update(stringToSign).digest('hex');
  if (!sameText(signature.toLowerCase(), expected)) {
    return fail(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`);
  }
  const tokenProblem = opts.checkToken?.(accessKeyId, header(req.headers, 'x-acs-security-token'));
  if (tokenProblem) return tokenProblem;
  if (!opts.useNonce(header(req.headers, 'x-acs-signature-nonce') ?? '', opts.nowMs)) {
    return fail(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
  }
  return undefined;
}

/**
 * Verifies a V2 RPC request: every parameter (query and form body) except Signature, sorted and
 * encoded, signed with HMAC-SHA1 under `secret + "&"`. `params` must include the form body's pairs.
 */
export function verifyV2(method: string, params: ReadonlyArray<readonly [string, string]>, opts: VerifyOptions): SignatureFailure | undefined {
  const get = (name: string) => params.find(([k]) => k === name)?.[1];
  const signature = get('Signature');
  const accessKeyId = get('AccessKeyId');
  if (signature === undefined || accessKeyId === undefined) return fail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
  if (get('SignatureMethod') !== 'HMAC-SHA1') return fail(400, 'InvalidParameter.SignatureMethod', 'Only HMAC-SHA1 is supported for V2 signatures.');
  const secret = opts.secretFor(accessKeyId);
  if (secret === undefined) return fail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
  const dateProblem = checkDate(get('Timestamp'), opts.nowMs);
  if (dateProblem) return dateProblem;
  const canonical = canonicalQuery(params.filter(([k]) => k !== 'Signature'));
  const stringToSign = `${method.toUpperCase()}&${rfc3986('/')}&${rfc3986(canonical)}`;
  const expected = createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
  if (!sameText(signature, expected)) {
    return fail(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`);
  }
  if (!opts.useNonce(get('SignatureNonce') ?? '', opts.nowMs)) return fail(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
  return undefined;
}
