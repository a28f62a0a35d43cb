import type {
  EnableDisableSourceValue,
  ProvidedIdToken,
  SessionEventKind,
  StopTransactionReason,
  StopTransactionRequest,
} from '../everest/payloads.js';
import { reportsPauseReasons, type EverestRelease, type PauseReason } from '../everest/release.js';
import { EnableTable } from './enable-table.js';

/** EvseManager's internal states for AC basic charging (no HLC, no phase switching, no replug). */
export type ChargerState =
  | 'Disabled'
  | 'Idle'
  | 'WaitingForAuthentication'
  | 'PrepareCharging'
  | 'Charging'
  | 'ChargingPausedEV'
  | 'ChargingPausedEVSE'
  | 'WaitingForEnergy'
  | 'StoppingCharging'
  | 'Finished';

export interface ChargerSignal {
  event: SessionEventKind;
  uuid: string;
  startReason?: 'EVConnected' | 'Authorized';
  idTag?: ProvidedIdToken;
  stopReason?: StopTransactionReason;
  source?: EnableDisableSourceValue;
  connectorId?: number;
  reservationId?: number;
  /** ChargingPausedEVSE in release 2026.02: why the EVSE holds the car. */
  pauseReasons?: PauseReason[];
}

export interface ChargerEnvironment {
  /** More than 5.9 A offered. */
  powerAvailable(): boolean;
  /** The car is plugged and would draw current (state C) whenever PWM is on. */
  carWantsPower(): boolean;
  carPlugged(): boolean;
  /** EvseManager's `disable_authentication`: authorize every plug-in with FREESERVICE. */
  freeService(): boolean;
  newSessionId(): string;
  signal(signal: ChargerSignal): void;
}

export const FREE_SERVICE_TOKEN: ProvidedIdToken = {
  id_token: { value: 'FREESERVICE', type: 'Local' },
  authorization_type: 'RFID',
  prevalidated: true,
};

const MAX_MAINLOOP_RUNS = 20;

/**
 * A port of EvseManager's Charger (modules/EvseManager/Charger.cpp) for AC basic charging: plain
 * state assignments, and a `run()` that, like EVerest's run_state_machine, performs a state's entry
 * work when it notices the state changed. Quirks are kept on purpose (see the comments).
 */
export class Charger {
  readonly table = new EnableTable();
  private current: ChargerState = 'Idle';
  private lastDetected: ChargerState = 'Disabled';
  private previous: ChargerState = 'Disabled';
  private connectorEnabled = true;
  private connectorStatusChanged = false;
  private sessionActive = false;
  private sessionId = '';
  private authorized = false;
  private transactionActive = false;
  private idToken: ProvidedIdToken | undefined;
  private stopReason: StopTransactionReason | undefined;
  private stopIdTag: ProvidedIdToken | undefined;
  private reservationId: number | undefined;
  /** Release 2026.02: why the EVSE pauses (UserPause from pause_charging, NoEnergy from the energy budget). */
  private readonly reasons = new Set<PauseReason>();
  private readonly withReasons: boolean;

  constructor(
    private readonly env: ChargerEnvironment,
    release: EverestRelease = '2025.11',
  ) {
    this.withReasons = reportsPauseReasons(release);
  }

  /** Start-up: Idle, then the initial Enabled event with the seeded Unspecified/Enable entry. */
  boot(): void {
    this.run();
    this.emit({ event: 'Enabled', uuid: this.sessionId, source: this.table.activeSource });
  }

  get state(): ChargerState {
    return this.current;
  }

  get session(): { active: boolean; id: string; authorized: boolean; transactionActive: boolean } {
    return { active: this.sessionActive, id: this.sessionId, authorized: this.authorized, transactionActive: this.transactionActive };
  }

  get enabled(): boolean {
    return this.table.enabled;
  }

  get reservation(): number | undefined {
    return this.reservationId;
  }

  // ------------------------------------------------------------------ control pilot (the car)

  carPluggedIn(): void {
    if (this.current === 'Idle') this.current = 'WaitingForAuthentication';
    this.run();
  }

