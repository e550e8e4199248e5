/**
 * Which STS host AssumeRole / AssumeRoleWithOIDC go to, and why.
 *
 * The rule: what the config file says wins over the environment; the environment fills only what
 * the file leaves out. The credentials library ranks the other way round in two places (it takes
 * ALIBABA_CLOUD_STS_ENDPOINT over a region it was given, and re-reads
 * ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED whenever `enableVpc` is false), so the host is decided here and
 * handed to the library as an explicit `stsEndpoint`, which it never overrides.
 */
import type { CredentialsConfig, StsConfig } from '../config/schema';

export type Env = Readonly<Record<string, string | undefined>>;

/** The library's host when nothing is set: the public one, which a leased-line-only node cannot reach. */
export const DEFAULT_STS_HOST = 'sts.aliyuncs.com';

export interface StsHost {
  /** host[:port], no scheme. */
  readonly host: string;
  /** Where each part came from, e.g. "config sts_region + sts_vpc" or "env ALIBABA_CLOUD_STS_ENDPOINT". */
  readonly source: string;
}

function envVpc(env: Env): boolean | undefined {
  const v = env.ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED;
  return v === undefined || v === '' ? undefined : v.toLowerCase() === 'true';
}

function hostFor(region: string | undefined, vpc: boolean): string {
  if (!region) return DEFAULT_STS_HOST;
  return vpc ? `sts-vpc.${region}.aliyuncs.com` : `sts.${region}.aliyuncs.com`;
}

/**
 * - `sts_endpoint` in the file: that host.
 * - `sts_region` or `sts_vpc` in the file: the host they build; the one the file leaves out is
 *   taken from ALIBABA_CLOUD_STS_REGION / ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED, and
 *   ALIBABA_CLOUD_STS_ENDPOINT is not used (the file has said which kind of host it wants).
 * - nothing in the file: ALIBABA_CLOUD_STS_ENDPOINT, else the region and VPC variables, else the
 *   library's public default.
 */
export function resolveStsHost(config: StsConfig, env: Env): StsHost {
  if (config.stsEndpoint) return { host: config.stsEndpoint, source: 'config sts_endpoint' };
  const fileSaysShape = config.stsRegion !== undefined || config.stsVpc !== undefined;
  const envEndpoint = env.ALIBABA_CLOUD_STS_ENDPOINT?.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  if (!fileSaysShape && envEndpoint) return { host: envEndpoint, source: 'env ALIBABA_CLOUD_STS_ENDPOINT' };

  const parts: string[] = [];
  let region = config.stsRegion;
  if (region !== undefined) parts.push('config sts_region');
  else if (env.ALIBABA_CLOUD_STS_REGION) {
    region = env.ALIBABA_CLOUD_STS_REGION;
    parts.push('env ALIBABA_CLOUD_STS_REGION');
  }
  let vpc = config.stsVpc;
  if (vpc !== undefined) parts.push(`config sts_vpc: ${vpc}`);
  else {
    vpc = envVpc(env);
    if (vpc !== undefined) parts.push(`env ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=${vpc}`);
  }
  const host = hostFor(region, vpc ?? false);
  if (parts.length === 0) return { host, source: 'default' };
  // A VPC switch without any region: the library, too, falls back to the public host.
  const note = region ? '' : ' (no STS region: public default)';
  return { host, source: `${parts.join(' + ')}${note}` };
}

/** The RRSA variables are all there and no AccessKey variable comes before them in the chain. */
export function rrsaFromEnv(env: Env): boolean {
  return !env.ALIBABA_CLOUD_ACCESS_KEY_ID && !!env.ALIBABA_CLOUD_ROLE_ARN && !!env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN && !!env.ALIBABA_CLOUD_OIDC_TOKEN_FILE;
}

/** The STS host this config's credential asks, and why; undefined for kinds that never call STS. */
export function stsHostFor(config: CredentialsConfig, env: Env): StsHost | undefined {
  if (config.type === 'ram_role_arn' || config.type === 'oidc_role_arn') return resolveStsHost(config, env);
  if (config.type === 'default' && rrsaFromEnv(env)) return resolveStsHost({}, env);
  return undefined;
}
