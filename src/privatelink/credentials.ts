/**
 * Alibaba Cloud credentials for the PrivateLink client, rebuilt after failures.
 *
 * Why rebuild: the default chain decides which providers exist when it is constructed (env vars,
 * profile files) and, once one has been tried, sticks to the last provider it tried. A daemon that
 * booted before its credentials were installed would otherwise fail forever. So a failure drops
 * the Credential object and the next sync starts from a fresh one.
 */
import { readFileSync } from 'node:fs';
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import { PldnsError, isPldnsError } from '../errors';
import type { AccessKeyConfig, CredentialsConfig, SessionConfig, StsConfig } from '../config/schema';
import type { Logger } from '../runtime/log';
import { resolveStsHost, rrsaFromEnv, type Env } from './sts-host';
import { secretFilePath } from './secret-files';

/** An inline value, or a file read now (see secretFilePath for where). */
export function readSecret(value: string, file: string | undefined, env: Env, what: string): string {
  if (file === undefined) return value;
  const path = secretFilePath(file, env, what);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const secret = text.trim();
  if (secret === '') throw new Error(`${what}: ${path} is empty`);
  return secret;
}

function accessKeyOf(config: AccessKeyConfig, env: Env): { accessKeyId: string; accessKeySecret: string } {
  return {
    accessKeyId: readSecret(config.accessKeyId, config.accessKeyIdFile, env, 'access_key_id'),
    accessKeySecret: readSecret(config.accessKeySecret, config.accessKeySecretFile, env, 'access_key_secret'),
  };
}

/** The library options that pin the STS host (resolveStsHost decides it; the library then reads no variable). */
export function stsOptions(config: StsConfig, env: Env): { stsEndpoint: string } {
  return { stsEndpoint: resolveStsHost(config, env).host };
}

/** The assumed-role session: its lifetime and an inline policy narrowing it (both optional). */
function sessionOptions(config: SessionConfig): { roleSessionExpiration?: number; policy?: string } {
  return {
    ...(config.sessionDurationS !== undefined ? { roleSessionExpiration: config.sessionDurationS } : {}),
    ...(config.policy !== undefined ? { policy: config.policy } : {}),
  };
}

function oidcCredential(config: { roleArn?: string; oidcProviderArn?: string; oidcTokenFile?: string; roleSessionName: string } & StsConfig & SessionConfig, env: Env): Credential {
  const roleArn = config.roleArn ?? env.ALIBABA_CLOUD_ROLE_ARN;
  const oidcProviderArn = config.oidcProviderArn ?? env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN;
  const oidcTokenFilePath = config.oidcTokenFile ?? env.ALIBABA_CLOUD_OIDC_TOKEN_FILE;
  if (!roleArn || !oidcProviderArn || !oidcTokenFilePath) {
    throw new Error('role_arn, oidc_provider_arn and oidc_token_file are needed '
      + '(or ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE)');
  }
  const { roleSessionName } = config;
  return new Credential(new CredentialConfig({
    type: 'oidc_role_arn', roleArn, oidcProviderArn, oidcTokenFilePath, roleSessionName, ...sessionOptions(config), ...stsOptions(config, env),
  }));
}

/** Builds the @alicloud/credentials object for one config; throws PL_CREDENTIALS if it cannot. */
export function buildCredential(config: CredentialsConfig, env: Env = process.env): Credential {
  try {
    switch (config.type) {
      case 'default':
        // The chain's own OIDC step ignores ALIBABA_CLOUD_STS_ENDPOINT: take RRSA variables ourselves.
        if (rrsaFromEnv(env)) return oidcCredential({ roleSessionName: env.ALIBABA_CLOUD_ROLE_SESSION_NAME ?? 'privatelink-dns' }, env);
        // No config: the library's default chain, in its order: environment, OIDC (RRSA), CLI
        // profile (~/.aliyun/config.json), credentials file (~/.alibabacloud/credentials), ECS RAM
        // role, credentials URI.
        return new Credential();
      case 'access_key': {
        const hasToken = config.securityToken !== undefined || config.securityTokenFile !== undefined;
        const securityToken = hasToken ? readSecret(config.securityToken ?? '', config.securityTokenFile, env, 'security_token') : undefined;
        return new Credential(new CredentialConfig({ type: securityToken ? 'sts' : 'access_key', ...accessKeyOf(config, env), securityToken }));
      }
      case 'ram_role_arn':
        return new Credential(new CredentialConfig({
          type: 'ram_role_arn',
          ...accessKeyOf(config, env),
          roleArn: config.roleArn,
          roleSessionName: config.roleSessionName,
          ...(config.externalId !== undefined ? { externalId: config.externalId } : {}),
          ...sessionOptions(config),
          ...stsOptions(config, env),
        }));
      case 'oidc_role_arn':
        return oidcCredential(config, env);
      case 'ecs_ram_role':
        return new Credential(new CredentialConfig({ type: 'ecs_ram_role', roleName: config.roleName }));
      case 'credentials_uri': {
        const credentialsURI = config.credentialsUri ?? env.ALIBABA_CLOUD_CREDENTIALS_URI;
        if (!credentialsURI) throw new Error('credentials_uri is needed (or ALIBABA_CLOUD_CREDENTIALS_URI)');
        return new Credential(new CredentialConfig({ type: 'credentials_uri', credentialsURI }));
      }
    }
  } catch (err) {
    throw new PldnsError('PL_CREDENTIALS', `credentials (${config.type}): ${(err as Error).message}`, { cause: err, details: { type: config.type } });
  }
}

export interface CredentialProviderOptions {
  logger?: Logger;
  /** Test seam: how a Credential is built (defaults to buildCredential). */
  build?: (config: CredentialsConfig) => Credential;
}

export class CredentialProvider {
  private current: Credential | undefined;
  private readonly build: (config: CredentialsConfig) => Credential;

  constructor(private readonly config: CredentialsConfig, private readonly opts: CredentialProviderOptions = {}) {
    this.build = opts.build ?? buildCredential;
  }

  /** The current Credential, built on first use and again after `reset()`. */
  get(): Credential {
    this.current ??= this.build(this.config);
    return this.current;
  }

  /**
   * The current Credential, after checking that it yields an access key now (fetching STS or
   * instance-role tokens if needed). On failure the Credential is dropped and PL_CREDENTIALS thrown.
   */
  async ready(): Promise<Credential> {
    const credential = this.get();
    try {
      const model = await credential.getCredential();
      if (!model.accessKeyId || !model.accessKeySecret) throw new Error('the credential has no access key');
      return credential;
    } catch (err) {
      this.reset('credentials unavailable');
      if (isPldnsError(err)) throw err;
      throw new PldnsError('PL_CREDENTIALS', `credentials (${this.config.type}): ${(err as Error).message}`, {
        cause: err,
        details: { type: this.config.type },
      });
    }
  }

  /** Forget the current Credential, e.g. after the API rejected it; the next use builds a new one. */
  reset(reason: string): void {
    if (this.current === undefined) return;
    this.current = undefined;
    this.opts.logger?.info({ credentials: this.config.type, reason }, 'credentials will be rebuilt on the next call');
  }
}
