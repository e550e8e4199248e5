import { isObject, type ConfigReader, type Obj } from './reader';
import { DEFAULTS, type ProbeConfig, type ProbeSettings } from './schema';

function readSettings(r: ConfigReader, raw: Obj, path: string, base: ProbeSettings): ProbeSettings {
  const intervalMs = r.durationMs(raw, 'interval', path, base.intervalMs, 100, 3_600_000);
  const timeoutMs = r.durationMs(raw, 'timeout', path, base.timeoutMs, 10, 60_000);
  // A probe that outlives its interval would overlap the next one of the same IP.
  if (timeoutMs > intervalMs) r.report(`${path}.timeout`, 'must not be longer than interval');
  return {
    port: r.integer(raw, 'port', path, base.port, 1, 65_535),
    intervalMs,
    timeoutMs: Math.min(timeoutMs, intervalMs),
    failAfter: r.integer(raw, 'fail_after', path, base.failAfter, 1, 100),
    passAfter: r.integer(raw, 'pass_after', path, base.passAfter, 1, 100),
  };
}

/**
 * `records.probe`: a mapping (defaults for every key) or true to probe; absent or false: off.
 * Off by default: probing connects from this node to every endpoint IP, which an operator turns on
 * knowing the port the endpoints serve and that the firewall expects it.
 */
export function readProbeConfig(r: ConfigReader, value: unknown): ProbeConfig | null {
  if (value === undefined || value === null || value === false) return null;
  const raw = r.section(value === true ? {} : value, 'records.probe', ['port', 'interval', 'timeout', 'fail_after', 'pass_after', 'idle', 'concurrency']);
  const defaults: ProbeSettings = {
    port: DEFAULTS.probePort, intervalMs: DEFAULTS.probeIntervalMs, timeoutMs: DEFAULTS.probeTimeoutMs,
    failAfter: DEFAULTS.probeFailAfter, passAfter: DEFAULTS.probePassAfter,
  };
  return {
    ...readSettings(r, raw, 'records.probe', defaults),
    idleMs: r.durationMs(raw, 'idle', 'records.probe', DEFAULTS.probeIdleMs, 1000, 7 * 86_400_000),
    maxConcurrent: r.integer(raw, 'concurrency', 'records.probe', DEFAULTS.probeMaxConcurrent, 1, 10_000),
  };
}

/**
 * `records.entries[i].probe`: false (never probe this entry), true (the global settings; how a
 * static entry opts in), or a mapping of keys that override the global ones. Absent: undefined.
 */
export function readEntryProbe(r: ConfigReader, item: Obj, i: number, global: ProbeConfig | null): ProbeSettings | null | undefined {
  const value = item.probe;
  if (value === undefined || value === null) return undefined;
  if (value === false) return null;
  if (value !== true && !isObject(value)) {
    r.report(`records.entries[${i}].probe`, 'must be true, false or a mapping');
    return undefined;
  }
  const raw = r.section(value === true ? {} : value, `records.entries[${i}].probe`, ['port', 'interval', 'timeout', 'fail_after', 'pass_after']);
  if (!global) {
    r.report(`records.entries[${i}].probe`, 'has no effect while records.probe is false');
    return null;
  }
  return readSettings(r, raw, `records.entries[${i}].probe`, global);
}
