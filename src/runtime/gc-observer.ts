import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

export type GcKind = 'major' | 'minor' | 'incremental' | 'weakcb';

const KINDS = new Map<number, GcKind>([
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/** Called once per collection, with its kind and duration in seconds. */
export type GcListener = (kind: GcKind, seconds: number) => void;

const listeners = new Set<GcListener>();
let observer: PerformanceObserver | undefined;

function deliver(entries: readonly PerformanceEntry[]): void {
  for (const entry of entries) {
    const kind = KINDS.get((entry as { detail?: { kind?: number } }).detail?.kind ?? -1) ?? 'minor';
    for (const listener of listeners) listener(kind, entry.duration / 1000);
  }
}

/**
 * Garbage collections as they are reported ('gc' performance entries, delivered on a later turn
 * of the loop), for every part of the process that acts on them: one PerformanceObserver, not
 * one per user (each costs an entry list and a callback per collection). It exists while someone
 * listens; a process that collects nothing (idle) gets no callback. Returns the unsubscribe.
 */
export function onGc(listener: GcListener): () => void {
  listeners.add(listener);
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => deliver(list.getEntries()));
    observer.observe({ entryTypes: ['gc'] });
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && observer !== undefined) {
      observer.disconnect();
      observer = undefined;
    }
  };
}
