// Builders for scheduler snapshots. Defaults describe the common case (an 11 kW three-phase 16 A car,
// charging for an hour, online) so a test only spells out what it is about.
import { connectorKey } from '../../../src/priorities/model.js';
import type { SchedulerConfig, SessionSnapshot, SiteSnapshot } from '../../../src/site/model.js';

/**
 * The scheduler settings the scheduler tests, the site simulator and bench:site were written against
 * (longer windows than the shipped defaults in the config schema); a test changes only what it is about.
 */
export const SIM_SCHEDULER_CONFIG: Readonly<SchedulerConfig> = Object.freeze({
  minOnTimeS: 300,
  minOffTimeS: 300,
  overrunToleranceW: 500,
  reservationTimeoutS: 60,
  sharing: 'priority_levels',
  protectAfterInterruptions: 1,
});

/** A fixed "now" far from 0, so "an hour ago" is still a positive timestamp. */
export const NOW = 1_750_000_000_000;
export const VOLTAGE_V = 230;
/** 16 A x 3 phases x 230 V */
export const CAR_11KW_W = 16 * 3 * VOLTAGE_V;
export const HOUR_MS = 3_600_000;

export function aSession(overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  const moduleId = overrides.moduleId ?? 'evse_1';
  const connectorId = overrides.connectorId ?? 1;
  return {
    moduleId,
    connectorId,
    evseState: 'Charging',
    pausedByUs: false,
    arrivalMs: NOW - HOUR_MS,
    priority: 0,
    measuredPowerW: CAR_11KW_W,
    limitCurrentA: 16,
    phases: 3,
    hwMaxCurrentA: 32,
    lastOnMs: NOW - HOUR_MS,
    online: true,
    commandInFlight: false,
    ...overrides,
    key: overrides.key ?? connectorKey(moduleId, connectorId),
  };
}

/** A session we paused long ago (windows expired): it wants power and may be resumed. */
export function aPausedSession(overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return aSession({
    evseState: 'ChargingPausedEVSE',
    pausedByUs: true,
    measuredPowerW: 0,
    lastOffMs: NOW - HOUR_MS / 2,
    ...overrides,
  });
}

export function aSite(overrides: Partial<SiteSnapshot> = {}): SiteSnapshot {
  return { maxPowerW: 22_000, nominalVoltageV: VOLTAGE_V, sessions: [], ...overrides };
}

export function aConfig(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return { ...SIM_SCHEDULER_CONFIG, ...overrides };
}

/** `evse_${n}` connector 1, the usual one-connector-per-EVSE layout. */
export function evse(n: number, overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return aSession({ moduleId: `evse_${n}`, connectorId: 1, ...overrides });
}
