import { NO_ADDRESS_TEXT, hasAddresses, headerLines, sameAddresses, wildcardCovering, type AddressSet, type ExportModel, type ExportOptions } from './model';

/**
 * Unbound `server:` clause of local-zone and local-data.
 *
 * - An exact name gets a `transparent` zone: its own types come from local-data, other types
 *   are NODATA, and names below it are resolved normally - privatelink-dns's rule. Under a
 *   managed wildcard it gets `static` instead, so names below it are never forwarded.
 * - A wildcard `*.x` gets a `redirect` zone at x: x and everything below answer x's data.
 *   Unbound has no "below x only" zone type, so x itself is answered too.
 * - A name without a usable address holds only a TXT record: A and AAAA get NODATA, not the
 *   public answer.
 */
export function renderUnbound(model: ExportModel, opts: ExportOptions): string {
  const notes = [
    'Include it from unbound.conf (include: "/etc/unbound/unbound.conf.d/privatelink-dns.conf")',
    'and run `unbound-control reload` (or restart). It starts its own server: clause.',
    'Managed names are never forwarded: local-zone types transparent/static/redirect answer',
    'types without data with NODATA from Unbound itself.',
    'Unbound cannot express "names below x but not x": a wildcard *.x is a redirect zone, so x',
    'itself also answers with the wildcard addresses.',
  ];
  const out = headerLines('#', 'unbound', model, opts, notes);
  out.push('server:');
  const ttl = opts.ttl;
  const data = (name: string, addrs: AddressSet): string[] => {
    if (!hasAddresses(addrs)) return [`  local-data: '${name}. ${ttl} IN TXT "${NO_ADDRESS_TEXT}"'`];
    return [...addrs.ipv4.map((ip) => `  local-data: "${name}. ${ttl} IN A ${ip}"`), ...addrs.ipv6.map((ip) => `  local-data: "${name}. ${ttl} IN AAAA ${ip}"`)];
  };

  for (const [base, wild] of model.wildcards) {
    const own = model.exact.get(base);
    out.push(`  # *.${base}${own ? ` and ${base}` : ''}`);
    if (hasAddresses(wild) || !own || !hasAddresses(own)) {
      out.push(`  local-zone: "${base}." redirect`);
      out.push(...data(base, wild));
      if (own && !sameAddresses(own, wild)) out.push(`  # note: ${base} has addresses of its own, but a redirect zone answers it with the wildcard's`);
    } else {
      // The wildcard has nothing to give: keep the exact name's answer, NXDOMAIN below it.
      out.push(`  local-zone: "${base}." static`);
      out.push(...data(base, own));
      out.push(`  # names below ${base}: *.${base} has no usable address, so they get NXDOMAIN`);
    }
    out.push('');
  }

  for (const [name, addrs] of model.exact) {
    if (model.wildcards.has(name)) continue; // written with its wildcard above
    const covered = wildcardCovering(model, name) !== undefined;
    out.push(`  # ${name}`);
    out.push(`  local-zone: "${name}." ${covered ? 'static' : 'transparent'}`);
    out.push(...data(name, addrs));
    out.push('');
  }
  return out.join('\n');
}
