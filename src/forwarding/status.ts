/**
 * What the forwarder is doing, in one word:
 * - `off`: forwarding.url is unset;
 * - `delivering`: the cloud answers 2xx, the queue drains;
 * - `retrying`: network errors or 5xx, backing off;
 * - `unauthorized`: the cloud refuses even a freshly fetched token (credentials or ApiKey wrong);
 * - `stopped`: shut down.
 */
export type ForwardingState = 'off' | 'delivering' | 'retrying' | 'unauthorized' | 'stopped';

/** The forwarder as /healthz, GET /v1/site, the SSE `site` event and the retained MQTT state show it. */
export interface ForwardingStatus {
  state: ForwardingState;
  /** Events waiting in the outbox (written to disk, not yet acknowledged by the cloud). */
  queued: number;
  /** Age of the oldest waiting event in seconds; 0 when the queue is empty. */
  oldest_age_s: number;
}

export const FORWARDING_OFF: ForwardingStatus = { state: 'off', queued: 0, oldest_age_s: 0 };

/** Two statuses differ in a way worth publishing (ages are whole seconds, so a ticking age publishes at most once a second). */
export function sameForwardingStatus(a: ForwardingStatus, b: ForwardingStatus): boolean {
  return a.state === b.state && a.queued === b.queued && a.oldest_age_s === b.oldest_age_s;
}
