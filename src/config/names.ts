const LABEL_RE = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower case, no surrounding space, no trailing dot: the one form names are compared in. */
export function normalizeName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

/** A managed name: an FQDN, optionally with one leading "*." label. */
export function checkName(name: string): string | undefined {
  const body = name.startsWith('*.') ? name.slice(2) : name;
  if (body.length === 0 || name.length > 253) return 'is not a valid DNS name';
  const labels = body.split('.');
  if (labels.length < 2) return 'must have at least two labels';
  for (const l of labels) if (!LABEL_RE.test(l)) return `label "${l}" is not valid in a DNS name`;
  if (body.includes('*')) return 'only a leading "*." wildcard is supported';
  return undefined;
}

/** A zone or key name (normalized): one or more labels, no wildcard. */
export function checkDnsName(name: string): string | undefined {
  if (name.length === 0 || name.length > 253) return 'is not a valid DNS name';
  for (const l of name.split('.')) if (!LABEL_RE.test(l)) return `label "${l}" is not valid in a DNS name`;
  return undefined;
}
