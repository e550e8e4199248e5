import { readFileSync } from 'node:fs';
import { validateConfig } from '../config/validate';
import type { Config } from '../config/schema';
import { PldnsError } from '../errors';
import { DEMO_ENTRIES, DEMO_REGION, DEMO_SIMULATOR_DATA, startSimulator, type RunningSimulator } from '../simulator';

export const DEMO_DNS = '127.0.0.1:5353';
export const DEMO_HTTP = '127.0.0.1:8053';
const DEMO_KEY = 'simulator';

/**
 * Upstreams for the demo: the machine's own resolvers from /etc/resolv.conf, except any that is
 * this daemon (it listens on 5353, resolv.conf servers are on 53, so only a literal match counts).
 */
export function systemResolvers(text: string, ownDns = DEMO_DNS): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1].split('%')[0];
    out.push(ip.includes(':') ? `[${ip}]:53` : `${ip}:53`);
  }
  return out.filter((s) => s !== ownDns);
}

/**
 * The embedded default: the simulator in process, demo endpoints for cn-hangzhou's ACK Edge names.
 * `listen` overrides the DNS and HTTP addresses (5353 is also mDNS's port, often taken).
 */
export async function startDemo(listen: { dns?: string; http?: string } = {}): Promise<{ config: Config; simulator: RunningSimulator }> {
  const dns = listen.dns ?? DEMO_DNS;
  const simulator = await startSimulator({ host: '127.0.0.1', port: 0, data: DEMO_SIMULATOR_DATA, accessKeyId: DEMO_KEY, accessKeySecret: DEMO_KEY });
  let resolvConf = '';
  try {
    resolvConf = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // No resolv.conf: forwarding answers REFUSED, managed names still work.
  }
  const raw = {
    region: DEMO_REGION,
    listen: { dns: [dns], http: listen.http ?? DEMO_HTTP },
    access: { allow: ['127.0.0.0/8', '::1/128'] },
    upstream: { servers: systemResolvers(resolvConf, dns), timeout: '2s' },
    privatelink: {
      endpoint: simulator.endpoint,
      protocol: 'http',
      credentials: { type: 'access_key', access_key_id: DEMO_KEY, access_key_secret: DEMO_KEY },
      refresh: '*/10 * * * * *',
      jitter: '1s',
    },
    // The simulated endpoints' IPs exist nowhere: probing them would only fail open and warn.
    records: { ttl: 30, prefer_zones: [], probe: false, entries: DEMO_ENTRIES.map((e) => ({ ...e, names: [...e.names] })) },
    state_dir: false,
    log: { level: 'info' },
  };
  const result = validateConfig(raw);
  if (!result.config) {
    await simulator.close();
    throw new PldnsError('CONFIG_INVALID', 'the built-in demo config is invalid', { details: { problems: result.problems } });
  }
  return { config: result.config, simulator };
}
