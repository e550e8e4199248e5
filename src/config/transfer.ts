import ipaddr from 'ipaddr.js';
import { join, type ConfigReader, type Obj } from './reader';
import { checkDnsName, normalizeName } from './names';
import { checkPeerAddress, parseHostPort } from './units';
import { readTsigKey, type SecretFiles } from './tsig-key';
import { DEFAULTS, type NotifyTarget, type SoaTimersConfig, type TransferConfig, type TsigKeyConfig } from './schema';

const KEY_PREFIX = 'key:';

/**
 * The `transfer` section: publish the table as an RPZ. `republishing` is set on an edge (with `primaries`),
 * which passes the zone it received on unchanged, so it has no SOA timers of its own.
 */
export function readTransfer(r: ConfigReader, raw: unknown, files: SecretFiles, republishing: boolean): TransferConfig | null {
  if (raw === undefined) return null;
  if (raw === null) {
    r.report('transfer', 'must be a mapping (remove the key to publish nothing)');
    return null;
  }
  const t = r.section(raw, 'transfer', ['zone', 'allow', 'keys', 'notify', 'journal', 'soa']);
  const zone = readZone(r, t, 'transfer');

  const keys: TsigKeyConfig[] = [];
  if (t.keys !== undefined && t.keys !== null && !Array.isArray(t.keys)) r.report('transfer.keys', 'must be a list');
  const seen = new Map<string, number>();
  (Array.isArray(t.keys) ? t.keys : []).forEach((item: unknown, i: number) => {
    const key = readTsigKey(r, item, `transfer.keys[${i}]`, files);
    if (!key) return;
    const first = seen.get(key.name);
    if (first !== undefined) r.report(`transfer.keys[${i}].name`, `"${key.name}" is already defined in transfer.keys[${first}]`);
    else seen.set(key.name, i);
    keys.push(key);
  });
  // Names of keys that were given, valid or not, so a bad secret does not also read as "unknown key".
  const keyNames = new Set(Array.isArray(t.keys) ? t.keys.map((k) => (isNamed(k) ? normalizeName(k.name) : '')) : []);

  const networks: string[] = [];
  const allowKeys: string[] = [];
  const allow = r.stringList(t, 'allow', 'transfer', [], false);
  if (t.allow === undefined || t.allow === null) r.report('transfer.allow', 'is required: CIDRs and key:NAME entries that may transfer the zone');
  allow.forEach((entry, i) => {
    const p = `transfer.allow[${i}]`;
    if (entry.startsWith(KEY_PREFIX)) {
      const name = normalizeName(entry.slice(KEY_PREFIX.length));
      if (!keyNames.has(name)) r.report(p, `key "${name}" is not defined in transfer.keys`);
      else if (!allowKeys.includes(name)) allowKeys.push(name);
      return;
    }
    const cidr = parseNetwork(entry);
    if (cidr === undefined) r.report(p, `"${entry}" is neither a CIDR such as "10.0.0.0/8" nor "key:NAME"`);
    else networks.push(cidr);
  });

  const notify = readNotify(r, t, keys, keyNames);

  const journalMaxChanges = r.integer(t, 'journal', 'transfer', DEFAULTS.transferJournalMaxChanges, 0, 100_000);
  let soa: SoaTimersConfig | null = null;
  if (republishing) {
    if (t.soa !== undefined) r.report('transfer.soa', "is not used with primaries: the primaries' SOA is passed on unchanged");
  } else soa = readSoa(r, t.soa);
  return { zone, allow: { networks, keys: allowKeys }, keys, notify, journalMaxChanges, soa };
}

/**
 * `transfer.notify`: "ADDRESS" or "ADDRESS key:NAME". A target with a key gets its NOTIFYs signed
 * with that key of `transfer.keys` (one key per group of secondaries); others with the first key.
 */
function readNotify(r: ConfigReader, t: Obj, keys: readonly TsigKeyConfig[], keyNames: ReadonlySet<string>): NotifyTarget[] {
  const out: NotifyTarget[] = [];
  r.stringList(t, 'notify', 'transfer', [], true).forEach((entry, i) => {
    const p = `transfer.notify[${i}]`;
    const [address = '', keyPart, ...rest] = entry.trim().split(/\s+/);
    if (rest.length > 0 || (keyPart !== undefined && !keyPart.startsWith(KEY_PREFIX))) {
      r.report(p, `"${entry}" is neither "ADDRESS" nor "ADDRESS key:NAME"`);
      return;
    }
    const hp = parseHostPort(address, 53);
    const problem = typeof hp === 'string' ? hp : checkPeerAddress(hp);
    if (problem !== undefined || typeof hp === 'string') {
      r.report(p, problem ?? 'is not an address');
      return;
    }
    if (keyPart === undefined) {
      out.push(hp);
      return;
    }
    const name = normalizeName(keyPart.slice(KEY_PREFIX.length));
    const key = keys.find((k) => k.name === name);
    if (key) out.push({ ...hp, key });
    else if (!keyNames.has(name)) r.report(p, `key "${name}" is not defined in transfer.keys`);
  });
  return out;
}

/** `zone`: a DNS name, lower case, no trailing dot. */
export function readZone(r: ConfigReader, obj: Obj, path: string): string {
  return normalizeName(r.string(obj, 'zone', path, DEFAULTS.fleetZone, (s) => checkDnsName(normalizeName(s))));
}

function readSoa(r: ConfigReader, raw: unknown): SoaTimersConfig {
  const s = r.section(raw, 'transfer.soa', ['refresh', 'retry', 'expire', 'minimum']);
  const seconds = (key: string, defaultS: number, minS: number, maxS: number): number => {
    const ms = r.durationMs(s, key, 'transfer.soa', defaultS * 1000, minS * 1000, maxS * 1000);
    if (ms % 1000 === 0) return ms / 1000;
    r.report(join('transfer.soa', key), 'must be whole seconds (the SOA record counts seconds)');
    return defaultS;
  };
  const timers = {
    refreshS: seconds('refresh', DEFAULTS.soaRefreshS, 1, 86_400),
    retryS: seconds('retry', DEFAULTS.soaRetryS, 1, 86_400),
    expireS: seconds('expire', DEFAULTS.soaExpireS, 60, 30 * 86_400),
    minimumS: seconds('minimum', DEFAULTS.soaMinimumS, 0, 86_400),
  };
  // RFC 1912 2.2: a secondary that expires before it has retried drops a zone it could have kept.
  if (timers.expireS <= timers.refreshS + timers.retryS) r.report('transfer.soa.expire', 'must be longer than refresh + retry');
  return timers;
}

/** A CIDR or a bare address, as "address/prefix" in canonical form; undefined when neither. */
function parseNetwork(text: string): string | undefined {
  try {
    const [addr, len] = ipaddr.parseCIDR(text);
    return `${addr.toString()}/${len}`;
  } catch {
    if (ipaddr.IPv4.isValidFourPartDecimal(text)) return `${text}/32`;
    if (ipaddr.IPv6.isValid(text)) return `${ipaddr.IPv6.parse(text).toString()}/128`;
    return undefined;
  }
}

function isNamed(v: unknown): v is { name: string } {
  return typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string';
}
