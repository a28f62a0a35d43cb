import type { Liveness } from '../everest/liveness.js';
import type {
  Connector,
  EnforcedLimits,
  EvInfo,
  EvseState,
  HardwareCapabilities,
  Limits,
  Powermeter,
  SessionEvent,
  SessionInfo,
} from '../everest/payloads.js';

/** What the module knows about one EVSE, folded from its e2m streams. */
export interface EvseView {
  moduleId: string;
  evseId?: string;
  connectors: Connector[];
  state: EvseState;
  /** Connector of the current session (session_event connector_id, 1 when absent). */
  connectorId: number;
  session?: {
    uuid: string;
    startedAtMs: number;
    transaction: boolean;
    startMeterWh?: number;
  };
  powerW: number;
  /** Energy of the current (or last) session. */
  energyWh: number;
  /**
   * Highest power this session's car drew once past its ramp: what it can take, when the EVSE's
   * rating says more (a 11 kW car on a 22 kW wallbox). Sizes its demand while it waits.
   */
  peakPowerW?: number;
  meterWh?: number;
  /** From e2m/limits (release 2025.11). */
  limits?: { maxCurrentA: number; phases: number; from: 'limits' };
  /**
   * The current EVerest enforces (enforced_limits.ac_max_current_A): the EVSE's current limit where
   * e2m/limits is absent (2025.12 and later). Kept apart from `limits`, which current control reads as
   * the EVSE's own figure.
   */
  enforcedCurrent?: { maxCurrentA: number; phases: number };
  /** When enforced_limits last carried a current (a limit of ours is confirmed by one that arrived after it). */
  enforcedAtMs?: number;
  enforcedLimitW?: number;
  /** ChargingPausedEVSE: why EVerest holds the car (release 2026.02; absent before). */
  pauseReasons?: readonly string[];
  hw?: { maxCurrentA: number; minCurrentA?: number; maxPhases: number; connectorType?: string };
  /** The car's maximum power from `ev_info.maximum_power_limit`, W, for the current session. */
  evMaxPowerW?: number;
  liveness: Liveness;
  lastEvent?: { event: string; atMs: number };
  /** Last time the car started drawing / stopped drawing (state into / out of Charging). */
  lastOnMs?: number;
  lastOffMs?: number;
  /** True once any session_event arrived: session_info then only refreshes figures, never state, unless in doubt. */
  eventsSeen: boolean;
  /**
   * An event may have been lost (the broker connection dropped, a command's outcome is uncertain): the
   * next session_info's state is taken as the truth, as at start-up, and clears the doubt.
   */
  stateInDoubt?: boolean;
  /** When a session_info last settled a doubt (or bootstrapped the state). */
  stateReadAtMs?: number;
}

export type EvseInput =
  | { kind: 'session_event'; value: SessionEvent }
  | { kind: 'session_info'; value: SessionInfo }
  | { kind: 'powermeter'; value: Powermeter }
  | { kind: 'limits'; value: Limits }
  | { kind: 'enforced_limits'; value: EnforcedLimits }
  | { kind: 'hw_capabilities'; value: HardwareCapabilities }
  | { kind: 'ev_info'; value: EvInfo }
  | { kind: 'evse_id'; value: string }
  | { kind: 'connectors'; value: Connector[] }
  | { kind: 'liveness'; value: Liveness }
  /** Doubt the state: the next session_info decides it. */
  | { kind: 'doubt' };

/** The uuid of a session learned from session_info only (no session_event since start): EVerest's own is not known. */
const BOOTSTRAP_UUID_PREFIX = 'bootstrap-';

export function isBootstrapUuid(uuid: string): boolean {
  return uuid.startsWith(BOOTSTRAP_UUID_PREFIX);
}

export function initialEvseView(moduleId: string, connectorIds: readonly number[] = [1]): EvseView {
  return {
    moduleId,
    connectors: connectorIds.map((id) => ({ id })),
    state: 'Unknown',
    connectorId: connectorIds[0] ?? 1,
    powerW: 0,
    energyWh: 0,
    liveness: { moduleId, status: 'unknown', lost: 0, restarts: 0 },
    eventsSeen: false,
  };
}

const SESSION_STATES: ReadonlySet<EvseState> = new Set<EvseState>([
  'Preparing',
  'AuthRequired',
  'WaitingForEnergy',
  'ChargingPausedEV',
  'ChargingPausedEVSE',
  'Charging',
  'Finished',
  'FinishedEVSE',
  'FinishedEV',
]);

