import type * as PromClient from 'prom-client';

/*
 * prom-client's metric classes, each from its own file. The package's index also loads the
 * Pushgateway (node:http, node:https), Summary and the default process metrics (OpenTelemetry's
 * API among them): tens of ms at start for things the daemon needs only once it answers, if ever.
 * The standard process metrics are ours (process-metrics.ts), not the package's defaultMetrics.
 * The files are plain CommonJS (the package has no "exports" map); the types are the package's.
 */
export const Counter: typeof PromClient.Counter = require('prom-client/lib/counter');
export const Gauge: typeof PromClient.Gauge = require('prom-client/lib/gauge');
export const Histogram: typeof PromClient.Histogram = require('prom-client/lib/histogram');
export const Registry: typeof PromClient.Registry = require('prom-client/lib/registry');
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
export type Registry = PromClient.Registry;
