import { isObject, join, type ConfigReader } from './reader';
import type { AccessKeyConfig, CredentialsConfig, StsConfig } from './schema';

const PATH = 'privatelink.credentials';
const TYPES = ['default', 'access_key', 'ram_role_arn', 'oidc_role_arn', 'ecs_ram_role'] as const;
const STS_HOST_RE = /^[a-z0-9.-]+(:\d{1,5})?$/i;

/** `privatelink.credentials`: "default" or a mapping with a `type` (docs/configuration.md). */
export function readCredentials(r: ConfigReader, raw: unknown): CredentialsConfig {
  if (raw === undefined || raw === null || raw === 'default') return { type: 'default' };
  if (!isObject(raw)) {
    r.report(PATH, 'must be "default" or a mapping with a "type"');
    return { type: 'default' };
  }
  const c = r.section(raw, PATH, [
    'type', 'access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'security_token', 'security_token_file',
    'role_arn', 'role_session_name', 'role_name', 'oidc_provider_arn', 'oidc_token_file', 'sts_endpoint', 'sts_region', 'sts_vpc',
  ]);
  const type = r.oneOf(c, 'type', PATH, 'default', TYPES);
  if (c.type === undefined) r.report(join(PATH, 'type'), 'is required');
  const allowed: Record<(typeof TYPES)[number], string[]> = {
    default: [],
    access_key: ['access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'security_token', 'security_token_file'],
    ram_role_arn: [
      'access_key_id', 'access_key_id_file', 'access_key_secret', 'access_key_secret_file', 'role_arn', 'role_session_name', 'sts_endpoint', 'sts_region', 'sts_vpc',
    ],
    oidc_role_arn: ['role_arn', 'oidc_provider_arn', 'oidc_token_file', 'role_session_name', 'sts_endpoint', 'sts_region', 'sts_vpc'],
    ecs_ram_role: ['role_name'],
  };
  for (const key of Object.keys(c)) {
    if (key !== 'type' && !allowed[type].includes(key)) r.report(join(PATH, key), `does not apply to type ${type}`);
  }
  const secret = (key: string, required: boolean): { value?: string; file?: string } => {
    const value = r.optionalString(c, key, PATH);
    const file = r.optionalString(c, `${key}_file`, PATH);
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
      return { type, ...out, roleSessionName: sessionName(), ...sts() };
    }
    case 'ecs_ram_role': {
      const roleName = r.optionalString(c, 'role_name', PATH);
      return roleName ? { type, roleName } : { type };
    }
    default:
      return { type: 'default' };
  }
}
