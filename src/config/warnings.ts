import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import { formatHostPort } from './units';
import type { Config } from './schema';

/** A setting that is valid but almost certainly not what the operator meant. */
export interface ConfigWarning {
  readonly setting: string;
  readonly message: string;
}

/** What the warnings look at outside the config: this host's addresses and the file system. */
export interface WarningEnvironment {
  /** Addresses of this host's interfaces (loopback included). */
  localAddresses(): readonly string[];
  /** Why `dir` cannot hold the state (missing, not a directory, not writable), or undefined. */
  stateDirProblem(dir: string): string | undefined;
}

export const hostEnvironment: WarningEnvironment = {
  localAddresses: () => Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)),
  stateDirProblem: (dir) => {
    // A missing directory is created at the first write (mkdir -p), so only one that cannot be is a problem.
    let existing = dir;
    let missing = false;
    for (let i = 0; i < 64 && !existsSync(existing); i++) {
      missing = true;
      existing = dirname(existing);
    }
    try {
      if (!statSync(existing).isDirectory()) return missing ? `cannot be created: ${existing} is not a directory` : 'is not a directory';
      accessSync(existing, constants.W_OK | constants.X_OK);
      // Permission bits say nothing on a read-only mount or a pseudo file system such as /sys,
      // where even root gets EPERM at the first write: try one, and remove it at once.
      const probe = join(existing, `.privatelink-dns-check-${process.pid}-${randomBytes(4).toString('hex')}`);
      writeFileSync(probe, '');
      unlinkSync(probe);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const why = missing ? `does not exist and cannot be created by this user (${existing}: ${code})` : `is not writable by this user (${code})`;
      return `${why}: no snapshot is written, restarts begin with an empty table (StateDirectory= under systemd)`;
    }
  },
};

/** Printed by `check` (which still exits 0) and logged at start and on reload. */
export function configWarnings(config: Config, env: WarningEnvironment = hostEnvironment): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  if (config.access.allow.length === 0) {
    const message = 'empty: every client is refused, loopback included (list the client networks, or 0.0.0.0/0 and ::/0 for everyone)';
    out.push({ setting: 'access.allow', message });
  }
  const hosts = config.listen.dns.map((a) => a.host);
  if (hosts.includes('::') && !hosts.includes('0.0.0.0')) {
    out.push({ setting: 'listen.dns', message: '[::] listens on IPv6 only; add 0.0.0.0 for IPv4 clients' });
  }
  const allow = parseCidrs(config.access.allow);
  config.listen.dns.forEach((hp, i) => {
    const ip = parseIp(hp.host);
    if (!ip || ip.range() === 'unspecified' || allow.length === 0) return;
    if (!allow.some((cidr) => inCidr(ip, cidr))) {
      out.push({ setting: `listen.dns[${i}]`, message: `${formatHostPort(hp)} is outside access.allow: clients on its own network are refused (fine only if every client is routed from an allowed network)` });
    }
  });
  out.push(...upstreamWarnings(config, env));
  const leased = leasedLineWarning(config);
  if (leased) out.push(leased);
  if (config.stateDir !== null) {
    const problem = env.stateDirProblem(config.stateDir);
    if (problem) out.push({ setting: 'state_dir', message: `${config.stateDir} ${problem}` });
  }
  return out;
}

/**
 * STS over the VPC says "this node reaches the cloud over the leased line"; the API on its public
 * host without `connect_to` then fails every sync with PL_NETWORK on such a node.
 */
function leasedLineWarning(config: Config): ConfigWarning | undefined {
  if (config.source !== 'privatelink') return undefined;
  const c = config.privatelink.credentials;
  if (c.type !== 'ram_role_arn' && c.type !== 'oidc_role_arn') return undefined;
  const stsOverVpc = c.stsEndpoint !== undefined ? c.stsEndpoint.startsWith('sts-vpc.') : c.stsVpc === true;
  if (!stsOverVpc || config.privatelink.connectTo !== null) return undefined;
  const host = config.privatelink.endpoint.replace(/:\d+$/, '').toLowerCase();
  if (!/^privatelink\.[a-z0-9-]+\.aliyuncs\.com$/.test(host)) return undefined;
  return {
    setting: 'privatelink.endpoint',
    message: `${host} is the API's public host while STS goes over the VPC (sts-vpc): a node with only the leased line reaches STS but not the API. ` +
      `Use the API's VPC host (privatelink-vpc.${config.region}.aliyuncs.com) or connect_to an endpoint of the API (docs/deployment.md#reaching-the-api-over-the-leased-line)`,
  };
}

function upstreamWarnings(config: Config, env: WarningEnvironment): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const wildcards = config.listen.dns.filter((hp) => parseIp(hp.host)?.range() === 'unspecified');
  let local: Set<string> | undefined;
  config.upstream.servers.forEach((s, i) => {
    const ip = parseIp(s.host);
    if (!ip) return;
    const setting = `upstream.servers[${i}]`;
    if (ip.range() === 'unspecified') {
      out.push({ setting, message: `${formatHostPort(s)} means "any address", which the kernel sends to this host: name the resolver's address` });
      return;
    }
    local ??= new Set(env.localAddresses().flatMap((a) => normalized(a) ?? []));
    const isLocal = ip.range() === 'loopback' || local.has(ip.toNormalizedString());
    // 0.0.0.0 covers IPv4 addresses only; [::] usually takes both families (bindv6only=0).
    const loop = wildcards.find((w) => w.port === s.port && (w.family === 6 || ip.kind() === 'ipv4'));
    if (isLocal && loop) {
      const message = `${formatHostPort(s)} is a local address on the port of the wildcard listener ${formatHostPort(loop)}: queries would come back to this daemon (forwarding loop), or the listener cannot bind`;
      out.push({ setting, message });
    }
  });
  return out;
}

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

function parseIp(host: string): Ip | undefined {
  if (!ipaddr.isValid(host)) return undefined;
  const ip = ipaddr.parse(host);
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

function normalized(host: string): string | undefined {
  return parseIp(host.replace(/%.*$/, ''))?.toNormalizedString();
}

function parseCidrs(list: readonly string[]): [Ip, number][] {
  return list.flatMap((c) => {
    try {
      return [ipaddr.parseCIDR(c)];
    } catch {
      return [];
    }
  });
}

function inCidr(ip: Ip, [net, bits]: [Ip, number]): boolean {
  return ip.kind() === net.kind() && ip.match(net as never, bits);
}

/** Each warning as one warn line (at start and after every reload). */
export function logConfigWarnings(logger: { warn(fields: Record<string, unknown>, msg: string): void }, config: Config): void {
  for (const w of configWarnings(config)) logger.warn({ setting: w.setting }, `config: ${w.setting} ${w.message}`);
}