/** Pure reducer: the next view after one input at `nowMs`. */
export function reduceEvseView(view: EvseView, input: EvseInput, nowMs: number): EvseView {
  switch (input.kind) {
    case 'session_event':
      return withTransitions(view, onSessionEvent(view, input.value, nowMs), nowMs);
    case 'session_info':
      return withTransitions(view, onSessionInfo(view, input.value, nowMs), nowMs);
    case 'powermeter': {
      const meterWh = input.value.energy_Wh_import.total;
      const powerW = input.value.power_W?.total;
      const startMeterWh = view.session?.startMeterWh;
      const next: EvseView = {
        ...view,
        meterWh,
        powerW: view.state === 'Charging' && powerW !== undefined ? Math.max(0, powerW) : view.state === 'Charging' ? view.powerW : 0,
        energyWh: view.session && startMeterWh !== undefined ? Math.max(view.energyWh, meterWh - startMeterWh) : view.energyWh,
      };
      return withPeak(next, nowMs);
    }
    case 'limits':
      return { ...view, limits: { maxCurrentA: input.value.max_current, phases: input.value.nr_of_phases_available, from: 'limits' } };
    case 'enforced_limits':
      return onEnforcedLimits(view, input.value, nowMs);
    case 'hw_capabilities':
      return {
        ...view,
        hw: {
          maxCurrentA: input.value.max_current_A_import,
          ...(input.value.min_current_A_import > 0 ? { minCurrentA: input.value.min_current_A_import } : {}),
          maxPhases: input.value.max_phase_count_import,
          connectorType: input.value.connector_type,
        },
      };
    case 'ev_info': {
      const maxW = input.value.maximum_power_limit;
      return maxW !== undefined && Number.isFinite(maxW) && maxW > 0 ? { ...view, evMaxPowerW: maxW } : view;
    }
    case 'evse_id':
      return { ...view, evseId: input.value };
    case 'connectors':
      return input.value.length > 0 ? { ...view, connectors: input.value } : view;
    case 'liveness':
      return { ...view, liveness: input.value };
    case 'doubt':
      return view.stateInDoubt ? view : { ...view, stateInDoubt: true };
  }
}

/** The power cap, and the enforced current (the EVSE's current limit where EVerest sends no e2m/limits). */
function onEnforcedLimits(view: EvseView, value: EnforcedLimits, nowMs: number): EvseView {
  const side = value.limits_root_side;
  const total = side.total_power_W?.value;
  const current = side.ac_max_current_A?.value;
  const next = total === undefined ? view : { ...view, enforcedLimitW: total };
  if (current === undefined) return next;
  const phases = side.ac_max_phase_count?.value ?? view.limits?.phases ?? view.hw?.maxPhases ?? 3;
  return { ...next, enforcedCurrent: { maxCurrentA: current, phases }, enforcedAtMs: nowMs };
}

function onSessionEvent(view: EvseView, ev: SessionEvent, nowMs: number): EvseView {
  const next = onSessionEventState(view, ev, nowMs);
  // Reasons describe one ChargingPausedEVSE; they go when the EVSE leaves it.
  if (next.state !== 'ChargingPausedEVSE') return next.pauseReasons === undefined ? next : { ...next, pauseReasons: undefined };
  if (ev.event === 'ChargingPausedEVSE') return { ...next, pauseReasons: ev.charging_paused_evse?.reasons ?? undefined };
  return next;
}

