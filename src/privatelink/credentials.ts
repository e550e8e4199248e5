/**
 * Alibaba Cloud credentials for the PrivateLink client, rebuilt after failures.
 *
 * Why rebuild: the default chain decides which providers exist when it is constructed (env vars,
 * profile files) and, once one has been tried, sticks to the last provider it tried. A daemon that
 * booted before its credentials were installed would otherwise fail forever. So a failure drops
 * the Credential object and the next sync starts from a fresh one.
 */
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import { PldnsError, isPldnsError } from '../errors';
import type { CredentialsConfig } from '../config/schema';
import type { Logger } from '../log';

/** Builds the @alicloud/credentials object for one config; throws PL_CREDENTIALS if it cannot. */
export function buildCredential(config: CredentialsConfig): Credential {
  try {
    switch (config.type) {
      case 'default':
        // No config: the library's default chain (env, OIDC, CLI profile, INI file, ECS RAM role, URI).
        return new Credential();
      case 'access_key':
        return new Credential(new CredentialConfig({
          type: config.securityToken ? 'sts' : 'access_key',
          accessKeyId: config.accessKeyId,
          accessKeySecret: config.accessKeySecret,
          securityToken: config.securityToken,
        }));
      case 'ram_role_arn':
        return new Credential(new CredentialConfig({
          type: 'ram_role_arn',
          accessKeyId: config.accessKeyId,
          accessKeySecret: config.accessKeySecret,
          roleArn: config.roleArn,
          roleSessionName: config.roleSessionName,
        }));
      case 'ecs_ram_role':
        return new Credential(new CredentialConfig({ type: 'ecs_ram_role', roleName: config.roleName }));
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
