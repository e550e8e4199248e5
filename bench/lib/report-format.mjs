// Formatting for RESULTS.md and the console: numbers, tables, tool versions, a CPU profile's top self time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export function toolVersion(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const m = out.match(re);
  return m ? m[1] : 'unknown';
}
export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmtMs = (s) => (Number.isFinite(s) ? (s * 1000).toFixed(3) : 'n/a');
export const fmtRatio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
export const fmtMB = (kb) => (Number.isFinite(kb) && kb > 0 ? (kb / 1024).toFixed(1) : 'n/a');
export const fmtPct = (p) => (Number.isFinite(p) ? `${p.toFixed(p > 0 && p < 0.01 ? 4 : 2)}%` : 'n/a');

export function mdTable(header, rows) {
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}
export function textTable(header, rows) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all.map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ')).join('\n');
}

// ---------------------------------------------------------------- profile summary
export function summariseProfile(file, root, top = 15) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const counts = new Map();
  for (const id of prof.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  // time per sample: use timeDeltas where available
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const d = prof.timeDeltas?.[i + 1] ?? prof.timeDeltas?.[i] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + Math.max(0, d));
  }
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const url = cf.url ? cf.url.replace(/^file:\/\//, '').replace(`${root}/`, '') : '';
    const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
    if (cf.functionName === '(idle)') { idle += us; continue; }
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { total, idle, rows };
}
