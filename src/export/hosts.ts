import { hasAddresses, headerLines, type ExportModel, type ExportOptions } from './model';

/**
 * /etc/hosts lines: one per exact name and address. A hosts file has no wildcards, no TTL and
 * no way to say "this name has no IPv6": the resolver library goes on to DNS for what is missing.
 */
export function renderHosts(model: ExportModel, opts: ExportOptions): string {
  const skippedWild = [...model.wildcards.keys()].map((b) => `*.${b}`);
  const empty = [...model.exact].filter(([, a]) => !hasAddresses(a)).map(([n]) => n);
  const notes = [
    'hosts files have no TTL, no wildcards and no negative answers: a lookup for a type',
    'that is not listed here (AAAA of an IPv4-only name, say) goes on to DNS.',
  ];
  const out = headerLines('#', 'hosts', model, opts, notes);
  if (skippedWild.length > 0) {
    out.push(`# Wildcards cannot be expressed in a hosts file; skipped: ${skippedWild.join(' ')}`);
  }
  if (empty.length > 0) {
    out.push(`# No usable address at export time; skipped: ${empty.join(' ')}`);
  }
  if (skippedWild.length > 0 || empty.length > 0) out.push('');
  for (const [name, addrs] of model.exact) {
    for (const ip of [...addrs.ipv4, ...addrs.ipv6]) out.push(`${ip} ${name}`);
  }
  return out.join('\n') + '\n';
}
