import ipaddr from 'ipaddr.js';

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "1.5h" → milliseconds; undefined when malformed. Plain "0" is zero. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const m = DURATION_RE.exec(trimmed);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_MS[m[2]]);
}

export interface HostPort {
  readonly host: string;     // literal IP (v6 without brackets) or a hostname
  readonly port: number;
  readonly family: 4 | 6 | 0; // 0: a hostname
}

/** "10.0.0.2:53", "[::1]:53", "10.0.0.2" (default port), "host.example:443". */
export function parseHostPort(text: string, defaultPort: number): HostPort | string {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return 'unclosed "[" in address';
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return 'expected ":port" after "]"';
    portText = rest === '' ? undefined : rest.slice(1);
    if (!ipaddr.IPv6.isValid(host)) return `"${host}" is not an IPv6 address`;
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) {
      if (!ipaddr.IPv6.isValid(s)) return `"${s}" is not a valid address (write IPv6 as "[addr]:port")`;
      host = s;
    } else if (colons === 1) {
      [host, portText] = s.split(':');
    } else {
      host = s;
    }
  }
  if (host === '') return 'empty host';
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return `"${portText}" is not a port number`;
    port = Number(portText);
    if (port < 0 || port > 65535) return `port ${port} is out of range`;
  }
  let family: 4 | 6 | 0 = 0;
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) family = 4;
  else if (ipaddr.IPv6.isValid(host)) family = 6;
  else if (!/^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9-_]{0,61}[a-zA-Z0-9_])?)*\.?$/.test(host)) {
    return `"${host}" is neither an IP address nor a hostname`;
  }
  return { host, port, family };
}

export function formatHostPort(hp: HostPort): string {
  return hp.family === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Same IP (compared normalized) and port; hostnames never compare equal. */
export function sameSocket(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.family !== b.family || a.family === 0) return false;
  try {
    return ipaddr.parse(a.host).toNormalizedString() === ipaddr.parse(b.host).toNormalizedString();
  } catch {
    return false;
  }
}

/** A peer this daemon sends to (primary, NOTIFY target): a concrete IP and port, or the problem. */
export function checkPeerAddress(hp: HostPort): string | undefined {
  if (hp.family === 0) return 'must be an IP address, not a hostname';
  if (ipaddr.parse(hp.host).range() === 'unspecified') return `${formatHostPort(hp)} is not a destination (0.0.0.0 and :: mean "any address")`;
  if (hp.port === 0) return 'port 0 is not a destination';
  return undefined;
}
