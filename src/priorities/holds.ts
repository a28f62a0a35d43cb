// Holds: what we did to an EVSE that outlives the command (a pause, a Disable, a limit below the
// minimum). Kept in the priority store's file so "who paused what" survives SIGTERM and kill -9: after a
// restart a car we paused is still ours to resume, not "paused by someone else".

import { isOneOf } from '../validation/one-of.js';

/** How we hold the EVSE: pause_charging, enable_disable(Disable) for our source, or a limit below the minimum. */
export const HOLD_KINDS = ['pause', 'disable', 'limit'] as const;
export type HoldKind = (typeof HOLD_KINDS)[number];

/** Who asked for the hold: the scheduler (lifted by the scheduler) or a person (lifted by a person or the session's end). */
export const HOLD_ORIGINS = ['scheduler', 'manual'] as const;
export type HoldOrigin = (typeof HOLD_ORIGINS)[number];

export interface HoldRecord {
  module_id: string;
  kind: HoldKind;
  origin: HoldOrigin;
  /** EVerest's session uuid when we knew it (absent for a session learned from session_info only). */
  session_uuid?: string;
  /** ISO 8601: when the hold went out (the scheduler's off window counts from it). */
  since: string;
}

/** Parses one stored hold; `problem` throws with the file's context. */
export function parseHold(raw: unknown, problem: (msg: string) => never): HoldRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return problem('not an object');
  const { module_id, kind, origin, session_uuid, since } = raw as Record<string, unknown>;
  if (typeof module_id !== 'string' || module_id === '') return problem('module_id must be a non-empty string');
  if (!isOneOf(HOLD_KINDS, kind)) return problem(`kind must be one of ${HOLD_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  if (!isOneOf(HOLD_ORIGINS, origin)) return problem(`origin must be one of ${HOLD_ORIGINS.join(', ')}, got ${JSON.stringify(origin)}`);
  if (session_uuid !== undefined && typeof session_uuid !== 'string') return problem('session_uuid must be a string');
  if (typeof since !== 'string' || Number.isNaN(Date.parse(since))) return problem('since must be an ISO timestamp');
  return {
    module_id,
    kind: kind as HoldKind,
    origin: origin as HoldOrigin,
    ...(session_uuid !== undefined ? { session_uuid } : {}),
    since,
  };
}
