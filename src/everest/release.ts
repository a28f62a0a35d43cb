// The EVerest releases in the field and what changed between them on the evse_manager_consumer_API
// (../shared/EVEREST_WIRE.md, "Later upstream releases"). One owner for these facts: the simulator plays a
// release with them, the module checks its routes against them.

import { E2M_VARS, type E2mVar } from './payloads.js';
import { isOneOf } from '../validation/one-of.js';

export const EVEREST_RELEASES = ['2025.11', '2026.02'] as const;
export type EverestRelease = (typeof EVEREST_RELEASES)[number];
export const DEFAULT_EVEREST_RELEASE: EverestRelease = '2026.02';

/** m2e routes removed in 2025.12: nothing listens on them, a request there is dropped without a word. */
const REMOVED_M2E: ReadonlySet<string> = new Set([
  'authorize_response',
  'withdraw_authorization',
  'reserve',
  'cancel_reservation',
  'external_ready_to_start_charging',
]);

/** e2m variables removed in 2025.12 (`limits` gives way to `enforced_limits`). */
const REMOVED_E2M: ReadonlySet<string> = new Set(['limits', 'car_manufacturer', 'waiting_for_external_ready', 'ready']);

/** Whether `release` still has the route m2e/<command>. */
export function hasM2eRoute(release: EverestRelease, command: string): boolean {
  return release === '2025.11' || !REMOVED_M2E.has(command);
}

/** e2m variables new in 2026.02. */
const ADDED_E2M: ReadonlySet<string> = new Set(['hlc_session_failed']);

/** Whether `release` publishes e2m/<name>. */
export function publishesE2m(release: EverestRelease, name: string): boolean {
  return release === '2025.11' ? !ADDED_E2M.has(name) : !REMOVED_E2M.has(name);
}

/**
 * Release 2026.02 pauses through StoppingCharging, tells why (charging_paused_evse.reasons), resumes through
 * PrepareCharging -> ChargingStarted and has no WaitingForEnergy, ChargingResumed or Replug events.
 */
export function reportsPauseReasons(release: EverestRelease): boolean {
  return release !== '2025.11';
}

/** Why an EVSE is paused (ChargingPausedEVSE), as release 2026.02 reports it. */
export const PAUSE_REASONS = ['UserPause', 'NoEnergy', 'Error'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/**
 * Variables the module decides by: their values must be exactly what the contract lists. Every other e2m
 * variable is only displayed (or not read at all), so a value a newer EVerest added to one of their enums
 * is delivered and counted as an unknown value instead of being dropped as invalid.
 */
const DECIDED_BY_E2M = [
  'session_event',
  'session_info',
  'limits',
  'powermeter',
  'enforced_limits',
  'waiting_for_external_ready',
  'ready',
  'ac_nr_of_phases_available',
  'heartbeat',
] as const satisfies readonly E2mVar[];

export const DISPLAY_ONLY_E2M: ReadonlySet<string> = new Set(E2M_VARS.filter((name) => !isOneOf(DECIDED_BY_E2M, name)));

/** The error for a command the configured release has no route for. */
export class RouteRemovedError extends Error {
  constructor(
    readonly command: string,
    readonly release: EverestRelease,
  ) {
    super(`EVerest ${release} has no m2e/${command} route (removed in 2025.12); everest.release says the chargers run ${release}`);
    this.name = 'RouteRemovedError';
  }
}