  carUnplugged(): void {
    if (this.current === 'Disabled') {
      // Deliberate deviation: EVerest would leave Disabled for StoppingCharging/Idle here, which
      // would let the next car charge on a disabled EVSE. The session still ends.
      if (this.transactionActive) this.stopTransaction();
      if (this.sessionActive) this.stopSession();
      return;
    }
    this.current = 'StoppingCharging';
    this.run();
  }

  // ------------------------------------------------------------------ commands

  authorize(token: ProvidedIdToken): void {
    this.grantAuthorization(token);
    this.run();
  }

  deauthorize(): boolean {
    const result = this.deauthorizeInternal();
    this.run();
    return result;
  }

  enableDisable(connectorId: number, source: EnableDisableSourceValue): boolean {
    this.connectorStatusChanged = connectorId !== 0;
    const update = this.table.update(source);
    // Only a non-zero connector id updates connector_enabled; with connector 0 it stays true, so
    // any request while Disabled moves the state machine to Idle (an EVerest quirk, kept).
    if (connectorId !== 0) this.connectorEnabled = update.enabled;
    if (this.current === 'Disabled' && this.connectorEnabled) this.current = 'Idle';
    if (update.changed) {
      if (update.enabled) {
        this.emit({ event: 'Enabled', uuid: this.sessionId, ...this.enableDetails() });
      } else {
        this.current = 'Disabled';
        // Signalled here and again when the state machine enters Disabled: EVerest sends it twice.
        this.emit({ event: 'Disabled', uuid: this.sessionId, ...this.enableDetails() });
      }
    }
    const wasDisabled = this.lastDetected === 'Disabled';
    this.run();
    // Leaving F makes the board support report the plugged car again.
    if (wasDisabled && this.current === 'Idle' && this.env.carPlugged()) this.carPluggedIn();
    return update.enabled;
  }

  pauseCharging(): boolean {
    if (this.withReasons) return this.pauseWithReason('UserPause');
    if (this.current !== 'Charging') return false;
    this.current = 'ChargingPausedEVSE';
    this.run();
    return true;
  }

  /** Only an EVSE pause is resumed, and only to WaitingForEnergy; the next power update continues. */
  resumeCharging(): boolean {
    if (!this.transactionActive || this.current !== 'ChargingPausedEVSE') return false;
    if (this.withReasons) {
      this.dropReason('UserPause');
      return true;
    }
    this.current = 'WaitingForEnergy';
    this.run();
    return true;
  }

  /** EvseManager calls this on every energy update with a usable limit. */
  resumeChargingPowerAvailable(): boolean {
    if (this.withReasons) {
      // 2026.02 has no WaitingForEnergy: the energy budget adds or drops the NoEnergy reason.
      if (this.env.powerAvailable()) {
        if (this.reasons.has('NoEnergy')) this.dropReason('NoEnergy');
      } else if (this.transactionActive && (this.current === 'Charging' || this.current === 'ChargingPausedEV' || this.current === 'ChargingPausedEVSE')) {
        this.pauseWithReason('NoEnergy');
      }
      return this.current === 'PrepareCharging' || this.current === 'Charging';
    }
    if (!this.transactionActive || this.current !== 'WaitingForEnergy' || !this.env.powerAvailable()) return false;
    this.current = 'PrepareCharging';
    this.run();
    return true;
  }

  cancelTransaction(request: StopTransactionRequest): boolean {
    if (!this.transactionActive) return false;
    // With the contactor closed the transaction ends on the contactor-open event, i.e. after
    // ChargingPausedEVSE; with it open it ends right away, before the state machine runs.
    const contactorOpen = this.current !== 'Charging';
    this.reasons.clear();
    this.current = 'ChargingPausedEVSE';
    this.authorized = false;
    this.stopReason = request.reason;
    this.stopIdTag = request.id_tag;
    if (contactorOpen) this.stopTransaction();
    this.run();
    if (!contactorOpen) this.stopTransaction();
    return true;
  }

