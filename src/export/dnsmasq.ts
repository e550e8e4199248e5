import { NO_ADDRESS_TEXT, hasAddresses, headerLines, wildcardForChildrenOf, type ExportModel, type ExportOptions } from './model';

/**
 * dnsmasq (2.86 or later) configuration.
 *
 * dnsmasq since 2.86 forwards every type that `address=` does not cover (AAAA of an
 * IPv4-only name, HTTPS, TXT...) upstream, where the public answer would leak the conflicting
 * 100.64/10 address. So every managed name is also declared `local=`, which makes dnsmasq
 * answer it itself: NODATA for what it does not hold, never a forward.
 *
 * `local=/n/` and `address=/n/` cover n and everything below it, and a more specific
 * non-wildcard pattern beats a wildcard one, so:
 * - an exact name uses `host-record=` (that name only, with a TTL) plus `local=/n/`; names below
 *   it get the addresses of the wildcard privatelink-dns would use for them, or NXDOMAIN when
 *   there is none (privatelink-dns would forward those; dnsmasq cannot scope `local=` to one name);
 * - a wildcard `*.x` without an exact `x` uses the `/*.x/` pattern, which matches names below x
 *   but not x itself - exactly privatelink-dns's rule.
 */
export function renderDnsmasq(model: ExportModel, opts: ExportOptions): string {
  const notes = [
    'Needs dnsmasq 2.86 or later. Put it in /etc/dnsmasq.d/ (or conf-file=) and restart dnsmasq:',
    'SIGHUP does not re-read configuration files.',
    'Managed names are never forwarded: every one is also declared local=, so types without',
    'data (AAAA of an IPv4-only name, TXT, HTTPS...) get NODATA from dnsmasq itself.',
    'Names below an exact managed name are answered here too (NXDOMAIN unless a wildcard',
    'covers them); privatelink-dns would forward those, dnsmasq cannot scope local= to one name.',
    `host-record= answers carry TTL ${opts.ttl}; address= answers (wildcards) use the global`,
    `local-ttl (default 0); local-ttl=${opts.ttl} gives them the same TTL, but applies to the whole server.`,
    `A name without a usable address is declared local with only a TXT record, so A and AAAA`,
    'get NODATA instead of the public answer.',
  ];
  const out = headerLines('#', 'dnsmasq', model, opts, notes);

  for (const [name, addrs] of model.exact) {
    out.push(`# ${name}`);
    out.push(`local=/${name}/`);
    for (const ip of [...addrs.ipv4, ...addrs.ipv6]) out.push(`host-record=${name},${ip},${opts.ttl}`);
    if (!hasAddresses(addrs)) out.push(`txt-record=${name},"${NO_ADDRESS_TEXT}"`);
    const wild = wildcardForChildrenOf(model, name);
    const wildAddrs = wild === undefined ? undefined : model.wildcards.get(wild);
    if (wildAddrs && hasAddresses(wildAddrs)) {
      out.push(`# names below ${name}: addresses of *.${wild}`);
      for (const ip of [...wildAddrs.ipv4, ...wildAddrs.ipv6]) out.push(`address=/${name}/${ip}`);
      // host-record overrides address= per type only: a family the name lacks is filled from the wildcard.
      if (addrs.ipv4.length === 0 && wildAddrs.ipv4.length > 0) out.push(`# note: ${name} has no IPv4 of its own; dnsmasq answers its A query with the wildcard's`);
      if (addrs.ipv6.length === 0 && wildAddrs.ipv6.length > 0) out.push(`# note: ${name} has no IPv6 of its own; dnsmasq answers its AAAA query with the wildcard's`);
    } else if (wild !== undefined) {
      out.push(`# names below ${name}: *.${wild} has no usable address, so they get NXDOMAIN`);
    }
    out.push('');
  }

  for (const [base, addrs] of model.wildcards) {
    if (model.exact.has(base)) continue; // written with the exact name above
    out.push(`# *.${base} (names below ${base}; ${base} itself is not managed and is forwarded)`);
    out.push(`local=/*.${base}/`);
    for (const ip of [...addrs.ipv4, ...addrs.ipv6]) out.push(`address=/*.${base}/${ip}`);
    if (!hasAddresses(addrs)) out.push(`# no usable address at export time: names below ${base} get NXDOMAIN`);
    out.push('');
  }
  return out.join('\n');
}
