// The snapshot the priority scheduler consumes and the decisions it returns. Plain data only: the
// state reducer builds snapshots from EVerest streams, the enforcer turns decisions into commands,
// and the scheduler in between stays pure so it can be tested and benchmarked without a broker.
import type { CamelCased, SchedulerConfig as SchedulerSection } from '../config/types.js';
import type { EvseState } from '../everest/payloads.js';

/** Used when neither EVerest limits nor hardware capabilities told us the current. */
export const FALLBACK_CURRENT_A = 32;

/**
 * One connector as the scheduler sees it at one instant.
 *
 * Contract with the reducer and the enforcer (the scheduler relies on it for hysteresis and
 * reservations):
 * - `pausedByUs` is set when we *send* pause_charging / enable_disable(Disable) and cleared when we
 *   send resume_charging / enable. It is our intent, so it is already true while a pause is in flight.
 * - `lastOffMs` is set with `pausedByUs`; `lastOnMs` whenever the EVSE enters Charging (by our resume
 *   or by the car itself).
 * - `grantedAtMs`/`grantedW` are set when the enforcer acts on a 'charge' decision for a session that
 *   was not charging (`grantedW` = that decision's `expectedW`); they may stay set afterwards, the
 *   scheduler ignores them once the meter shows the power or `reservationTimeoutS` has passed.
 */
export interface SessionSnapshot {
  /** connectorKey(moduleId, connectorId) */
  key: string;
  moduleId: string;
  connectorId: number;
  evseState: EvseState;
  /** ChargingPausedEVSE: EVerest's reasons (release 2026.02: UserPause, NoEnergy, Error). */
  pauseReasons?: readonly string[];
  pausedByUs: boolean;
  /** Plug-in time; breaks ties between equal priorities (first come, first served). */
  arrivalMs: number;
  /** -9..9, higher wins, 0 = default. Out-of-range or non-integer values are clamped and truncated. */
  priority: number;
  /** Active import power from the powermeter, W. */
  measuredPowerW?: number;
  /** From EVerest `limits.max_current` or `enforced_limits`, A. */
  limitCurrentA?: number;
  /** 1..3 */
  phases: number;
  /** From `hw_capabilities.max_current_A_import`, A. */
  hwMaxCurrentA?: number;
  /** Extra cap on the expected draw, W (e.g. `enforced_limits.total_power_W` or `ev_info.maximum_power_limit`). */
  capW?: number;
  lastOnMs?: number;
  lastOffMs?: number;
  grantedAtMs?: number;
  grantedW?: number;
  /**
   * How often in this session we held the car while it was charging (the enforcer counts it with its
   * hold; absent = 0). With `protectAfterInterruptions`, it makes a session we gave power back to keep it.
   */
  interruptions?: number;
  /**
   * Charging on power a held higher session cannot use (the enforcer's last start of it was a `leftover`
   * decision and no plan since admitted it normally): it yields at once when that session's minimum fits.
   */
  provisional?: boolean;
  /** How often in this session a provisional start ended in such a yield (absent = 0); one is the most. */
  provisionalYields?: number;
  /**
   * Heartbeat fresh. A stale EVSE cannot be commanded, so it is left alone and counted at what it may
   * draw unheard (the scheduler's and the allocator's offline rules; docs/holds.md).
   */
  online: boolean;
  /** The enforcer has a command outstanding for this EVSE. */
  commandInFlight: boolean;
  /** Present when the EVSE has an external limits module: the session gets a current, not just on or off. */
  current?: CurrentControl;
}

/**
 * What the allocator needs to hand a session a current. EVerest's own `limits`/`enforced_limits`
 * echo our limit back once we send one, so the rating comes from the hardware or the configuration.
 */
export interface CurrentControl {
  /** The least current this session can charge with, A per phase (max of EVSE and car minimum, default 6 A). */
  minA: number;
  /** The EVSE's rating, A per phase. */
  evseMaxA: number;
  /** The car's own maximum where `ev_info` tells it, A per phase. */
  evMaxA?: number;
  /** The limit we last sent (in force now), A per phase; absent before the first. */
  limitA?: number;
  /** When the limit in force was last raised: until it has shown in the car's draw, the draw says nothing. */
  limitRaisedAtMs?: number;
  /** The fail-safe current of our limit messages (`limits.failsafe_current_a`), A per phase. */
  failsafeA?: number;
  /**
   * From when EVerest may have replaced our limit by the fail-safe current, if it has heard nothing
   * from us since the EVSE went silent: its last heartbeat + failsafe_s - refresh_s (while we heard it,
   * a refresh reached it at least every refresh_s). Only read while the EVSE is offline.
   */
  failsafeFromMs?: number;
}

export interface SiteSnapshot {
  maxPowerW: number;
  nominalVoltageV: number;
  sessions: readonly SessionSnapshot[];
  /**
   * After our own reconnect to the broker: until then, while an EVSE with a session is not heard yet, no
   * session is started, resumed or raised (every EVSE gets one heartbeat timeout to report first).
   */
  reportGraceUntilMs?: number;
}

/** The `scheduler` section of the configuration (see its schema for what each knob means). */
export type SchedulerConfig = CamelCased<SchedulerSection>;

/**
 * - charge: may draw power (resume / enable / let a preparing session start).
 * - pause: must not draw, via pause_charging (transaction open).
 * - hold_disabled: must not draw, via enable_disable(Disable) (no transaction to pause, or already held).
 * - leave: not ours to control now; send nothing.
 */
export type DecisionKind = 'charge' | 'pause' | 'hold_disabled' | 'leave';

export type ReasonCode =
  // charge
  | 'fits'
  | 'min_on_time'
  | 'protected'
  | 'share'
  | 'leftover'
  // pause / hold_disabled
  | 'over_budget'
  | 'preempted'
  | 'min_off_time'
  | 'overrun'
  | 'awaiting_release'
  // leave
  | 'offline'
  | 'paused_by_ev'
  | 'paused_by_others'
  | 'paused_no_energy'
  | 'paused_fault'
  | 'disabled_by_others'
  | 'not_ready'
  | 'no_session'
  | 'unknown_state';

export interface Decision {
  key: string;
  moduleId: string;
  connectorId: number;
  decision: DecisionKind;
  /** Human readable, for operators and the API. */
  reason: string;
  reasonCode: ReasonCode;
  /** Power counted against the budget under this decision, W (0 for pause/hold; the uncontrolled draw for leave). */
  expectedW: number;
  /** Power the session would be counted at if it charges, W (for waiting sessions: what it waits for). */
  demandW: number;
  /** Effective priority after clamping. */
  priority: number;
  /**
   * Current-controlled sessions only: the limit planned, A per phase (0 = held below the minimum).
   * Absent for on/off EVSEs and for sessions the plan leaves alone.
   */
  currentA?: number;
  /** When an on/off window or a reservation expires and a re-decision may change this decision. */
  nextReviewAtMs?: number;
}

export interface ScheduleResult {
  /** One per session, in scheduling order (priority desc, arrival asc, module_id, connector_id). */
  decisions: Decision[];
  /** Sum of `expectedW` over all decisions: the site draw once the decisions have taken effect. */
  plannedW: number;
  /** Draw of sessions we cannot control (offline, unknown state), already part of `plannedW`. */
  uncontrolledW: number;
  /** Earliest `nextReviewAtMs` of any decision; the caller sets one timer for it instead of polling. */
  nextReviewAtMs?: number;
  /**
   * The limits in force (what current-controlled cars may draw now, plus everything else) exceed
   * the budget: every planned decrease must go out at once, however small.
   */
  urgentDecrease?: boolean;
}
