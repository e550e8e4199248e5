import type { ProbeConfig, ProbeSettings } from '../config/schema';
import type { Logger } from '../runtime/log';
import type { AnswerTable, TableEntryInput, TableRecord } from '../resolve/table';
import { IpHealth } from './ip-health';
import { filterReachable } from './reachability-filter';
import { tcpConnectProbe, type ProbeResult, type ProbeStarter, type RunningProbe } from './tcp-probe';

export interface ProbeObserver {
  /** One finished probe, by result: ok, timeout, refused, unreachable, error. */
  probed(result: string): void;
  /** 1 reachable, 0 not; undefined: no longer probed (drop the series). */
  reachable(entry: string, zone: string, ip: string, value: 0 | 1 | undefined): void;
  /** Inputs answered fail-open right now. */
  degraded(count: number): void;
}

export interface ProberOptions {
  readonly config: ProbeConfig;
  /** Settings for one answer-table input; null: not probed. */
  readonly settingsFor: (input: TableEntryInput) => ProbeSettings | null;
  /** The table being answered from: its rotation counters tell which names were asked. */
  readonly table: () => AnswerTable;
  /** Called (at most once per turn of the event loop) when an IP enters or leaves the answers. */
  readonly onChange: () => void;
  readonly observer: ProbeObserver;
  readonly logger: Logger;
  /** The zone an IP belongs to, for metrics and status, when the source knows it. */
  readonly zoneOf?: (ip: string) => string | undefined;
  readonly start?: ProbeStarter;
  readonly nowMs?: () => number;
  readonly random?: () => number;
}

/** One probed IP as /status shows it. */
export interface ProbedIpStatus {
  readonly ip: string;
  readonly port: number;
  readonly zone: string | null;
  /** The answer-table inputs that answer this IP. */
  readonly entries: readonly string[];
  /** False while no one asked for its names within `idle`. */
  readonly probing: boolean;
  readonly state: 'unknown' | 'up' | 'down';
  readonly since: string | null;
  readonly lastResult: string | null;
  readonly lastProbe: string | null;
}

export interface ProbeStatus {
  readonly probing: number;
  readonly down: number;
  /** Inputs answered fail-open: every IP fails its probe. */
  readonly degraded: readonly { readonly id: string; readonly names: readonly string[] }[];
  readonly ips: readonly ProbedIpStatus[];
}

interface Target {
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  readonly settings: ProbeSettings;
  entries: string[];
  /** The entries before the last setInputs, to drop the gauges of those that left. */
  previousEntries: string[];
  names: string[];
  health: IpHealth;
  wanted: boolean;
  dueMs: number;
  running: { probe: RunningProbe; startedMs: number; deadlineMs: number } | undefined;
}

