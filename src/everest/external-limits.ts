// The message of EVerest's external_energy_limits_consumer_API (m2e/set_external_limits) and the one
// way we build it. The JSON schema lives in asyncapi/external_energy_limits_consumer_API.yaml; these
// types describe the subset we send and the simulator applies.

/** Every limit value on this API carries who set it; EVerest logs and publishes the source. */
export interface ValueWithSource {
  value: number;
  source: string;
}

/** One side of a schedule entry (LimitsReq). Absent keys mean "no limit of this kind". */
export interface LimitsReq {
  /** Per phase, in A. */
  ac_max_current_A?: ValueWithSource;
  total_power_W?: ValueWithSource;
  /** An integer. */
  ac_max_phase_count?: ValueWithSource;
  [extra: string]: unknown;
}

export interface ScheduleReqEntry {
  /** RFC 3339 UTC. */
  timestamp: string;
  limits_to_root: LimitsReq;
  limits_to_leaves: LimitsReq;
  [extra: string]: unknown;
}

export interface ScheduleSetpointEntry {
  timestamp: string;
  [extra: string]: unknown;
}

/**
 * The bare payload of set_external_limits. EVerest's parser requires all three schedules (each may be
 * empty); a message replaces the node's whole schedule.
 */
export interface ExternalLimits {
  schedule_import: ScheduleReqEntry[];
  schedule_export: ScheduleReqEntry[];
  schedule_setpoints: ScheduleSetpointEntry[];
  [extra: string]: unknown;
}

/** The `source` of every value we send; EVerest shows it in enforced_limits. */
export const LIMITS_SOURCE = 'evse_priority';

export interface ExternalLimitsInput {
  /** Current per phase for now, in A; 5.9 A or less makes EVerest pause AC charging (NoEnergy). */
  currentA: number;
  /** Epoch milliseconds (the caller's injectable clock). */
  now: number;
  /** Seconds until the fail-safe entry takes over unless a newer message replaces this one. */
  failsafeS: number;
  /** Current per phase that applies from now + failsafeS if we are gone. */
  failsafeCurrentA: number;
}

function currentEntry(at: number, currentA: number): ScheduleReqEntry {
  return {
    timestamp: new Date(at).toISOString(),
    limits_to_root: { ac_max_current_A: { value: currentA, source: LIMITS_SOURCE } },
    limits_to_leaves: {},
  };
}

/**
 * A limit for now plus the fail-safe: EVerest applies the first schedule_import entry at once and the
 * last one for ever after its timestamp, and never expires a limit itself. Re-sending before
 * now + failsafeS pushes the fail-safe ahead, so it only applies when we stop sending.
 */
export function externalLimitsMessage({ currentA, now, failsafeS, failsafeCurrentA }: ExternalLimitsInput): ExternalLimits {
  return {
    schedule_import: [currentEntry(now, currentA), currentEntry(now + failsafeS * 1000, failsafeCurrentA)],
    schedule_export: [],
    schedule_setpoints: [],
  };
}

/** The message a clean shutdown sends: the fail-safe current at once, for ever. */
export function failsafeLimitsMessage(now: number, failsafeCurrentA: number): ExternalLimits {
  return { schedule_import: [currentEntry(now, failsafeCurrentA)], schedule_export: [], schedule_setpoints: [] };
}

export interface FailsafeCurrentInput {
  /** limits.failsafe_current_a when configured. */
  configuredA: number | undefined;
  maxPowerW: number;
  nominalVoltageV: number;
  /** How many EVSEs have a limits module. */
  limitedEvses: number;
}

/** limits.failsafe_current_a, or by default the site budget shared equally over the limited EVSEs at 3 phases. */
export function failsafeCurrentA({ configuredA, maxPowerW, nominalVoltageV, limitedEvses }: FailsafeCurrentInput): number {
  if (configuredA !== undefined) return configuredA;
  if (limitedEvses <= 0) return 0;
  // Rounded down to 0.1 A: the fallbacks together must stay within the budget.
  return Math.floor((maxPowerW / (limitedEvses * 3 * nominalVoltageV)) * 10) / 10;
}

/**
 * The schedule_import entry in force at `at` (epoch ms), as EVerest's energy manager picks it: the last
 * entry whose timestamp has passed; the first entry even before its timestamp; the last one for ever.
 */
export function importEntryAt(limits: ExternalLimits, at: number): ScheduleReqEntry | undefined {
  let active: ScheduleReqEntry | undefined;
  for (const [index, entry] of limits.schedule_import.entries()) {
    if (index > 0 && Date.parse(entry.timestamp) > at) break;
    active = entry;
  }
  return active;
}

/** The current per phase a message puts in force at `at`. */
export function importCurrentAt(limits: ExternalLimits, at: number): number | undefined {
  return importEntryAt(limits, at)?.limits_to_root.ac_max_current_A?.value;
}

/** What EVerest publishes on this API (checked against asyncapi/external_energy_limits_consumer_API.yaml at load). */
export const LIMITS_E2M_VARS = ['heartbeat'] as const;
/** What we publish on this API, bare payloads without an envelope. */
export const LIMITS_M2E_SENDS = ['set_external_limits', 'communication_check'] as const;
export type LimitsM2eSend = (typeof LIMITS_M2E_SENDS)[number];