function onSessionEventState(view: EvseView, ev: SessionEvent, nowMs: number): EvseView {
  const base: EvseView = { ...view, eventsSeen: true, lastEvent: { event: ev.event, atMs: nowMs } };
  const connectorId = ev.connector_id ?? 1;
  const meterOf = (m?: { meter_value: Powermeter }) => m?.meter_value.energy_Wh_import.total;
  switch (ev.event) {
    // EVerest 1.0's C++ spells SessionResumed with a trailing colon; both forms arrive.
    case 'SessionStarted':
    case 'SessionResumed':
    case 'SessionResumed:':
      return {
        ...base,
        state: 'Preparing',
        connectorId,
        session: { uuid: ev.uuid, startedAtMs: nowMs, transaction: false, startMeterWh: meterOf(ev.session_started) ?? view.meterWh },
        energyWh: 0,
        powerW: 0,
        peakPowerW: undefined,
        evMaxPowerW: undefined,
      };
    case 'AuthRequired':
      return { ...base, state: 'AuthRequired', session: base.session ?? newSession(ev, nowMs, view) };
    case 'TransactionStarted': {
      const session = base.session ?? newSession(ev, nowMs, view);
      return { ...base, state: 'Preparing', session: { ...session, transaction: true, startMeterWh: meterOf(ev.transaction_started) ?? session.startMeterWh } };
    }
    case 'PrepareCharging':
      return { ...base, state: 'Preparing', session: base.session ?? newSession(ev, nowMs, view) };
    case 'ChargingStarted':
    case 'ChargingResumed':
      return { ...base, state: 'Charging', session: withTransaction(base.session ?? newSession(ev, nowMs, view)) };
    case 'ChargingPausedEV':
    case 'ChargingPausedEVSE':
    case 'WaitingForEnergy':
      return { ...base, state: ev.event, powerW: 0, session: withTransaction(base.session ?? newSession(ev, nowMs, view)) };
    case 'StoppingCharging':
      return base;
    case 'ChargingFinished':
    case 'TransactionFinished':
      return {
        ...base,
        state: ev.transaction_finished?.reason === 'Local' ? 'FinishedEVSE' : 'Finished',
        powerW: 0,
        session: base.session ? { ...base.session, transaction: false } : undefined,
      };
    case 'SessionFinished':
      return { ...base, state: 'Unplugged', powerW: 0, session: undefined, evMaxPowerW: undefined };
    case 'Enabled':
      return { ...base, state: base.session ? 'Preparing' : 'Unplugged' };
    case 'Disabled':
      return { ...base, state: 'Disabled', powerW: 0 };
    case 'PluginTimeout':
      return { ...base, state: 'AuthTimeout', powerW: 0 };
    case 'ReservationStart':
      return base.session ? base : { ...base, state: 'Reserved' };
    case 'ReservationEnd':
      return base.state === 'Reserved' ? { ...base, state: 'Unplugged' } : base;
    default:
      return base;
  }
}

/**
 * session_info is a hint: it sets the state until session events are seen (a module started
 * mid-session learns the state from it) and whenever the state is in doubt (a lost event), and
 * otherwise refreshes energy and power while a session runs.
 */
function onSessionInfo(view: EvseView, info: SessionInfo, nowMs: number): EvseView {
  // Release 2026.02 shows FinishedEV while a pause runs through StoppingCharging: a passing state, not
  // an answer to the doubt (the next session_info settles it).
  const passing = view.stateInDoubt === true && view.session !== undefined && info.state === 'FinishedEV';
  if (!view.eventsSeen || (view.stateInDoubt === true && !passing)) {
    const inSession = SESSION_STATES.has(info.state);
    const startedAtMs = info.session_start_time ? Date.parse(info.session_start_time) : NaN;
    const keepsReasons = info.state === 'ChargingPausedEVSE' && view.state === 'ChargingPausedEVSE';
    return {
      ...view,
      stateInDoubt: false,
      stateReadAtMs: nowMs,
      ...(keepsReasons ? {} : { pauseReasons: undefined }),
      state: info.state,
      session: inSession
        ? view.session ?? {
            uuid: `${BOOTSTRAP_UUID_PREFIX}${view.moduleId}`,
            startedAtMs: Number.isFinite(startedAtMs) ? Math.min(startedAtMs, nowMs) : nowMs,
            transaction: info.transaction_start_time !== undefined || info.state === 'Charging',
          }
        : undefined,
      powerW: info.state === 'Charging' ? Math.max(0, info.latest_total_w) : 0,
      energyWh: inSession ? info.charged_energy_wh : view.energyWh,
    };
  }
  if (!view.session) return view;
  return withPeak(
    {
      ...view,
      energyWh: info.charged_energy_wh,
      powerW: view.state === 'Charging' ? Math.max(0, info.latest_total_w) : 0,
    },
    nowMs,
  );
}

/** Cars ramp for a few seconds after starting; samples before that would understate what they take. */
export const RAMP_MS = 10_000;

function withPeak(view: EvseView, nowMs: number): EvseView {
  if (view.state !== 'Charging' || !view.session || view.lastOnMs === undefined || nowMs - view.lastOnMs < RAMP_MS) return view;
  if (view.peakPowerW !== undefined && view.peakPowerW >= view.powerW) return view;
  return { ...view, peakPowerW: view.powerW };
}

function newSession(ev: SessionEvent, nowMs: number, view: EvseView): NonNullable<EvseView['session']> {
  return { uuid: ev.uuid, startedAtMs: nowMs, transaction: false, startMeterWh: view.meterWh };
}

function withTransaction(session: NonNullable<EvseView['session']>): NonNullable<EvseView['session']> {
  return session.transaction ? session : { ...session, transaction: true };
}

function withTransitions(prev: EvseView, next: EvseView, nowMs: number): EvseView {
  if (prev.state !== 'Charging' && next.state === 'Charging') return { ...next, lastOnMs: nowMs };
  if (prev.state === 'Charging' && next.state !== 'Charging') return { ...next, lastOffMs: nowMs };
  return next;
}
