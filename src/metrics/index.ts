export { Metrics } from './metrics';
export { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast-counters';
export { notifierObserver, secondaryObserver, zoneServerObserver } from './observers';
export { admissionObserver, edgeCounters, forwarderObserver, resolverObserver, snapshotObserver, syncObserver } from './observers';
