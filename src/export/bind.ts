import { NO_ADDRESS_TEXT, hasAddresses, headerLines, isAtOrBelow, type AddressSet, type ExportModel, type ExportOptions } from './model';

/** The line that starts each zone in the output; tools split on it. */
export const BIND_ZONE_MARKER = '; zone ';

/**
 * BIND zone files, one per managed apex, concatenated; each starts with a `; zone NAME`
 * line and is a complete zone file on its own (`$ORIGIN`, `$TTL`, SOA, NS).
 *
 * An apex is a managed exact name or wildcard base that is not below another one; names below
 * an apex are records in its zone. Making each managed name a zone of its own keeps BIND from
 * ever forwarding it, whatever the type. The price: names below an exact managed name get
 * NXDOMAIN (privatelink-dns would forward them), and for a wildcard `*.x` without an exact x,
 * x itself gets NODATA instead of being forwarded.
 */
export function renderBind(model: ExportModel, opts: ExportOptions): string {
  const zones = groupByApex(model);
  const notes = [
    `${zones.size} zone(s). Save each "; zone NAME" section as its own file and declare it in named.conf`,
    '(the line under each marker shows how). The zones are authoritative on your resolver, so',
    'managed names are never forwarded; types without data get NODATA with this SOA.',
    'Names below an exact managed name get NXDOMAIN here (privatelink-dns would forward them);',
    'for a wildcard *.x with no exact x, x itself gets NODATA.',
    'Reload with `rndc reload` after replacing the files.',
  ];
  const out = headerLines(';', 'bind', model, opts, notes);
  // Seconds since the epoch: a later export always has a higher serial (until 2106).
  const serial = Math.floor((opts.generatedAt ?? new Date()).getTime() / 1000) >>> 0;
  for (const [apex, members] of zones) {
    out.push(`${BIND_ZONE_MARKER}${apex}`);
    out.push(`; named.conf: zone "${apex}" { type primary; file "/etc/bind/privatelink-dns/${apex}.zone"; };`);
    out.push(`$ORIGIN ${apex}.`);
    out.push(`$TTL ${opts.ttl}`);
    out.push(`@\tIN\tSOA\tlocalhost. hostmaster.invalid. ( ${serial} 3600 600 86400 ${opts.ttl} )`);
    out.push('@\tIN\tNS\tlocalhost.');
    for (const m of members) {
      const owner = relative(m.name, apex);
      out.push(...records(m.wildcard ? (owner === '@' ? '*' : `*.${owner}`) : owner, m.addrs, m.wildcard || owner !== '@'));
    }
    out.push('');
  }
  return out.join('\n');
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
