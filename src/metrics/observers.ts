import type { AdmissionObserver } from '../resolve/admission';
import type { Metrics } from './metrics';
import type { ZoneServerObserver } from '../fleet/primary/zone-server';
import type { NotifierObserver } from '../fleet/primary/notifier';
import type { SecondaryObserver } from '../fleet/secondary/secondary';
import type { PipelineCounters } from '../server/request';
import type { ResolverObserver, AnswerSource } from '../resolve/resolver';
import type { ForwarderObserver } from '../upstream/upstream-forwarder';
import type { SyncObserver } from '../privatelink/sync';
import type { SnapshotObserver } from '../privatelink/snapshot';
import type { ProbeObserver } from '../probe/prober';
import type { CounterSeries, HistogramSeries } from './fast-counters';
import { RCODE_NAMES, typeLabel } from '../wire/constants';
import { queryClock } from '../server/query-clock';

/**
 * Binds component observations to metrics. Series are bound once per label set and cached, so
 * the per-query cost is a Map lookup and an addition.
 */
export function pipelineCounters(m: Metrics): PipelineCounters {
  const reasons = new Map<string, CounterSeries>();
  const count = (reason: string): void => {
    let s = reasons.get(reason);
    if (!s) {
      s = m.dropped.bind({ reason });
      reasons.set(reason, s);
    }
    s.value++;
  };
  const batches = m.udpBatch.bind({});
  // A client refused by access control gets a REFUSED reply without reaching the resolver: it
  // is a response like any other, so responses_total{rcode="REFUSED"} shows it (and dropped_packets_total its reason).
  let refused: CounterSeries | undefined;
  return {
    dropped: count,
    rejected: (reason) => {
      count(reason);
      if (reason === 'refused') {
        refused ??= m.responses.bind({ rcode: 'REFUSED' });
        refused.value++;
      }
    },
    tcpConnections: (delta) => m.tcpConnections.inc(delta),
    udpBatch: (datagrams) => batches.observe(datagrams),
  };
}

const SOURCE_INDEX: Record<AnswerSource, number> = { local: 0, cache: 1, stale: 2, forward: 3, error: 4, loop: 5 };

export function resolverObserver(m: Metrics): ResolverObserver {
  const requests = new Map<number, CounterSeries>();
  const responses: (CounterSeries | undefined)[] = [];
  const durations = new Map<AnswerSource, HistogramSeries>();
  const cacheFresh = m.cacheHits.bind({ kind: 'fresh' });
  const cacheStale = m.cacheHits.bind({ kind: 'stale' });
  const cacheMiss = m.cacheMisses.bind({});
  return {
    answered(protocol, qtype, source, rcode, receivedAt) {
      // A numeric key: no string built per query.
      const key = ((protocol === 'udp' ? 0 : 1) * 16 + SOURCE_INDEX[source]) * 65536 + qtype;
      let req = requests.get(key);
      if (!req) {
        req = m.requests.bind({ protocol, type: typeLabel(qtype), source });
        requests.set(key, req);
      }
      req.value++;
      let res = responses[rcode];
      if (!res) {
        res = m.responses.bind({ rcode: RCODE_NAMES[rcode] ?? String(rcode) });
        responses[rcode] = res;
      }
      res.value++;
      let hist = durations.get(source);
      if (!hist) {
        hist = m.requestDuration.bind({ source });
        durations.set(source, hist);
      }
      hist.observeMicros(queryClock.elapsedMicros(receivedAt));
      if (source === 'cache') cacheFresh.value++;
      else if (source === 'stale') cacheStale.value++;
      else if (source === 'forward' || source === 'error') cacheMiss.value++;
    },
    loop: () => m.loops.inc(),
    staleAnswer: () => m.staleAnswers.inc(),
    cnameRewrite: () => m.cnameRewrites.inc(),
  };
}

export function forwarderObserver(m: Metrics): ForwarderObserver {
  // Series bound once per server (and protocol and result): a forwarded query adds to numbers.
  const perServer = new Map<string, { udp: Map<string, CounterSeries>; tcp: Map<string, CounterSeries>; rtt: HistogramSeries }>();
  return {
    exchange(server, protocol, result, seconds) {
      let s = perServer.get(server);
      if (!s) {
        s = { udp: new Map(), tcp: new Map(), rtt: m.upstreamDuration.bind({ server }) };
        perServer.set(server, s);
      }
      const byResult = s[protocol];
      let counter = byResult.get(result);
      if (!counter) {
        counter = m.upstreamRequests.bind({ server, protocol, result });
        byResult.set(result, counter);
      }
      counter.value++;
      if (result === 'ok') s.rtt.observe(seconds);
    },
    health: (server, healthy) => m.upstreamHealthy.set({ server }, healthy ? 1 : 0),
  };
}

export function admissionObserver(m: Metrics): AdmissionObserver {
  const dropped = m.rateLimited.bind({ action: 'drop' });
  const slipped = m.rateLimited.bind({ action: 'slip' });
  return { limited: (action) => (action === 'drop' ? dropped : slipped).value++ };
}

export function syncObserver(m: Metrics): SyncObserver {
  return {
    apiCall: (action, result) => m.apiCalls.inc({ action, result }),
    synced(result, durationMs, startedAtMs) {
      m.syncs.inc({ result });
      m.syncDuration.observe(durationMs / 1000);
      if (result === 'success') m.lastSyncSuccess.set(Math.floor(startedAtMs / 1000));
    },
    usableIps(byEntry) {
      m.usableIps.reset(); // the series of removed entries go too
      for (const [entry, count] of byEntry) m.usableIps.set({ entry }, count);
    },
    staleEntries: (count) => m.staleEntries.set(count),
    tableAge: (seconds) => m.tableAgeSeconds.set(seconds),
  };
}

export function snapshotObserver(m: Metrics): SnapshotObserver {
  return { written: (result) => m.snapshotWrites.inc({ result }) };
}

export function zoneServerObserver(m: Metrics): ZoneServerObserver {
  return { served: (type, result) => m.transferServed.inc({ type, result }), logSuppressed: () => m.logSuppressed.inc({ component: 'transfer' }) };
}

/** A hub's published serials, per zone (the main zone and every view). */
export function publishedSerialObserver(m: Metrics): (zone: string, serial: number) => void {
  return (zone, serial) => m.transferSerial.set({ zone, role: 'primary' }, serial);
}

export function notifierObserver(m: Metrics): NotifierObserver {
  return { sent: (result) => m.transferNotifies.inc({ result }) };
}

export function secondaryObserver(m: Metrics, zone: string): SecondaryObserver {
  return {
    checked: (result) => {
      m.transferChecks.inc({ result });
      if (result !== 'failed') m.transferLastSuccess.set(Date.now() / 1000);
    },
    transferred: (type, result) => m.transferReceived.inc({ type, result }),
    serial: (serial) => m.transferSerial.set({ zone, role: 'secondary' }, serial),
    refused: (reason) => m.zoneRefused.inc({ reason }),
    logSuppressed: () => m.logSuppressed.inc({ component: 'secondary' }),
  };
}

export function probeObserver(m: Metrics): ProbeObserver {
  return {
    probed: (result) => m.probes.inc({ result }),
    reachable: (entry, zone, ip, value) => {
      if (value === undefined) m.probeReachable.remove({ entry, zone, ip });
      else m.probeReachable.set({ entry, zone, ip }, value);
    },
    degraded: (count) => m.probeDegraded.set(count),
  };
}
