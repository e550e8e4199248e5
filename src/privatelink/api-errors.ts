/**
 * Maps whatever openapi-core (or the network under it) throws to a PldnsError with a stable code.
 * Pure: no I/O, so every branch is unit-tested with plain objects shaped like the library's errors.
 *
 * openapi-core 1.0.8 throws ThrottlingError (any code containing "Throttling", with `retryAfter`
 * from `x-acs-retry-after`), ClientError (4xx) and ServerError (5xx), each with `code`,
 * `statusCode`, `requestId` and `data`; a non-JSON body surfaces as a bare SyntaxError; transport
 * failures are Node errors with `code` (ECONNREFUSED...) or httpx's `RequestTimeoutError`.
 */
import { PldnsError, type ErrorCode } from '../errors';
import { RAM_POLICY_DOC, ramActionFor } from './ram-policy';

/** The fields of openapi-core's AlibabaCloudError family (and of Node system errors) we read. */
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  requestId?: unknown;
  retryAfter?: unknown;
  /** openapi-core copies the error body's AccessDeniedDetail here (which policy denied what). */
  accessDeniedDetail?: unknown;
  data?: unknown;
}

/** What a RAM denial's AccessDeniedDetail says, in our field names; only the fields present. */
export interface AccessDenied {
  /** e.g. AccountLevelIdentityBasedPolicy, ResourceGroupLevelIdentityBasedPolicy, ControlPolicy, a VPC endpoint policy. */
  readonly policyType?: string;
  readonly policyName?: string;
  /** ImplicitDeny (no policy allows it) or ExplicitDeny (a Deny statement matched). */
  readonly noPermissionType?: string;
  /** The denied action, e.g. privatelink:ListVpcEndpoints. */
  readonly authAction?: string;
  /** Who was denied: "<AuthPrincipalType> <AuthPrincipalDisplayName>". */
  readonly principal?: string;
  /** For RAM's diagnostic decoder; long, so only in details, not in the message. */
  readonly encodedDiagnosticMessage?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ESERVFAIL', 'EREFUSED',
  'ETIMEOUT', 'ECANCELLED', 'ENODATA', 'UND_ERR_SOCKET', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Codes that say the identity is known and signed correctly but its RAM policy does not allow the
 * call: not the key's fault, so the key is kept. Other Forbidden.* codes (AccessKeyDisabled...) are.
 */
const FORBIDDEN_CODE_RE = /^(Forbidden|Forbidden\.RAM|Forbidden\.NoPermission|NoPermission(\..+)?)$/;

/** Codes that say the caller's identity or signature was not accepted. */
const AUTH_CODE_RE =
  /^(SignatureDoesNotMatch|IncompleteSignature|SignatureNonceUsed|InvalidAccessKeyId(\..+)?|InvalidAccessKeySecret|InvalidSecurityToken(\..+)?|MissingSecurityToken|MissingAccessKeyId|InvalidTimeStamp(\..+)?|Forbidden(\..+)?|NoPermission(\..+)?|Unauthorized(\..+)?|UnsupportedSignatureVersion)$/;

function isErrorLike(err: unknown): err is ErrorLike {
  return typeof err === 'object' && err !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value !== 'undefined' ? value : undefined;
}

/** The AccessDeniedDetail openapi-core put on the error (or left in its body), or undefined. */
export function accessDeniedOf(err: ErrorLike): AccessDenied | undefined {
  const data = typeof err.data === 'object' && err.data !== null ? (err.data as Record<string, unknown>) : {};
  const raw = err.accessDeniedDetail ?? data.AccessDeniedDetail ?? data.accessDeniedDetail;
  if (typeof raw !== 'object' || raw === null) return undefined;
  const d = raw as Record<string, unknown>;
  const principal = [str(d.AuthPrincipalType), str(d.AuthPrincipalDisplayName)].filter((x) => x !== undefined).join(' ');
  const out: Record<string, string> = {};
  const put = (key: keyof AccessDenied, value: string | undefined) => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  put('policyType', str(d.PolicyType));
  put('policyName', str(d.PolicyName));
  put('noPermissionType', str(d.NoPermissionType));
  put('authAction', str(d.AuthAction));
  put('principal', principal);
  put('encodedDiagnosticMessage', str(d.EncodedDiagnosticMessage));
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Why the call was denied, for the message: the real cause when AccessDeniedDetail names it (an
 * explicit Deny or a control policy is not fixed by attaching our policy), else the likely one.
 */
function denialCause(ramAction: string, denied: AccessDenied | undefined): string {
  if (!denied) return `the RAM identity lacks ${ramAction} (policy: ${RAM_POLICY_DOC}), or a Deny statement, control policy or endpoint policy refuses it`;
  const what = denied.authAction ?? ramAction;
  const policy = denied.policyType === undefined ? 'a policy' : `a ${denied.policyType}${denied.policyName ? ` "${denied.policyName}"` : ''}`;
  const who = denied.principal ? ` for ${denied.principal}` : '';
  if (denied.noPermissionType === 'ExplicitDeny') {
    return `an explicit Deny in ${policy} refuses ${what}${who}: an Allow cannot override it; change that policy`;
  }
  if (denied.policyType !== undefined && !/IdentityBased/i.test(denied.policyType)) {
    return `${policy} does not allow ${what}${who}${denied.noPermissionType ? ` (${denied.noPermissionType})` : ''}: the identity's own RAM policy cannot fix this`;
  }
  return `the RAM identity lacks ${what}${who}${denied.policyType ? ` (${denied.policyType}${denied.noPermissionType ? `, ${denied.noPermissionType}` : ''})` : ''} (policy: ${RAM_POLICY_DOC})`;
}

function classifyApiCode(apiCode: string, statusCode: number | undefined): ErrorCode | undefined {
  if (apiCode.includes('Throttling')) return 'PL_THROTTLED';
  if (FORBIDDEN_CODE_RE.test(apiCode)) return 'PL_FORBIDDEN';
  if (AUTH_CODE_RE.test(apiCode)) return 'PL_AUTH';
  if (apiCode.endsWith('NotFound') && !apiCode.startsWith('InvalidApi')) return 'PL_NOT_FOUND';
  if (statusCode !== undefined && statusCode >= 500) return 'PL_SERVER';
  if (statusCode === 401 || statusCode === 403) return 'PL_AUTH';
  return undefined;
}

function isTimeout(name: string | undefined, message: string | undefined): boolean {
  return (name !== undefined && /Timeout/i.test(name)) || (message !== undefined && /^(Read|Connect)Timeout/.test(message));
}

/** Where a failed call went: named in the message so a log line says which API was unreachable. */
export interface CallTarget {
  /** host:port of the API. */
  readonly target?: string;
  /** The timeout the call ran with, for "timed out after Nms". */
  readonly timeoutMs?: number;
}

/**
 * The one mapping from anything thrown on the PrivateLink path to a PldnsError. `action` names the
 * API operation for the message and details (omitted for errors outside any one call), `call.target`
 * the host:port it went to. An error that already is a PldnsError (for example PL_CREDENTIALS raised
 * while signing) passes through.
 */
export function toPldnsError(err: unknown, action?: string, call: CallTarget = {}): PldnsError {
  if (err instanceof PldnsError) return err;
  const label = action === undefined ? undefined : call.target === undefined ? action : `${action} to ${call.target}`;
  const at = label === undefined ? '' : `${label}: `;
  const failed = label === undefined ? 'failed: ' : `${label} failed: `;
  const where: { action?: string; target?: string } = {
    ...(action === undefined ? {} : { action }),
    ...(call.target === undefined ? {} : { target: call.target }),
  };
  if (!isErrorLike(err)) return new PldnsError('PL_BAD_RESPONSE', `${at}${withoutSdkNoise(String(err))}`, { cause: err });

  const name = str(err.name);
  const message = str(err.message);
  const code = str(err.code);
  const statusCode = typeof err.statusCode === 'number' ? err.statusCode : undefined;
  const requestId = str(err.requestId);

  if (statusCode !== undefined && code !== undefined) {
    const details: Record<string, unknown> = { ...where, apiCode: code, statusCode };
    if (requestId !== undefined) details.requestId = requestId;
    const mapped = classifyApiCode(code, statusCode) ?? (statusCode >= 500 ? 'PL_SERVER' : 'PL_BAD_RESPONSE');
    if (mapped === 'PL_THROTTLED' && typeof err.retryAfter === 'number' && Number.isFinite(err.retryAfter)) {
      details.retryAfterMs = err.retryAfter;
    }
    if (mapped === 'PL_FORBIDDEN' && action !== undefined) {
      const ramAction = ramActionFor(action);
      details.ramAction = ramAction;
      const denied = accessDeniedOf(err);
      if (denied) details.accessDenied = denied;
      const id = requestId ? ` request ${requestId}` : '';
      const message = `${action} denied: ${code} (HTTP ${statusCode})${id}: ${denialCause(ramAction, denied)}`;
      return new PldnsError(mapped, message, { cause: err, details });
    }
    return new PldnsError(mapped, `${failed}${code} (HTTP ${statusCode})${requestId ? ` request ${requestId}` : ''}`, { cause: err, details });
  }

  if (statusCode !== undefined && statusCode >= 500) {
    return new PldnsError('PL_SERVER', `${failed}HTTP ${statusCode}`, { cause: err, details: { ...where, statusCode } });
  }

  // A body that is not JSON: an HTML error page from a proxy or load balancer.
  if (err instanceof SyntaxError) {
    return new PldnsError('PL_BAD_RESPONSE', `${at}the response body is not JSON`, { cause: err, details: { ...where } });
  }

  if (isTimeout(name, message)) {
    const after = call.timeoutMs === undefined ? '' : ` after ${call.timeoutMs}ms`;
    return new PldnsError('PL_NETWORK', `${at}timed out${after}`, { cause: err, details: { ...where, timeout: true } });
  }

  if (code !== undefined && (NETWORK_CODES.has(code) || /^(ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code))) {
    return new PldnsError('PL_NETWORK', `${at}${code}`, { cause: err, details: { ...where, errno: code } });
  }

  // A ClientError raised before any request was sent (e.g. openapi-core's "InvalidCredentials").
  if (code === 'InvalidCredentials') {
    return new PldnsError('PL_CREDENTIALS', `${at}no credentials configured`, { cause: err, details: { ...where, apiCode: code } });
  }
  if (code !== undefined) {
    const mapped = classifyApiCode(code, undefined);
    if (mapped !== undefined) return new PldnsError(mapped, `${failed}${code}`, { cause: err, details: { ...where, apiCode: code } });
  }

  const text = withoutSdkNoise(message ?? name ?? '');
  return new PldnsError('PL_BAD_RESPONSE', `${at}${text === '' ? 'unknown error' : text}`, { cause: err, details: { ...where } });
}

/**
 * The SDK glues unset fields and the request line into some messages ("…undefinedGET https://undefined/");
 * keep the first line, without the request line and the literal "undefined" pieces.
 */
export function withoutSdkNoise(message: string): string {
  return (message.split('\n')[0] ?? '')
    .replace(/(undefined)?(GET|POST|PUT|DELETE|HEAD|PATCH) https?:\/\/\S*/g, ' ')
    .replace(/\bundefined\b:?/g, '')
    .replace(/\s+/g, ' ')
    .replace(/[\s:,]+$/, '')
    .trim();
}
