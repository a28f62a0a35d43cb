// ChargingPausedEVSE that we did not ask for: release 2026.02 says why (charging_paused_evse.reasons); before
// that EVerest did not, and such a pause counts as someone else's.
import type { ReasonCode } from './model.js';

/** The leave code of a pause someone else holds: the energy manager (NoEnergy), a fault (Error), or a person. */
export function foreignPauseCode(reasons: readonly string[] | undefined): ReasonCode {
  if (reasons?.includes('UserPause')) return 'paused_by_others';
  if (reasons?.includes('Error')) return 'paused_fault';
  if (reasons?.includes('NoEnergy')) return 'paused_no_energy';
  return 'paused_by_others';
}

/**
 * Whether resume_charging could end this pause. Not when EVerest holds it itself (NoEnergy: it resumes on
 * its own once the energy manager allows 6 A; Error: once the fault clears) and no UserPause is among the
 * reasons. Unknown reasons (release 2025.11) leave the decision to the caller.
 */
export function resumable(reasons: readonly string[] | undefined): boolean {
  if (reasons === undefined || reasons.length === 0) return true;
  return reasons.includes('UserPause');
}
