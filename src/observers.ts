import type { Metrics } from './metrics';
import type { EdgeCounters } from './dns/edge';
import type { ResolverObserver, AnswerSource } from './resolve/resolver';
import type { ForwarderObserver } from './upstream/forwarder';
import { RCODE_NAMES, typeLabel } from './dns/constants';
import type { Counter, Histogram } from 'prom-client';

/**
 * Binds component observations to metrics. Label children are created once and reused, so the
 * per-query cost is a Map lookup and an addition.
 */
export function edgeCounters(m: Metrics): EdgeCounters {
  return {
    dropped: (reason) => m.dropped.inc({ reason }),
    rejected: (reason) => m.dropped.inc({ reason }),
    tcpConnections: (delta) => m.tcpConnections.inc(delta),
  };
}

export function resolverObserver(m: Metrics): ResolverObserver {
  const requests = new Map<string, Counter.Internal>();
  const responses = new Map<number, Counter.Internal>();
  const durations = new Map<AnswerSource, Histogram.Internal<'source'>>();
  const cacheFresh = m.cacheHits.labels({ kind: 'fresh' });
  const cacheStale = m.cacheHits.labels({ kind: 'stale' });
  return {
    answered(protocol, qtype, source, rcode, receivedAt) {
      const key = `${protocol}|${qtype}|${source}`;
      let req = requests.get(key);
      if (!req) {
        req = m.requests.labels({ protocol, type: typeLabel(qtype), source });
        requests.set(key, req);
      }
      req.inc();
      let res = responses.get(rcode);
      if (!res) {
        res = m.responses.labels({ rcode: RCODE_NAMES[rcode] ?? String(rcode) });
        responses.set(rcode, res);
      }
      res.inc();
      let hist = durations.get(source);
      if (!hist) {
        hist = m.requestDuration.labels({ source });
        durations.set(source, hist);
      }
      hist.observe(Number(process.hrtime.bigint() - receivedAt) / 1e9);
      if (source === 'cache') cacheFresh.inc();
      else if (source === 'stale') cacheStale.inc();
      else if (source === 'forward' || source === 'error') m.cacheMisses.inc();
    },
    loop: () => m.loops.inc(),
    staleAnswer: () => m.staleAnswers.inc(),
  };
}

export function forwarderObserver(m: Metrics): ForwarderObserver {
  return {
    exchange(server, protocol, result, seconds) {
      m.upstreamRequests.inc({ server, protocol, result });
      if (result === 'ok') m.upstreamDuration.observe({ server }, seconds);
    },
    health: (server, healthy) => m.upstreamHealthy.set({ server }, healthy ? 1 : 0),
  };
}
