export { Metrics } from './metrics';
export { FastCounter, FastHistogram, type CounterSeries, type HistogramSeries } from './fast-counters';
export { notifierObserver, publishedSerialObserver, secondaryObserver, zoneServerObserver } from './observers';
export { admissionObserver, pipelineCounters, forwarderObserver, probeObserver, resolverObserver, snapshotObserver, syncObserver } from './observers';
