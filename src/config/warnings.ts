import type { Config } from './schema';

/** A setting that is valid but almost certainly not what the operator meant. */
export interface ConfigWarning {
  readonly setting: string;
  readonly message: string;
}

/** Printed by `check` (which still exits 0) and logged at start and on reload. */
export function configWarnings(config: Config): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  if (config.access.allow.length === 0) {
    const message = 'empty: every client is refused, loopback included (list the client networks, or 0.0.0.0/0 and ::/0 for everyone)';
    out.push({ setting: 'access.allow', message });
  }
  const hosts = config.listen.dns.map((a) => a.host);
  if (hosts.includes('::') && !hosts.includes('0.0.0.0')) {
    out.push({ setting: 'listen.dns', message: '[::] listens on IPv6 only; add 0.0.0.0 for IPv4 clients' });
  }
  return out;
}
