// When a planned limit is worth a message: the charger sees a limit change only when it matters, and
// never more than about once a second, while a decrease the budget needs goes at once. Pure.

/** A change smaller than this is not sent (unless it starts or ends a hold). */
export const LIMIT_STEP_A = 1;
/** At most one increase per EVSE per this many ms. */
export const LIMIT_MIN_INTERVAL_MS = 1_000;

export interface SentLimit {
  currentA: number;
  atMs: number;
}

export type LimitVerdict = { send: true } | { send: false; retryAtMs?: number };

/**
 * Whether to send `plannedA` now, given the last limit sent.
 * - The first limit, and any change that starts or ends a hold (crosses `minA`) or lands on or leaves
 *   the minimum, is significant; otherwise a change must be at least `LIMIT_STEP_A`.
 * - A decrease goes at once: it never raises the draw, and the power it frees is what another
 *   session's increase in the same plan counts on. `urgent` (the limits in force exceed the budget)
 *   sends even a decrease below the step.
 * - An increase waits until `LIMIT_MIN_INTERVAL_MS` after the last message (`retryAtMs` says when).
 */
export function limitVerdict(last: SentLimit | undefined, plannedA: number, minA: number, nowMs: number, urgent: boolean): LimitVerdict {
  if (last === undefined) return { send: true };
  const delta = plannedA - last.currentA;
  if (delta === 0) return { send: false };
  const crosses = last.currentA < minA !== plannedA < minA;
  const touchesMin = plannedA === minA || last.currentA === minA;
  const significant = crosses || touchesMin || Math.abs(delta) >= LIMIT_STEP_A - 1e-9;
  if (delta < 0) return significant || urgent ? { send: true } : { send: false };
  if (!significant) return { send: false };
  const readyAt = last.atMs + LIMIT_MIN_INTERVAL_MS;
  return nowMs >= readyAt ? { send: true } : { send: false, retryAtMs: readyAt };
}
