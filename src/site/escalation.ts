// The escalation ladder for an EVSE that ignores our holds: after `escalateAfterFailures` failed holds
// on one lever (not answered, answered false, or answered true with no effect) the lane takes the next,
// stronger one, and an alarm says so. Pure: the enforcer lane keeps the counts.

/** The ways we can hold a car, weakest first. */
export type Lever = 'pause' | 'limit' | 'disable';

/**
 * The levers of an EVSE in the order they are tried. On/off: pause_charging, then enable_disable
 * (Disable for our source). Under current control the limit below the minimum is the hold (see
 * docs/current-control.md), then pause_charging, then enable_disable.
 */
export function ladder(hasLimits: boolean): readonly Lever[] {
  return hasLimits ? ['limit', 'pause', 'disable'] : ['pause', 'disable'];
}

/** One alarm of a lane: raised when a lever is given up (and what comes next), cleared when the hold holds or ends. */
export interface HoldAlarm {
  moduleId: string;
  state: 'raised' | 'cleared';
  /** The lever that failed (raised) or was in use (cleared). */
  failed: Lever;
  /** The lever tried next; 'none' when the ladder is exhausted. */
  next: Lever | 'none';
  failures: number;
  reason: string;
  atMs: number;
}

export interface Escalation {
  rung: number;
  failures: number;
  alarmed: boolean;
}

export const NO_ESCALATION: Readonly<Escalation> = Object.freeze({ rung: 0, failures: 0, alarmed: false });

/**
 * One more failed hold on the current lever. Returns the new state and, when the lever is given up, the
 * alarm to raise (the last lever raises it once and stays in use).
 */
export function onHoldFailed(
  esc: Readonly<Escalation>,
  levers: readonly Lever[],
  after: number,
  moduleId: string,
  why: string,
  atMs: number,
): { esc: Escalation; alarm?: HoldAlarm } {
  const failures = esc.failures + 1;
  const failed = levers[esc.rung] ?? 'disable';
  if (failures < after) return { esc: { ...esc, failures } };
  const last = esc.rung >= levers.length - 1;
  if (last && esc.alarmed) return { esc: { ...esc, failures } };
  const next = last ? 'none' : (levers[esc.rung + 1] ?? 'none');
  const reason = last
    ? `${failures} failed holds with ${failed} (${why}); no stronger lever left: the EVSE keeps drawing`
    : `${failures} failed holds with ${failed} (${why}); trying ${next}`;
  return {
    esc: { rung: last ? esc.rung : esc.rung + 1, failures: last ? failures : 0, alarmed: true },
    alarm: { moduleId, state: 'raised', failed, next, failures, reason, atMs },
  };
}
