import { isAbsolute, resolve } from 'node:path';
import { isObject, join, type ConfigReader } from './reader';
import type { AccessKeyConfig, CredentialsConfig, SessionConfig, StsConfig } from './schema';

const PATH = 'privatelink.credentials';
const TYPES = ['default', 'access_key', 'ram_role_arn', 'oidc_role_arn', 'ecs_ram_role', 'credentials_uri'] as const;
const STS_HOST_RE = /^[a-z0-9.-]+(:\d{1,5})?$/i;

/**
 * `privatelink.credentials`: "default" or a mapping with a `type` (docs/configuration.md). A
 * relative `*_file` path with a "/" is made absolute against `baseDir` (the config file's
 * directory, as for ca_file); a bare name stays a systemd credential name ($CREDENTIALS_DIRECTORY).
 */
export function readCredentials(r: ConfigReader, raw: unknown, baseDir: string = process.cwd()): CredentialsConfig {
  if (raw === undefined || raw === null || raw === 'default') return { type: 'default' };
  if (!isObject(raw)) {
    r.report(PATH, 'must be "default" or a mapping with a "type"');
    return { type: 'default' };
  }
  const c = r.section(raw, PATH, [
    'type', 'access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'security_token', 'security_token_file',
    'role_arn', 'role_session_name', 'role_name', 'oidc_provider_arn', 'oidc_token_file', 'sts_endpoint', 'sts_region', 'sts_vpc',
    'external_id', 'session_duration', 'policy', 'credentials_uri',
  ]);
  const type = r.oneOf(c, 'type', PATH, 'default', TYPES);
  if (c.type === undefined) r.report(join(PATH, 'type'), 'is required');
  const allowed: Record<(typeof TYPES)[number], string[]> = {
    default: [],
    access_key: ['access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'security_token', 'security_token_file'],
    ram_role_arn: [
      'access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'role_arn', 'role_session_name', 'sts_endpoint', 'sts_region', 'sts_vpc',
      'external_id', 'session_duration', 'policy',
    ],
    oidc_role_arn: ['role_arn', 'oidc_provider_arn', 'oidc_token_file', 'role_session_name', 'sts_endpoint', 'sts_region', 'sts_vpc', 'session_duration', 'policy'],
    ecs_ram_role: ['role_name'],
    credentials_uri: ['credentials_uri'],
  };
  for (const key of Object.keys(c)) {
    if (key !== 'type' && !allowed[type].includes(key)) r.report(join(PATH, key), `does not apply to type ${type}`);
  }
  const secret = (key: string, required: boolean): { value?: string; file?: string } => {
    const value = r.optionalString(c, key, PATH);
    const named = r.optionalString(c, `${key}_file`, PATH);
    const file = named !== undefined && !isAbsolute(named) && named.includes('/') ? resolve(baseDir, named) : named;
    if (value !== undefined && file !== undefined) r.report(join(PATH, key), `give ${key} or ${key}_file, not both`);
    if (required && value === undefined && file === undefined) r.report(join(PATH, key), `is required for type ${type} (or ${key}_file)`);
    return { ...(value !== undefined ? { value } : {}), ...(file !== undefined ? { file } : {}) };
  };
  const accessKey = (): AccessKeyConfig => {
    const id = secret('access_key_id', true);
    const sec = secret('access_key_secret', true);
    return {
      accessKeyId: id.file ? '' : id.value ?? '',
      accessKeySecret: sec.file ? '' : sec.value ?? '',
      ...(id.file ? { accessKeyIdFile: id.file } : {}),
      ...(sec.file ? { accessKeySecretFile: sec.file } : {}),
    };
  };
  const need = (key: string): string => {
    const v = r.optionalString(c, key, PATH);
    if (v === undefined) r.report(join(PATH, key), `is required for type ${type}`);
    return v ?? '';
  };
  const externalId = (): { externalId?: string } => {
    const v = r.optionalString(c, 'external_id', PATH);
    return v === undefined ? {} : { externalId: v };
  };
  const sts = (): StsConfig => {
    const stsEndpoint = r.optionalString(c, 'sts_endpoint', PATH);
    if (stsEndpoint !== undefined && !STS_HOST_RE.test(stsEndpoint)) r.report(join(PATH, 'sts_endpoint'), 'must be host[:port] without a scheme');
    const stsRegion = r.optionalString(c, 'sts_region', PATH);
    const out: { stsEndpoint?: string; stsRegion?: string; stsVpc?: boolean } = {};
    if (stsEndpoint) out.stsEndpoint = stsEndpoint;
    if (stsRegion) out.stsRegion = stsRegion;
    if (c.sts_vpc !== undefined) out.stsVpc = r.boolean(c, 'sts_vpc', PATH, false);
    return out;
  };
  const sessionName = (): string => r.optionalString(c, 'role_session_name', PATH) ?? 'privatelink-dns';
  const session = (): SessionConfig => {
    const out: { sessionDurationS?: number; policy?: string } = {};
    // STS accepts 15 minutes up to the role's maximum session duration (at most 12 hours).
    if (c.session_duration !== undefined) out.sessionDurationS = Math.round(r.durationMs(c, 'session_duration', PATH, 3_600_000, 900_000, 43_200_000) / 1000);
    const policy = r.optionalString(c, 'policy', PATH);
    if (policy !== undefined) {
      try {
        const doc: unknown = JSON.parse(policy);
        if (!isObject(doc) || !Array.isArray(doc.Statement)) r.report(join(PATH, 'policy'), 'must be a RAM policy document (JSON with "Statement")');
      } catch {
        r.report(join(PATH, 'policy'), 'must be JSON text (a RAM policy document)');
      }
      out.policy = policy;
    }
    return out;
  };
  switch (type) {
    case 'access_key': {
      const token = secret('security_token', false);
      return {
        type,
        ...accessKey(),
        ...(token.file ? { securityTokenFile: token.file } : token.value ? { securityToken: token.value } : {}),
      };
    }
    case 'ram_role_arn':
      return {
        type,
        ...accessKey(),
        roleArn: need('role_arn'),
        roleSessionName: sessionName(),
        ...externalId(),
        ...session(),
        ...sts(),
      };
    case 'oidc_role_arn': {
      const out: { roleArn?: string; oidcProviderArn?: string; oidcTokenFile?: string } = {};
      const roleArn = r.optionalString(c, 'role_arn', PATH);
      const oidcProviderArn = r.optionalString(c, 'oidc_provider_arn', PATH);
      const oidcTokenFile = r.optionalString(c, 'oidc_token_file', PATH);
      if (roleArn) out.roleArn = roleArn;
      if (oidcProviderArn) out.oidcProviderArn = oidcProviderArn;
      if (oidcTokenFile) out.oidcTokenFile = oidcTokenFile;
      return { type, ...out, roleSessionName: sessionName(), ...session(), ...sts() };
    }
    case 'credentials_uri': {
      const uri = r.optionalString(c, 'credentials_uri', PATH);
      if (uri !== undefined && !/^https?:\/\/[^/\s]+/i.test(uri)) r.report(join(PATH, 'credentials_uri'), 'must be an http:// or https:// URL');
      return uri ? { type, credentialsUri: uri } : { type };
    }
    case 'ecs_ram_role': {
      const roleName = r.optionalString(c, 'role_name', PATH);
      return roleName ? { type, roleName } : { type };
    }
    default:
      return { type: 'default' };
  }
}
