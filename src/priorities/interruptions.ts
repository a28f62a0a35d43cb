// How often we interrupted the session on an EVSE (the allocator's protection counts it; see
// docs/current-control.md). Kept in the priority store's file beside the holds, so a restart of
// evse-priority does not hand a session we already bounced one more bounce.

export interface InterruptionRecord {
  module_id: string;
  /** EVerest's session uuid when we knew it (absent for a session learned from session_info only). */
  session_uuid?: string;
  /** Holds of ours that cut the car off while it charged (OurHold.interruptions). */
  interruptions: number;
  /** Provisional starts that ended in a yield (OurHold.provisionalYields). */
  provisional_yields: number;
  /** Energy the session had charged when the count was written, Wh: a session reporting less later is another one. */
  energy_wh: number;
  /** ISO 8601: when the count was written. */
  at: string;
}

/** Parses one stored record; `problem` throws with the file's context. */
export function parseInterruptions(raw: unknown, problem: (msg: string) => never): InterruptionRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return problem('not an object');
  const { module_id, session_uuid, interruptions, provisional_yields, energy_wh, at } = raw as Record<string, unknown>;
  if (typeof module_id !== 'string' || module_id === '') return problem('module_id must be a non-empty string');
  if (session_uuid !== undefined && typeof session_uuid !== 'string') return problem('session_uuid must be a string');
  if (!isCount(interruptions)) return problem(`interruptions must be an integer >= 0, got ${JSON.stringify(interruptions)}`);
  if (!isCount(provisional_yields)) return problem(`provisional_yields must be an integer >= 0, got ${JSON.stringify(provisional_yields)}`);
  if (typeof energy_wh !== 'number' || !Number.isFinite(energy_wh) || energy_wh < 0) return problem(`energy_wh must be a number >= 0, got ${JSON.stringify(energy_wh)}`);
  if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) return problem('at must be an ISO timestamp');
  return { module_id, ...(session_uuid !== undefined ? { session_uuid } : {}), interruptions, provisional_yields, energy_wh, at };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
