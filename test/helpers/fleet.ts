import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from './daemon';
import { answerFor, startResponder, type Responder } from './hardening';
import { endpoint, startSimulatorProcess, zone, type SimData, type SimulatorProcess } from './simulator-process';

/**
 * A fleet on loopback: the simulator, an "upstream" that answers every other name, one hub that
 * syncs from the simulator and publishes privatelink.rpz, and edges with no privatelink section
 * and no credentials that take the zone from the hub. Every process is the real CLI.
 */

/** The key the fleet signs with: 32 random bytes (hmac-sha256's output size, as tsig-keygen makes), base64. */
export const FLEET_SECRET = randomBytes(32).toString('base64');
/** Another valid key of the same shape, for "wrong key" cases. */
export const WRONG_SECRET = randomBytes(32).toString('base64');
export const UPSTREAM_IP = '192.0.2.77';
export const MANAGED = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';
/** What the test edges manage (primaries.managed): the hub's names and its endpoints' domains. */
export const EDGE_MANAGED: readonly string[] = ['cs-anony-vpc.{region}.aliyuncs.com', 'registry-{region}-vpc.ack.aliyuncs.com', '{region}.privatelink.aliyuncs.com'];

export function fleetData(ipK = '10.10.0.2', ipJ = '10.10.0.1'): SimData {
  return {
    endpoints: [endpoint('ep-bp1fleet000000000001', [zone('ep-bp1fleet000000000001', 'cn-hangzhou-j', ipJ), zone('ep-bp1fleet000000000001', 'cn-hangzhou-k', ipK)])],
  };
}

/** Answers any A query with UPSTREAM_IP: the data center's resolver, for forwarded names. */
export function startUpstream(): Promise<Responder> {
  return startResponder((q, send) => send(answerFor(q, UPSTREAM_IP)), 0, { tcp: true });
}

export interface HubOptions {
  /** Where the hub syncs from; without it the hub publishes only `staticEntries` (no privatelink section). */
  readonly sim?: SimulatorProcess;
  readonly upstreamPort: number;
  readonly dnsPort?: number;
  readonly notify?: readonly number[];
  readonly allow?: readonly string[];
  readonly refresh?: string;
  readonly stateDir?: string;
  /** records.entries; default MANAGED for ep-bp1fleet000000000001. */
  readonly entries?: readonly { readonly names: readonly string[]; readonly endpoint: string }[];
  /** records.entries lines (4-space indented YAML items) in place of `entries`. */
  readonly staticEntries?: readonly string[];
  /** transfer.zone; default privatelink.rpz. */
  readonly zone?: string;
  /** Extra lines under `limits:` (two-space indented keys). */
  readonly limits?: readonly string[];
}

/** The one hub config of the fleet tests: syncing from the simulator, or publishing static entries. */
export function hubYaml(o: HubOptions): string {
  const privatelink = o.sim
    ? `privatelink:
  endpoint: ${o.sim.endpoint}
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "${o.refresh ?? '*/1 * * * * *'}"
  jitter: 0s
  timeout: 3s
`
    : '';
  const entries = o.staticEntries ?? (o.entries ?? [{ names: [MANAGED], endpoint: 'ep-bp1fleet000000000001' }]).map((e) => `    - { names: ${JSON.stringify(e.names)}, endpoint: ${e.endpoint} }`);
  const limits = o.limits && o.limits.length > 0 ? `limits:\n${o.limits.map((l) => `  ${l}`).join('\n')}\n` : '';
  return `region: cn-hangzhou
listen:
  dns: ["127.0.0.1:${o.dnsPort ?? 0}"]
  http: "127.0.0.1:0"
access:
  allow: ["127.0.0.0/8"]
  rate_limit: null
upstream:
  servers: ["127.0.0.1:${o.upstreamPort}"]
${privatelink}records:
  ttl: 30
  entries:
${entries.join('\n')}
transfer:
  zone: ${o.zone ?? 'privatelink.rpz'}
  allow: ${JSON.stringify(o.allow ?? ['key:fleet', '127.0.0.1/32'])}
  keys:
    - { name: fleet, algorithm: hmac-sha256, secret: "${FLEET_SECRET}" }
  notify: ${JSON.stringify((o.notify ?? []).map((p) => `127.0.0.1:${p}`))}
${limits}state_dir: ${o.stateDir ?? mkdtempSync(join(tmpdir(), 'pldns-hub-'))}
log: { level: info }
`;
}

export interface EdgeOptions {
  readonly hubPorts: readonly number[];
  readonly upstreamPort: number;
  readonly dnsPort?: number;
  readonly zone?: string;
  readonly refresh?: string;
  readonly secret?: string;
  readonly stateDir?: string;
  /** primaries.managed; default EDGE_MANAGED. */
  readonly managed?: readonly string[];
}

export function edgeYaml(o: EdgeOptions): string {
  return `region: cn-hangzhou
listen:
  dns: ["127.0.0.1:${o.dnsPort ?? 0}"]
  http: "127.0.0.1:0"
access:
  allow: ["127.0.0.0/8"]
upstream:
  servers: ["127.0.0.1:${o.upstreamPort}"]
primaries:
  zone: ${o.zone ?? 'privatelink.rpz'}
  servers: ${JSON.stringify(o.hubPorts.map((p) => `127.0.0.1:${p}`))}
  key: { name: fleet, algorithm: hmac-sha256, secret: "${o.secret ?? FLEET_SECRET}" }
  refresh: ${o.refresh ?? '30s'}
  retry: 200ms
  timeout: 3s
  managed: ${JSON.stringify(o.managed ?? EDGE_MANAGED)}
state_dir: ${o.stateDir ?? mkdtempSync(join(tmpdir(), 'pldns-edge-'))}
log: { level: info }
`;
}

/** The environment of a process that must not find cloud credentials anywhere. */
export const NO_CREDENTIALS: Record<string, string> = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: '',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
  ALIBABA_CLOUD_SECURITY_TOKEN: '',
  ALIBABA_CLOUD_CREDENTIALS_FILE: '/nonexistent',
  ALIBABA_CLOUD_ROLE_ARN: '',
  ALIBABA_CLOUD_OIDC_PROVIDER_ARN: '',
  ALIBABA_CLOUD_OIDC_TOKEN_FILE: '',
};

export async function startEdge(o: EdgeOptions): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-edge-'));
  return startDaemon(edgeYaml({ stateDir: dir, ...o }), { dir, env: NO_CREDENTIALS });
}

export { startSimulatorProcess, writeFileSync };
