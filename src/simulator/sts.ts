/**
 * A local stand-in for STS (2015-04-01): AssumeRoleWithOIDC as RRSA pods call it (an anonymous
 * RPC POST with OIDCProviderArn, OIDCToken, RoleArn, RoleSessionName, DurationSeconds in the form
 * body), and AssumeRole as `ram_role_arn` calls it (the same, signed with an AccessKey, HMAC-SHA1;
 * the server checks that signature first). Both answer with temporary credentials, which the
 * PrivateLink API then accepts only together with their security token (`x-acs-security-token`),
 * as the real gateway does. Only what the daemon needs: no policy evaluation, no token signature
 * check (the OIDC token must equal the configured one); an ExternalId the role requires is checked,
 * and the session fields each call asked for are recorded (SeenRequest.sts).
 */
import { randomBytes } from 'node:crypto';
import type { ApiReply } from './types';
import { errorReply } from './api';

export const STS_API_VERSION = '2015-04-01';

export interface SimulatorStsOptions {
  /** The one role that may be assumed. */
  roleArn: string;
  /** For AssumeRoleWithOIDC; without both, only AssumeRole is answered. */
  oidcProviderArn?: string;
  /** The exact token the pod presents (the projected service account token). */
  oidcToken?: string;
  /** Lifetime of issued credentials when the caller asks none (DurationSeconds). Default 1 h. */
  durationMs?: number;
  /** The ExternalId the role's trust policy requires of AssumeRole callers; unset: none asked. */
  externalId?: string;
}

/** The session fields an assume call asked for, as the stand-in received them. */
export interface StsRequestFields {
  roleArn: string | null;
  roleSessionName: string | null;
  externalId: string | null;
  durationSeconds: number | null;
  policy: string | null;
}

export function stsFieldsOf(params: URLSearchParams): StsRequestFields {
  const duration = params.get('DurationSeconds');
  return {
    roleArn: params.get('RoleArn'),
    roleSessionName: params.get('RoleSessionName'),
    externalId: params.get('ExternalId'),
    durationSeconds: duration === null ? null : Number(duration),
    policy: params.get('Policy'),
  };
}

interface Issued {
  secret: string;
  token: string;
  expiresMs: number;
}

export class StsIssuer {
  private readonly issued = new Map<string, Issued>();

  constructor(private readonly options: SimulatorStsOptions | undefined) {}

  assumeRoleWithOidc(params: URLSearchParams, ctx: { requestId: string; hostId: string; nowMs: number }): ApiReply {
    const fail = (status: number, code: string, message: string): ApiReply => errorReply(status, code, message, ctx.requestId, ctx.hostId);
    const o = this.options;
    if (!o?.oidcProviderArn || !o.oidcToken) {
      return fail(404, 'InvalidApi.NotFound', 'Specified api "AssumeRoleWithOIDC" is not found (the simulator was started without OIDC).');
    }
    for (const name of ['OIDCProviderArn', 'OIDCToken', 'RoleArn']) {
      if (!params.get(name)) return fail(400, `MissingParameter.${name}`, `${name} is mandatory for this action.`);
    }
    if (params.get('OIDCProviderArn') !== o.oidcProviderArn) return fail(404, 'EntityNotExist.OIDCProvider', 'The specified OIDC provider does not exist.');
    if (params.get('RoleArn') !== o.roleArn) return fail(404, 'EntityNotExist.Role', 'The specified Role does not exist.');
    if (params.get('OIDCToken')?.trim() !== o.oidcToken) return fail(400, 'AuthenticationFail.OIDCToken.Invalid', 'The OIDC token is invalid.');
    return this.issue(o, params, ctx);
  }

  /** AssumeRole; the caller's signature has already been verified. */
  assumeRole(params: URLSearchParams, ctx: { requestId: string; hostId: string; nowMs: number }): ApiReply {
    const fail = (status: number, code: string, message: string): ApiReply => errorReply(status, code, message, ctx.requestId, ctx.hostId);
    const o = this.options;
    if (!o) return fail(404, 'InvalidApi.NotFound', 'Specified api "AssumeRole" is not found (the simulator was started without STS).');
    if (!params.get('RoleArn')) return fail(400, 'MissingParameter.RoleArn', 'RoleArn is mandatory for this action.');
    if (params.get('RoleArn') !== o.roleArn) return fail(404, 'EntityNotExist.Role', 'The specified Role does not exist.');
    if (o.externalId !== undefined && params.get('ExternalId') !== o.externalId) {
      return fail(403, 'NoPermission', 'You are not authorized to do this action: the role\'s trust policy requires another ExternalId.');
    }
    return this.issue(o, params, ctx);
  }

  private issue(o: SimulatorStsOptions, params: URLSearchParams, ctx: { requestId: string; nowMs: number }): ApiReply {
    const id = `STS.${randomBytes(12).toString('hex')}`;
    const asked = Number(params.get('DurationSeconds'));
    const expiresMs = ctx.nowMs + (Number.isFinite(asked) && asked > 0 ? asked * 1000 : o.durationMs ?? 3_600_000);
    const issued: Issued = { secret: randomBytes(20).toString('base64url'), token: randomBytes(48).toString('base64'), expiresMs };
    this.issued.set(id, issued);
    return {
      status: 200,
      body: {
        RequestId: ctx.requestId,
        AssumedRoleUser: { Arn: `${o.roleArn}/${params.get('RoleSessionName') ?? ''}`, AssumedRoleId: `3000:${params.get('RoleSessionName') ?? ''}` },
        Credentials: {
          AccessKeyId: id,
          AccessKeySecret: issued.secret,
          SecurityToken: issued.token,
          Expiration: new Date(issued.expiresMs).toISOString().replace(/\.\d+Z$/, 'Z'),
        },
        ...(params.has('OIDCToken') ? { OIDCTokenInfo: { Issuer: 'https://oidc-ack.simulator', ClientIds: 'sts.aliyuncs.com' } } : {}),
      },
    };
  }

  /** The secret of an issued, unexpired key; undefined for anything else. */
  secretFor(accessKeyId: string, nowMs: number): string | undefined {
    const issued = this.issued.get(accessKeyId);
    return issued && issued.expiresMs > nowMs ? issued.secret : undefined;
  }

  /** undefined when `token` is the one issued with `accessKeyId` (or the key is not an STS key). */
  checkToken(accessKeyId: string, token: string | undefined): { status: number; code: string; message: string } | undefined {
    const issued = this.issued.get(accessKeyId);
    if (!issued) return undefined;
    if (token === undefined || token === '') return { status: 400, code: 'MissingSecurityToken', message: 'SecurityToken is mandatory for this STS AccessKeyId.' };
    if (token !== issued.token) {
      return { status: 400, code: 'InvalidSecurityToken.MismatchWithAccessKey', message: 'The security token does not match the AccessKeyId.' };
    }
    return undefined;
  }
}
