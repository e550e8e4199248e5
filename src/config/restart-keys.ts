import type { Config } from './schema';

/**
 * Settings a running daemon cannot switch in place, each with how a reload keeps the running value:
 * the table source's kind and fleet roles (they decide which components exist), where state is
 * kept (the snapshot and zone stores are opened at start). (listen.udp_io applies to the listeners
 * at once; upstream exchanges keep the engine they started with.)
 */
const RESTART_ONLY: readonly { key: string; changed: (a: Config, b: Config) => boolean; keep: (running: Config) => Partial<Config> }[] = [
  { key: 'primaries', changed: (a, b) => (a.primaries === null) !== (b.primaries === null), keep: (r) => ({ source: r.source, primaries: r.primaries }) },
  { key: 'transfer', changed: (a, b) => (a.transfer === null) !== (b.transfer === null), keep: (r) => ({ transfer: r.transfer }) },
  { key: 'state_dir', changed: (a, b) => a.stateDir !== b.stateDir, keep: (r) => ({ stateDir: r.stateDir }) },
];

/** The config keys (two levels deep, as the file spells them: camelCase here) whose value differs. */
export function changedKeys(a: Config, b: Config): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  for (const key of Object.keys(b) as (keyof Config)[]) {
    const x = a[key] as unknown;
    const y = b[key] as unknown;
    if (same(x, y)) continue;
    const nested = x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y);
    if (!nested) {
      out.push(key);
      continue;
    }
    const xo = x as Record<string, unknown>;
    const yo = y as Record<string, unknown>;
    for (const sub of new Set([...Object.keys(xo), ...Object.keys(yo)])) if (!same(xo[sub], yo[sub])) out.push(`${key}.${sub}`);
  }
  return out;
}

export interface ReloadPlan {
  /** The config to apply: the new one, with the running value of every restart-only key that changed. */
  readonly config: Config;
  /** The config keys whose new value waits for a restart. */
  readonly needRestart: readonly string[];
  /** The keys whose value the reload changes (the restart-only ones not among them). */
  readonly changed: readonly string[];
}

export function planReload(running: Config, next: Config): ReloadPlan {
  const needRestart: string[] = [];
  let config: Config = next;
  for (const r of RESTART_ONLY) {
    if (!r.changed(running, next)) continue;
    needRestart.push(r.key);
    config = { ...config, ...r.keep(running) };
  }
  const applied = needRestart.length === 0 ? next : Object.freeze(config);
  return { config: applied, needRestart, changed: changedKeys(running, applied) };
}
