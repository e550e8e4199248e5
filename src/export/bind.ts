import { NO_ADDRESS_TEXT, hasAddresses, headerLines, isAtOrBelow, type AddressSet, type ExportModel, type ExportOptions } from './model';

/** The fragment that declares every zone; `include` it from named.conf. */
export const BIND_CONF_FILE = 'named.conf';

/** One file of a BIND export: a name inside the output directory and its text. */
export interface BindFile {
  readonly name: string;
  readonly text: string;
}

/**
 * BIND configuration as files, never one stream: a zone file per managed apex (`<apex>.zone`)
 * and a named.conf fragment declaring each with its absolute path. Concatenated zones (the old
 * shape) let `named-checkzone` load the first zone and skip the rest as "ignoring out-of-zone
 * data" with exit 0; here each file holds exactly one zone and the fragment says which.
 *
 * An apex is a managed exact name or wildcard base that is not below another one; names below
 * an apex are records in its zone. Making each managed name a zone of its own keeps BIND from
 * ever forwarding it, whatever the type. The price: names below an exact managed name get
 * NXDOMAIN (privatelink-dns would forward them), and for a wildcard `*.x` without an exact x,
 * x itself gets NODATA instead of being forwarded.
 *
 * `dir` is where the files will be written (absolute): the fragment names the zone files by it.
 * The fragment comes last in the list so a writer going in order never declares a missing file.
 */
export function renderBindFiles(model: ExportModel, opts: ExportOptions, dir: string): BindFile[] {
  const zones = groupByApex(model);
  // Seconds since the epoch: a later export always has a higher serial (until 2106).
  const serial = Math.floor((opts.generatedAt ?? new Date()).getTime() / 1000) >>> 0;
  const files: BindFile[] = [];
  const declarations: string[] = [];
  for (const [apex, members] of zones) {
    const name = zoneFileName(apex);
    const out = headerLines(';', 'bind', model, opts, [`Zone ${apex}, declared in ${BIND_CONF_FILE} of this directory.`]);
    out.push(`$ORIGIN ${apex}.`, `$TTL ${opts.ttl}`);
    out.push(`@\tIN\tSOA\tlocalhost. hostmaster.invalid. ( ${serial} 3600 600 86400 ${opts.ttl} )`);
    out.push('@\tIN\tNS\tlocalhost.');
    for (const m of members) {
      const owner = relative(m.name, apex);
      out.push(...records(m.wildcard ? (owner === '@' ? '*' : `*.${owner}`) : owner, m.addrs, m.wildcard || owner !== '@'));
    }
    files.push({ name, text: `${out.join('\n')}\n` });
    declarations.push(`zone "${apex}" { type primary; file "${dir}/${name}"; };`);
  }
  const notes = [
    `${zones.size} zone(s), one file each in ${dir}. Add to named.conf:`,
    `  include "${dir}/${BIND_CONF_FILE}";`,
    'The zones are authoritative on your resolver, so managed names are never forwarded; types',
    'without data get NODATA with this SOA. Names below an exact managed name get NXDOMAIN here',
    '(privatelink-dns would forward them); for a wildcard *.x with no exact x, x itself gets NODATA.',
    'Check with `named-checkconf -z`, then `rndc reconfig` (new or removed zones) or `rndc reload`.',
  ];
  const conf = headerLines('//', 'bind', model, opts, notes);
  files.push({ name: BIND_CONF_FILE, text: `${[...conf, ...declarations].join('\n')}\n` });
  return files;
}

/** A zone's file name: the apex itself when it is plain hostname text (it always is after validation). */
function zoneFileName(apex: string): string {
  return `${apex.replace(/[^a-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}.zone`;
}

interface Member {
  readonly name: string;
  readonly wildcard: boolean;
  readonly addrs: AddressSet;
}

function groupByApex(model: ExportModel): Map<string, Member[]> {
  const members: Member[] = [
    ...[...model.exact].map(([name, addrs]) => ({ name, wildcard: false, addrs })),
    ...[...model.wildcards].map(([name, addrs]) => ({ name, wildcard: true, addrs })),
  ];
  const bases = [...new Set(members.map((m) => m.name))];
  const apexes = bases.filter((b) => !bases.some((other) => other !== b && isAtOrBelow(b, other)));
  const zones = new Map<string, Member[]>(apexes.map((a) => [a, []]));
  for (const m of members) {
    const apex = apexes.find((a) => isAtOrBelow(m.name, a));
    zones.get(apex as string)?.push(m);
  }
  return zones;
}

function relative(name: string, apex: string): string {
  return name === apex ? '@' : name.slice(0, name.length - apex.length - 1);
}

/** `needsExistence`: a name other than the apex must own a record to exist (and get NODATA). */
function records(owner: string, addrs: AddressSet, needsExistence: boolean): string[] {
  if (!hasAddresses(addrs)) return needsExistence ? [`${owner}\tIN\tTXT\t"${NO_ADDRESS_TEXT}"`] : [];
  return [...addrs.ipv4.map((ip) => `${owner}\tIN\tA\t${ip}`), ...addrs.ipv6.map((ip) => `${owner}\tIN\tAAAA\t${ip}`)];
}