  reserve(id: number): boolean {
    if (this.current !== 'Idle' || this.reservationId !== undefined) return false;
    this.reservationId = id;
    this.emit({ event: 'ReservationStart', uuid: '' });
    return true;
  }

  cancelReservation(signal: boolean): void {
    if (this.reservationId === undefined) return;
    this.reservationId = undefined;
    if (signal) this.emit({ event: 'ReservationEnd', uuid: '' });
  }

  /** Re-evaluate conditions (power, car) as EVerest's 100 ms main loop would. */
  run(): void {
    let runs = 0;
    do {
      runs += 1;
      const init = this.lastDetected !== this.current;
      this.previous = this.lastDetected;
      this.lastDetected = this.current;
      this.step(init);
    } while (this.lastDetected !== this.current && runs < MAX_MAINLOOP_RUNS);
  }

  // ------------------------------------------------------------------ internals

  private step(init: boolean): void {
    switch (this.current) {
      case 'Disabled':
        if (init) {
          this.emit({ event: 'Disabled', uuid: this.sessionId, ...this.enableDetails() });
          this.cancelReservation(true);
        }
        break;
      case 'Idle':
        if (init) {
          this.reasons.clear();
          this.deauthorizeInternal();
          // No TransactionFinished here: a transaction interrupted by disable/enable just vanishes.
          this.transactionActive = false;
        }
        break;
      case 'WaitingForAuthentication':
        if (init) {
          const fresh = !this.sessionActive;
          if (fresh) this.startSession('EVConnected', undefined);
          this.emit({ event: 'AuthRequired', uuid: this.sessionId });
          if (fresh && this.env.freeService()) this.grantAuthorization(FREE_SERVICE_TOKEN);
        }
        if (this.authorized) {
          if (!this.transactionActive) this.startTransaction();
          this.current = 'PrepareCharging';
        }
        break;
      case 'PrepareCharging':
        if (init) this.emit({ event: 'PrepareCharging', uuid: this.sessionId });
        if (!this.env.powerAvailable()) {
          if (this.withReasons) {
            this.reasons.add('NoEnergy');
            this.current = 'ChargingPausedEVSE';
          } else this.current = 'WaitingForEnergy';
        } else if (this.env.carWantsPower()) {
          this.emit({ event: 'ChargingStarted', uuid: this.sessionId });
          this.current = 'Charging';
        }
        break;
      case 'Charging':
        if (!this.env.powerAvailable()) {
          if (this.withReasons) this.pauseWithReason('NoEnergy');
          else this.current = 'WaitingForEnergy';
          break;
        }
        // 2026.02 has no ChargingResumed: the car coming back from its own pause starts charging again.
        if (init && this.previous !== 'PrepareCharging') this.emit({ event: this.withReasons ? 'ChargingStarted' : 'ChargingResumed', uuid: this.sessionId });
        if (!this.env.carWantsPower()) this.current = 'ChargingPausedEV';
        break;
      case 'ChargingPausedEV':
        if (!this.env.powerAvailable()) {
          if (this.withReasons) {
            this.reasons.add('NoEnergy');
            this.current = 'ChargingPausedEVSE';
          } else this.current = 'WaitingForEnergy';
          break;
        }
        if (init) this.emit({ event: 'ChargingPausedEV', uuid: this.sessionId });
        if (this.env.carWantsPower()) this.current = 'Charging';
        break;
      case 'ChargingPausedEVSE':
        if (init) this.emitPaused();
        break;
      case 'WaitingForEnergy':
        if (init) this.emit({ event: 'WaitingForEnergy', uuid: this.sessionId });
        break;
      case 'StoppingCharging':
        if (init) {
          if (this.transactionActive || this.sessionActive) this.emit({ event: 'StoppingCharging', uuid: this.sessionId });
          this.current = 'Finished';
        }
        break;
      case 'Finished':
        if (init) {
          if (this.transactionActive) this.stopTransaction();
          if (this.sessionActive) this.stopSession();
        }
        this.current = 'Idle';
        break;
    }
  }

