import type { EvseState, SessionEvent, SessionInfo } from '../everest/payloads.js';

const CHARGING_STATES: ReadonlySet<EvseState> = new Set(['Charging', 'ChargingPausedEV', 'ChargingPausedEVSE']);
const NOT_RUNNING: ReadonlySet<EvseState> = new Set(['Unplugged', 'Disabled', 'Finished', 'FinishedEVSE', 'FinishedEV', 'AuthTimeout']);

/** The state the API module derives from one session event; undefined leaves the state as it was. */
export function stateAfterEvent(event: SessionEvent): EvseState | undefined {
  switch (event.event) {
    case 'Enabled':
      return 'Unplugged';
    case 'Disabled':
      return 'Disabled';
    case 'AuthRequired':
      return 'AuthRequired';
    case 'SessionStarted':
    case 'PrepareCharging':
    case 'TransactionStarted':
      return 'Preparing';
    case 'ChargingResumed':
    case 'ChargingStarted':
      return 'Charging';
    case 'ChargingPausedEV':
      return 'ChargingPausedEV';
    case 'ChargingPausedEVSE':
      return 'ChargingPausedEVSE';
    case 'WaitingForEnergy':
      return 'WaitingForEnergy';
    case 'ChargingFinished':
      return 'Finished';
    // The API module maps this to FinishedEV even when the EVSE stopped; kept as is.
    case 'StoppingCharging':
      return 'FinishedEV';
    case 'TransactionFinished':
      return event.transaction_finished?.reason === 'Local' ? 'FinishedEVSE' : 'Finished';
    case 'PluginTimeout':
      return 'AuthTimeout';
    case 'SessionFinished':
      return 'Unplugged';
    default:
      return undefined;
  }
}

/**
 * The running summary the evse_manager_consumer_API module keeps: energy and duration only move
 * while the state is a charging state, and everything resets at SessionStarted.
 */
export class SessionInfoTracker {
  private state: EvseState = 'Unknown';
  private startWh = 0;
  private endWh = 0;
  private startAt: number;
  private endAt: number;
  private latestW = 0;
  private protocol: string | undefined;

  constructor(now: number) {
    this.startAt = now;
    this.endAt = now;
  }

  get current(): EvseState {
    return this.state;
  }

  /** Whether powermeter samples are forwarded as session_info (about 1 Hz during a session). */
  get running(): boolean {
    return !NOT_RUNNING.has(this.state);
  }

  onEvent(event: SessionEvent, meterWh: number, now: number): void {
    if (event.event === 'SessionStarted') {
      this.startWh = meterWh;
      this.endWh = meterWh;
      this.startAt = now;
      this.endAt = now;
      this.latestW = 0;
      this.protocol = 'IEC61851-1';
    }
    const next = stateAfterEvent(event);
    if (next !== undefined) this.state = next;
    if (event.event === 'TransactionFinished') {
      this.endWh = meterWh;
      this.endAt = now;
    }
    if (event.event === 'SessionFinished') this.protocol = undefined;
  }

  onMeter(meterWh: number, powerW: number, now: number): void {
    this.latestW = powerW;
    if (CHARGING_STATES.has(this.state)) {
      this.endWh = meterWh;
      this.endAt = now;
    }
  }

  payload(now: number): SessionInfo {
    return {
      state: this.state,
      // The epsilon keeps float noise (11039.9999...) from costing a whole Wh.
      charged_energy_wh: Math.max(0, Math.floor(this.endWh - this.startWh + 1e-6)),
      discharged_energy_wh: 0,
      latest_total_w: Math.round(this.latestW),
      session_duration_s: Math.max(0, Math.floor((this.endAt - this.startAt) / 1000)),
      timestamp: new Date(now).toISOString(),
      ...(this.protocol !== undefined ? { selected_protocol: this.protocol } : {}),
    };
  }
}
