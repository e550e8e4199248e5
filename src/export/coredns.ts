import { hasAddresses, headerLines, wildcardCovering, type AddressSet, type ExportModel, type ExportOptions } from './model';

/**
 * Plugin directives for the CoreDNS server block that forwards (".:53 { ... forward . ... }").
 *
 * - Exact names go into one `hosts` block with `fallthrough`: the hosts plugin answers a
 *   listed name itself (NODATA for a type it lacks) and passes only unlisted names on, so
 *   managed names never reach `forward`.
 * - Wildcards `*.x` become `template` blocks in zone x whose regex matches names strictly
 *   below x: one for A, one for AAAA, one for every other type (an empty NOERROR: NODATA).
 *   `fallthrough` lets x itself and unmatched names continue down the chain.
 * - CoreDNS runs `template` before `hosts` whatever the order in the Corefile, so exact names
 *   inside a wildcard's zone, and names without a usable address, are templates too, written
 *   before the wildcards; more specific wildcards come first.
 */
export function renderCoredns(model: ExportModel, opts: ExportOptions): string {
  const notes = [
    'Paste these directives into the server block that forwards to your upstream resolvers.',
    'A server block takes one hosts plugin: if yours already has one, merge the lines into it.',
    'Without a FILE argument the hosts plugin also serves /etc/hosts.',
    'Managed names never fall through to forward: only unlisted names do.',
  ];
  const out = headerLines('#', 'coredns', model, opts, notes);
  const ttl = opts.ttl;

  const inHosts: [string, AddressSet][] = [];
  const exactTemplates: [string, AddressSet][] = [];
  for (const [name, addrs] of model.exact) {
    if (hasAddresses(addrs) && wildcardCovering(model, name) === undefined) inHosts.push([name, addrs]);
    else exactTemplates.push([name, addrs]);
  }

  for (const [name, addrs] of exactTemplates) {
    const why = hasAddresses(addrs) ? 'inside a wildcard zone' : 'no usable address at export time: NODATA';
    out.push(`# ${name} (${why})`);
    out.push(...templates(name, `^${goQuote(name)}\\.$`, addrs, ttl));
  }
  const wilds = [...model.wildcards].sort(([a], [b]) => b.split('.').length - a.split('.').length);
  for (const [base, addrs] of wilds) {
    out.push(`# *.${base}${hasAddresses(addrs) ? '' : ' (no usable address at export time: NODATA)'}`);
    out.push(...templates(base, `^(?:[^.]+\\.)+${goQuote(base)}\\.$`, addrs, ttl));
  }

  if (inHosts.length > 0) {
    out.push('hosts {');
    for (const [name, addrs] of inHosts) for (const ip of [...addrs.ipv4, ...addrs.ipv6]) out.push(`    ${ip} ${name}`);
    out.push(`    ttl ${ttl}`);
    out.push('    no_reverse');
    out.push('    fallthrough');
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/** A, AAAA and catch-all templates for names in `zone` that match `regex`. */
function templates(zone: string, regex: string, addrs: AddressSet, ttl: number): string[] {
  const block = (cls: string, type: string, answers: string[]): string[] => [
    `template ${cls} ${type} ${zone} {`,
    `    match "${regex}"`,
    ...answers.map((a) => `    answer "${a}"`),
    '    fallthrough',
    '}',
  ];
  const out: string[] = [];
  if (addrs.ipv4.length > 0) out.push(...block('IN', 'A', addrs.ipv4.map((ip) => `{{ .Name }} ${ttl} IN A ${ip}`)));
  if (addrs.ipv6.length > 0) out.push(...block('IN', 'AAAA', addrs.ipv6.map((ip) => `{{ .Name }} ${ttl} IN AAAA ${ip}`)));
  out.push(...block('ANY', 'ANY', []));
  return out;
}

/** Escapes a DNS name for a Go (RE2) regex inside a Corefile string. */
function goQuote(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`);
}