  /**
   * 2026.02: Charging -> StoppingCharging -> ChargingPausedEVSE with the reasons; already paused, a new
   * ChargingPausedEVSE event whenever the set of reasons changes.
   */
  private pauseWithReason(reason: PauseReason): boolean {
    const paused = this.current === 'ChargingPausedEVSE';
    if (!paused && this.current !== 'Charging') return false;
    if (this.reasons.has(reason)) return true;
    this.reasons.add(reason);
    if (paused) {
      this.emitPaused();
      return true;
    }
    this.emit({ event: 'StoppingCharging', uuid: this.sessionId });
    this.current = 'ChargingPausedEVSE';
    this.run();
    return true;
  }

  /** 2026.02: the last reason gone, the EVSE resumes through PrepareCharging -> ChargingStarted. */
  private dropReason(reason: PauseReason): void {
    if (!this.reasons.delete(reason) || this.current !== 'ChargingPausedEVSE') return;
    if (this.reasons.size > 0) {
      this.emitPaused();
      return;
    }
    this.current = 'PrepareCharging';
    this.run();
  }

  private emitPaused(): void {
    this.emit({ event: 'ChargingPausedEVSE', uuid: this.sessionId, ...(this.withReasons && this.reasons.size > 0 ? { pauseReasons: [...this.reasons] } : {}) });
  }

  private grantAuthorization(token: ProvidedIdToken): void {
    if (!this.sessionActive) this.startSession('Authorized', token);
    this.emit({ event: 'Authorized', uuid: this.sessionId });
    this.authorized = true;
    this.idToken = token;
  }

  private deauthorizeInternal(): boolean {
    if (!this.sessionActive) return false;
    this.emit({ event: 'Deauthorized', uuid: this.sessionId });
    const s = this.current;
    if (s === 'Disabled' || s === 'Idle' || s === 'WaitingForAuthentication') {
      if (!this.authorized) {
        this.emit({ event: 'PluginTimeout', uuid: this.sessionId });
        return false;
      }
      this.authorized = false;
      this.stopSession();
      return true;
    }
    return false;
  }

  private startSession(reason: 'EVConnected' | 'Authorized', token: ProvidedIdToken | undefined): void {
    this.sessionActive = true;
    this.authorized = false;
    this.sessionId = this.env.newSessionId();
    this.emit({
      event: 'SessionStarted',
      uuid: this.sessionId,
      startReason: reason,
      ...(token ? { idTag: token } : {}),
      ...(this.reservationId !== undefined ? { reservationId: this.reservationId } : {}),
    });
    if (reason === 'Authorized') this.cancelReservation(false);
  }

  private stopSession(): void {
    this.sessionActive = false;
    this.authorized = false;
    this.emit({ event: 'SessionFinished', uuid: this.sessionId });
    this.sessionId = '';
  }

  private startTransaction(): void {
    this.stopIdTag = undefined;
    this.stopReason = undefined;
    const reservationId = this.reservationId;
    this.cancelReservation(false);
    this.emit({
      event: 'TransactionStarted',
      uuid: this.sessionId,
      ...(this.idToken ? { idTag: this.idToken } : {}),
      ...(reservationId !== undefined ? { reservationId } : {}),
    });
    this.transactionActive = true;
  }

  private stopTransaction(): void {
    this.transactionActive = false;
    this.stopReason ??= 'EVDisconnected';
    this.emit({ event: 'ChargingFinished', uuid: this.sessionId });
    this.emit({
      event: 'TransactionFinished',
      uuid: this.sessionId,
      stopReason: this.stopReason,
      ...(this.stopIdTag ? { idTag: this.stopIdTag } : {}),
    });
  }

  private enableDetails(): Pick<ChargerSignal, 'source' | 'connectorId'> {
    return { source: this.table.activeSource, ...(this.connectorStatusChanged ? { connectorId: 1 } : {}) };
  }

  private emit(signal: ChargerSignal): void {
    this.env.signal(signal);
  }
}
