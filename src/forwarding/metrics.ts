import type { OcppKind } from './ocpp-schemas.js';

/**
 * What the forwarder reports. The Prometheus implementation lives with the API (it owns the
 * registry); this room only calls the interface. `status` is an HTTP status code or `network`.
 */
export interface ForwardingMetrics {
  delivered(kind: OcppKind, status: number, latencyMs: number): void;
  failed(kind: OcppKind, status: number | 'network'): void;
  deadLettered(kind: OcppKind, status: number): void;
  dropped(kind: OcppKind): void;
  /** Read when scraped: queue depth and the age of the oldest queued event. */
  queueProbe(probe: () => { queued: number; oldestAgeS: number }): void;
}

export const NOOP_FORWARDING_METRICS: ForwardingMetrics = {
  delivered: () => undefined,
  failed: () => undefined,
  deadLettered: () => undefined,
  dropped: () => undefined,
  queueProbe: () => undefined,
};