const WANTED_REFRESH_MS = 500;
const keyOf = (port: number, ip: string): string => `${port} ${ip}`;
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * TCP reachability probes for the IPs of managed names that someone asked for within `idle`:
 * spread over the interval with jitter, at most `concurrency` in flight, and no work on the query
 * path (a name counts as asked when its record's rotation counter moved). `apply` turns the
 * inputs a sync or a transfer produced into the inputs to answer from.
 */
export class Prober {
  private targets = new Map<string, Target>();
  private portOf = new Map<string, number>();
  private lastInputs: readonly TableEntryInput[] | undefined;
  private readonly askedMs = new Map<string, number>();
  private readonly seenRotation = new WeakMap<TableRecord, number>();
  private degradedIds = new Set<string>();
  private degradedList: TableEntryInput[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private changePending = false;
  private wantedAtMs = -Infinity;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly startProbe: ProbeStarter;
  private readonly tickMs: number;

  constructor(private readonly options: ProberOptions) {
    this.now = options.nowMs ?? Date.now;
    this.random = options.random ?? Math.random;
    this.startProbe = options.start ?? tcpConnectProbe();
    this.tickMs = Math.max(20, Math.min(250, Math.floor(options.config.timeoutMs / 4)));
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.targets.values()) t.running?.probe.cancel();
  }

  /** The inputs to answer from: unreachable IPs left out while their name has a reachable one. */
  apply(inputs: readonly TableEntryInput[]): TableEntryInput[] {
    this.harvest(this.options.table());
    if (inputs !== this.lastInputs) this.setInputs(inputs);
    const { inputs: out, degraded } = filterReachable(inputs, (input) => {
      const port = this.portOf.get(input.id);
      if (port === undefined) return undefined;
      return {
        down: (ip) => this.targets.get(keyOf(port, ip))?.health.state === 'down',
        passing: (ip) => this.targets.get(keyOf(port, ip))?.health.lastOk === true,
      };
    });
    this.noteDegraded(degraded);
    return out;
  }

  /** One scheduling step; public so tests can drive time. */
  tick(): void {
    const now = this.now();
    // Who was asked changes slowly (idle is minutes): look at it a few times a second, not every tick.
    const refresh = now - this.wantedAtMs >= WANTED_REFRESH_MS;
    if (refresh) {
      this.wantedAtMs = now;
      this.harvest(this.options.table());
    }
    const idleSince = now - this.options.config.idleMs;
    for (const t of this.targets.values()) {
      if (refresh) {
        const wanted = this.askedSince(t.entries, idleSince);
        if (wanted !== t.wanted) this.setWanted(t, wanted, now);
      }
      if (t.running) {
        if (now >= t.running.deadlineMs) t.running.probe.cancel();
        continue;
      }
      if (t.wanted && now >= t.dueMs && this.inFlight < this.options.config.maxConcurrent) this.launch(t, now);
    }
  }

  private askedSince(entries: readonly string[], sinceMs: number): boolean {
    for (const id of entries) if ((this.askedMs.get(id) ?? -Infinity) >= sinceMs) return true;
    return false;
  }

  status(): ProbeStatus {
    const ips: ProbedIpStatus[] = [...this.targets.values()].map((t) => ({
      ip: t.ip,
      port: t.port,
      zone: this.options.zoneOf?.(t.ip) ?? null,
      entries: t.entries,
      probing: t.wanted,
      state: t.health.state,
      since: iso(t.health.sinceMs),
      lastResult: t.health.lastResult ?? null,
      lastProbe: iso(t.health.lastProbeMs),
    }));
    return {
      probing: ips.filter((i) => i.probing).length,
      down: ips.filter((i) => i.state === 'down').length,
      degraded: this.degradedList.map((i) => ({ id: i.id, names: i.names })),
      ips,
    };
  }

  private harvest(table: AnswerTable): void {
    const now = this.now();
    for (const record of table.records) {
      const seen = this.seenRotation.get(record) ?? 0;
      if (record.rotation === seen) continue;
      this.seenRotation.set(record, record.rotation);
      this.askedMs.set(record.id, now);
    }
  }

  private setInputs(inputs: readonly TableEntryInput[]): void {
    this.lastInputs = inputs;
    const next = new Map<string, Target>();
    const portOf = new Map<string, number>();
    const now = this.now();
    for (const input of inputs) {
      const settings = this.options.settingsFor(input);
      if (!settings) continue;
      portOf.set(input.id, settings.port);
      for (const ip of [...input.ipv4, ...input.ipv6, ...(input.fallback?.ipv4 ?? []), ...(input.fallback?.ipv6 ?? [])]) {
        const key = keyOf(settings.port, ip);
        let t = next.get(key);
        if (!t) {
          const old = this.targets.get(key);
          if (old && JSON.stringify(old.settings) === JSON.stringify(settings)) {
            t = old;
            t.previousEntries = t.entries;
            t.entries = [];
            t.names = [];
          } else {
            t = { key, ip, port: settings.port, settings, entries: [], previousEntries: [], names: [], health: new IpHealth(settings.failAfter, settings.passAfter, now), wanted: false, dueMs: 0, running: undefined };
          }
          next.set(key, t);
        }
        if (!t.entries.includes(input.id)) t.entries.push(input.id);
        if (t.names.length === 0) t.names = [...input.names];
      }
    }
    for (const [key, old] of this.targets) {
      if (next.get(key) !== old) {
        old.running?.probe.cancel();
        this.gauge(old, undefined);
        continue;
      }
      for (const e of old.previousEntries) if (!old.entries.includes(e)) this.options.observer.reachable(e, this.options.zoneOf?.(old.ip) ?? '', old.ip, undefined);
    }
    this.targets = next;
    this.portOf = portOf;
    for (const t of next.values()) if (t.health.state !== 'unknown') this.gauge(t, t.health.state === 'down' ? 0 : 1);
    for (const id of this.askedMs.keys()) if (!portOf.has(id)) this.askedMs.delete(id);
  }

  private setWanted(t: Target, wanted: boolean, now: number): void {
    t.wanted = wanted;
    if (wanted) {
      // First probes spread over one interval, so names asked together do not probe in a burst.
      t.dueMs = now + Math.floor(this.random() * Math.min(t.settings.intervalMs, 1000));
      return;
    }
    // Idle: forget what we knew, so a name asked again later is answered in full until probed.
    const wasDown = t.health.state === 'down';
    t.health = new IpHealth(t.settings.failAfter, t.settings.passAfter, now);
    this.gauge(t, undefined);
    if (wasDown) this.changed();
  }

  private launch(t: Target, now: number): void {
    const probe = this.startProbe(t.ip, t.port);
    const running = { probe, startedMs: now, deadlineMs: now + t.settings.timeoutMs };
    t.running = running;
    this.inFlight++;
    const health = t.health;
    void probe.done.then((result) => {
      this.inFlight--;
      if (t.running === running) t.running = undefined;
      // Dropped or reset (idle, new table) while in flight: the result is for a state that is gone.
      if (t.health !== health || this.targets.get(t.key) !== t) return;
      this.finish(t, result, running.startedMs);
    });
  }

  private finish(t: Target, result: ProbeResult, startedMs: number): void {
    const now = this.now();
    const label = result.ok ? 'ok' : result.reason;
    this.options.observer.probed(label);
    const jitter = 0.9 + 0.2 * this.random();
    t.dueMs = Math.max(now, startedMs + Math.round(t.settings.intervalMs * jitter));
    const before = t.health.state;
    const wasOk = t.health.lastOk;
    const after = t.health.record(result.ok, label, now);
    if (after !== undefined) this.stateChanged(t, before, after, label);
    if ((before === 'down') !== (t.health.state === 'down')) this.changed();
    else if (wasOk !== t.health.lastOk) this.passingChanged(t);
  }

  private stateChanged(t: Target, before: string, after: string, label: string): void {
    this.gauge(t, after === 'down' ? 0 : 1);
    const fields = { ip: t.ip, port: t.port, zone: this.options.zoneOf?.(t.ip), names: t.names, entries: t.entries };
    if (after === 'down') {
      this.options.logger.warn({ ...fields, reason: label, failures: t.settings.failAfter }, 'endpoint IP unreachable from this node: left out of answers');
    } else if (before === 'down') {
      this.options.logger.info({ ...fields, passes: t.settings.passAfter }, 'endpoint IP reachable again: answered again');
    }
  }

  // A pass or a failure of an IP that stays up can still change the answers of a name with a
  // down IP (see filterReachable: a down IP is left out only while another one passes).
  private passingChanged(t: Target): void {
    for (const id of t.entries) {
      const port = this.portOf.get(id);
      const input = this.lastInputs?.find((i) => i.id === id);
      if (port === undefined || !input) continue;
      const ips = [...input.ipv4, ...input.ipv6, ...(input.fallback?.ipv4 ?? []), ...(input.fallback?.ipv6 ?? [])];
      if (ips.some((ip) => this.targets.get(keyOf(port, ip))?.health.state === 'down')) {
        this.changed();
        return;
      }
    }
  }

  private gauge(t: Target, value: 0 | 1 | undefined): void {
    const zone = this.options.zoneOf?.(t.ip) ?? '';
    for (const e of t.entries) this.options.observer.reachable(e, zone, t.ip, value);
  }

  private changed(): void {
    if (this.changePending) return;
    this.changePending = true;
    setImmediate(() => {
      this.changePending = false;
      this.options.onChange();
    });
  }

  private noteDegraded(degraded: TableEntryInput[]): void {
    const ids = new Set(degraded.map((i) => i.id));
    for (const i of degraded) {
      if (!this.degradedIds.has(i.id)) this.options.logger.warn({ entry: i.id, names: i.names }, 'every IP of this name fails its probe: answering all of them (fail open)');
    }
    for (const id of this.degradedIds) if (!ids.has(id)) this.options.logger.info({ entry: id }, 'a probe passes again for this name: no longer failing open');
    this.degradedIds = ids;
    this.degradedList = degraded;
    this.options.observer.degraded(degraded.length);
  }
}
