import { randomUUID } from 'node:crypto';
import type {
  AuthorizeResponse,
  ConnectorType,
  E2mPayloads,
  EnableDisableRequest,
  EnableDisableSourceValue,
  Evse,
  EvseState,
  Powermeter,
  ProvidedIdToken,
  SessionEvent,
  StopTransactionRequest,
} from '../everest/payloads.js';
import { publishesE2m, type EverestRelease } from '../everest/release.js';
import { Charger, type ChargerSignal, type ChargerState } from './charger.js';
import { CommunicationFaultWatch } from './comm-check.js';
import {
  enforcedLimitsPayload,
  evInfoPayload,
  evsePayload,
  hwCapabilitiesPayload,
  limitsPayload,
  type EvseHardware,
} from './evse-payloads.js';
import { chargePowerW, offeredCurrentA, phasesInUse, powerAvailable, powermeterPayload, type PhaseCount } from './physics.js';
import { SessionInfoTracker } from './session-info.js';

export interface EvseModelConfig {
  moduleId: string;
  /** 1-based; the get_evse id and the digit in the default evse_id. */
  evseIndex: number;
  evseId?: string;
  connectors?: number;
  connectorType?: ConnectorType;
  hwMaxCurrentA?: number;
  hwMinCurrentA?: number;
  hwPhases?: PhaseCount;
  nominalVoltageV?: number;
  /** What the energy manager offers before any set_limit (default: the hardware maximum). */
  initialLimitA?: number;
  initialMeterWh?: number;
  communicationCheckTimeoutS?: number;
  newSessionId?: () => string;
  /** Which EVerest release to play (default 2025.11); see src/everest/release.ts. */
  release?: EverestRelease;
}

export interface CarProfile {
  maxPowerW: number;
  phases: PhaseCount;
  /** Energy the car takes before its battery is full; undefined means it never fills. */
  targetEnergyWh: number | undefined;
  /** EvseManager with disable_authentication: the EVSE authorizes every plug-in itself. */
  autoAuthorize: boolean;
  /** An ISO 15118 car: it tells its maximum, which EVerest publishes on e2m/ev_info. A basic (PWM) car tells nothing. */
  hlc: boolean;
}

export const DEFAULT_CAR: CarProfile = { maxPowerW: 11_000, phases: 3, targetEnergyWh: undefined, autoAuthorize: false, hlc: false };

export const DEFAULT_TOKEN: ProvidedIdToken = {
  id_token: { value: 'SIMTAG0001', type: 'ISO14443' },
  authorization_type: 'RFID',
};

type OutputVar = 'session_event' | 'session_info' | 'powermeter' | 'limits' | 'enforced_limits' | 'evse_id' | 'hw_capabilities' | 'ev_info' | 'hlc_session_failed';
export type ModelOutput = { [K in OutputVar]: { name: K; payload: E2mPayloads[K] } }[OutputVar];

interface CarState {
  profile: CarProfile;
  pausedByCar: boolean;
  chargedWh: number;
}

export interface EvseSnapshot {
  moduleId: string;
  chargerState: ChargerState;
  /** What session_info reports. */
  state: EvseState;
  enabled: boolean;
  enableTable: readonly EnableDisableSourceValue[];
  activeSource: EnableDisableSourceValue;
  plugged: boolean;
  carPaused: boolean;
  batteryFull: boolean;
  sessionId: string;
  transactionActive: boolean;
  powerW: number;
  meterWh: number;
  carChargedWh: number;
  limitA: number;
  limitPhases: PhaseCount;
  reservationId: number | undefined;
}

/**
 * One EVSE as EVerest's EvseManager plus the evse_manager_consumer_API module present it: a pure
 * model driven by commands, car actions and time (`now` in ms is always passed in). Everything it
 * would publish is queued and taken with `drain()`.
 */
export class EvseModel {
  readonly moduleId: string;
  readonly evseIndex: number;
  readonly evseId: string;
  readonly hw: EvseHardware;
  readonly managerUuid: string;
  readonly comm: CommunicationFaultWatch;
  readonly release: EverestRelease;
  private charger!: Charger;
  private info!: SessionInfoTracker;
  private outbox: ModelOutput[] = [];
  private meterWh: number;
  private powerW = 0;
  private lastAdvance: number;
  private now: number;
  private limitA: number;
  private limitPhases: PhaseCount;
  private car: CarState | undefined;
  private readonly newSessionId: () => string;

  constructor(config: EvseModelConfig, now: number) {
    this.moduleId = config.moduleId;
    this.evseIndex = config.evseIndex;
    this.evseId = config.evseId ?? `DEPNXE00000${config.evseIndex}*1`;
    this.hw = {
      maxCurrentA: config.hwMaxCurrentA ?? 32,
      minCurrentA: config.hwMinCurrentA ?? 6,
      phases: config.hwPhases ?? 3,
      voltageV: config.nominalVoltageV ?? 230,
      connectorType: config.connectorType ?? 'cType2',
      connectors: config.connectors ?? 1,
    };
    this.managerUuid = `evse_manager_${config.evseIndex}`;
    this.release = config.release ?? '2025.11';
    this.comm = new CommunicationFaultWatch(config.communicationCheckTimeoutS ?? 5);
    this.meterWh = config.initialMeterWh ?? config.evseIndex * 1_000_000;
    this.limitA = config.initialLimitA ?? this.hw.maxCurrentA;
    this.limitPhases = this.hw.phases;
    this.newSessionId = config.newSessionId ?? randomUUID;
    this.lastAdvance = now;
    this.now = now;
    this.boot(now);
  }

  drain(): ModelOutput[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  snapshot(): EvseSnapshot {
    const session = this.charger.session;
    return {
      moduleId: this.moduleId,
      chargerState: this.charger.state,
      state: this.info.current,
      enabled: this.charger.enabled,
      enableTable: this.charger.table.rows,
      activeSource: this.charger.table.activeSource,
      plugged: this.car !== undefined,
      carPaused: this.car?.pausedByCar ?? false,
      batteryFull: this.batteryFull(),
      sessionId: session.id,
      transactionActive: session.transactionActive,
      powerW: this.powerW,
      meterWh: this.meterWh,
      carChargedWh: this.car?.chargedWh ?? 0,
      limitA: this.limitA,
      limitPhases: this.limitPhases,
      reservationId: this.charger.reservation,
    };
  }

  // ------------------------------------------------------------------ m2e requests and sends

  getEvse(): Evse {
    return evsePayload(this.evseIndex, this.hw);
  }

  enableDisable(request: EnableDisableRequest, now: number): boolean {
    return this.act(now, () => this.charger.enableDisable(request.connector_id, request.source));
  }

  reserve(reservationId: number, now: number): boolean {
    return this.act(now, () => this.charger.reserve(reservationId));
  }

  cancelReservation(now: number): void {
    this.act(now, () => this.charger.cancelReservation(true));
  }

  pauseCharging(now: number): boolean {
    return this.act(now, () => this.charger.pauseCharging());
  }

  resumeCharging(now: number): boolean {
    return this.act(now, () => this.charger.resumeCharging());
  }

  stopTransaction(request: StopTransactionRequest, now: number): boolean {
    return this.act(now, () => this.charger.cancelTransaction(request));
  }

  /** With a connector lock (a socket) EVerest stops the transaction and unlocks, answering true. */
  forceUnlock(_connectorId: number, now: number): boolean {
    return this.act(now, () => {
      this.charger.cancelTransaction({ reason: 'UnlockCommand' });
      return true;
    });
  }

  /** True as with `external_ready_to_start_charging: true` in the EvseManager configuration. */
  externalReadyToStartCharging(now: number): boolean {
    return this.act(now, () => true);
  }

  authorizeResponse(response: AuthorizeResponse, now: number): void {
    if (response.result.authorization_status !== 'Accepted') return;
    this.act(now, () => this.charger.authorize(response.token));
  }

  withdrawAuthorization(now: number): void {
    this.act(now, () => {
      if (this.charger.session.authorized && this.charger.reservation !== undefined) this.charger.cancelReservation(true);
      this.charger.deauthorize();
    });
  }

  // ------------------------------------------------------------------ the car and the site

  plugIn(car: Partial<CarProfile>, now: number): void {
    this.act(now, () => {
      if (this.car) return;
      this.car = { profile: { ...DEFAULT_CAR, ...car }, pausedByCar: false, chargedWh: 0 };
      this.charger.carPluggedIn();
      if (this.car.profile.hlc) this.outbox.push({ name: 'ev_info', payload: evInfoPayload(this.car.profile, this.hw.voltageV, this.evseIndex) });
    });
  }

  authorize(now: number, token: ProvidedIdToken = DEFAULT_TOKEN): void {
    this.act(now, () => this.charger.authorize(token));
  }

  evPause(now: number): void {
    this.act(now, () => {
      if (this.car) this.car.pausedByCar = true;
    });
  }

  evResume(now: number): void {
    this.act(now, () => {
      if (this.car) this.car.pausedByCar = false;
    });
  }

  unplug(now: number): void {
    this.act(now, () => {
      if (!this.car) return;
      // A real car stops drawing (C->B) before the cable comes out (B->A).
      this.car.pausedByCar = true;
      this.charger.run();
      this.car = undefined;
      this.charger.carUnplugged();
    });
  }

  setLimit(currentA: number, phases: PhaseCount | undefined, now: number): void {
    this.act(now, () => {
      const changed = currentA !== this.limitA || (phases !== undefined && phases !== this.limitPhases);
      this.limitA = currentA;
      if (phases !== undefined) this.limitPhases = phases;
      if (changed) this.queueLimits(now);
      this.charger.resumeChargingPowerAvailable();
    });
  }

  /**
   * The energy manager's update (about once a second while it runs): the limit in force for this EVSE
   * from its EnergyNode, re-published on limits/enforced_limits every time, as EVerest does.
   */
  applyEnergyLimit(currentA: number, source: string, now: number): void {
    this.act(now, () => {
      this.limitA = currentA;
      this.queueLimits(now, source);
      this.charger.resumeChargingPowerAvailable();
    });
  }

  setCarMaxPower(w: number, now: number): void {
    this.act(now, () => {
      if (this.car) this.car.profile.maxPowerW = w;
    });
  }

  setTargetEnergy(wh: number | undefined, now: number): void {
    this.act(now, () => {
      if (this.car) this.car.profile.targetEnergyWh = wh;
    });
  }

  /** An ISO 15118 session failure (release 2026.02 reports it on e2m/hlc_session_failed). */
  hlcSessionFailed(reason: string, now: number): void {
    this.advance(now);
    if (!publishesE2m(this.release, 'hlc_session_failed')) return;
    this.outbox.push({ name: 'hlc_session_failed', payload: { uuid: this.charger.session.id, reason } });
  }

  /** A process restart: fresh state machine, enable table, comm check and session info; the meter and the car stay. */
  restart(now: number): void {
    this.advance(now);
    const lostTransaction = this.charger.session.transactionActive;
    if (lostTransaction) {
      // EVerest finds the open transaction in its store at start-up and closes it as PowerLoss.
      this.signal({ event: 'TransactionFinished', uuid: '', stopReason: 'PowerLoss' });
    }
    this.comm.reset();
    this.boot(now);
  }

  /** Periodic work: the energy manager's update, physics, and the powermeter sample (plus session_info during a session). */
  tick(now: number): void {
    this.act(now, () => this.charger.resumeChargingPowerAvailable());
    const reading = this.meterReading(now);
    this.outbox.push({ name: 'powermeter', payload: reading });
    this.info.onMeter(this.meterWh, this.powerW, now);
    if (this.info.running) this.outbox.push({ name: 'session_info', payload: this.info.payload(now) });
  }

  // ------------------------------------------------------------------ internals

  private boot(now: number): void {
    this.now = now;
    this.info = new SessionInfoTracker(now);
    this.charger = new Charger({
      powerAvailable: () => powerAvailable(this.powerInputs()),
      carWantsPower: () => this.car !== undefined && !this.car.pausedByCar && !this.batteryFull(),
      carPlugged: () => this.car !== undefined,
      freeService: () => this.car?.profile.autoAuthorize ?? false,
      newSessionId: () => this.newSessionId(),
      signal: (s) => this.signal(s),
    }, this.release);
    this.outbox.push({ name: 'evse_id', payload: this.evseId });
    this.outbox.push({ name: 'hw_capabilities', payload: hwCapabilitiesPayload(this.hw) });
    this.queueLimits(now);
    this.charger.boot();
    if (this.car) this.charger.carPluggedIn();
    this.updatePower();
  }

  private act<T>(now: number, fn: () => T): T {
    this.advance(now);
    const result = fn();
    this.charger.run();
    this.updatePower();
    return result;
  }

  /** Integrates energy at the power drawn since the last call; a full battery makes the car stop. */
  private advance(now: number): void {
    this.now = Math.max(now, this.now);
    const dtMs = now - this.lastAdvance;
    if (dtMs <= 0) return;
    this.lastAdvance = now;
    if (this.powerW <= 0 || !this.car) return;
    let wh = (this.powerW * dtMs) / 3_600_000;
    const target = this.car.profile.targetEnergyWh;
    if (target !== undefined) wh = Math.max(0, Math.min(wh, target - this.car.chargedWh));
    this.meterWh += wh;
    this.car.chargedWh += wh;
    if (this.batteryFull()) {
      this.charger.run();
      this.updatePower();
    }
  }

  private updatePower(): void {
    const drawing = this.charger.state === 'Charging' && this.car !== undefined && !this.car.pausedByCar && !this.batteryFull();
    this.powerW = drawing ? chargePowerW(this.powerInputs()) : 0;
  }

  private batteryFull(): boolean {
    const target = this.car?.profile.targetEnergyWh;
    return this.car !== undefined && target !== undefined && this.car.chargedWh >= target - 1e-9;
  }

  private powerInputs(): Parameters<typeof chargePowerW>[0] {
    return {
      limitA: this.limitA,
      limitPhases: this.limitPhases,
      hwMaxA: this.hw.maxCurrentA,
      hwPhases: this.hw.phases,
      carMaxW: this.car?.profile.maxPowerW ?? 0,
      carPhases: this.car?.profile.phases ?? 3,
      voltageV: this.hw.voltageV,
    };
  }

  private queueLimits(now: number, source?: string): void {
    const current = offeredCurrentA(this.powerInputs());
    const phases = Math.min(this.limitPhases, this.hw.phases) as PhaseCount;
    if (publishesE2m(this.release, 'limits')) this.outbox.push({ name: 'limits', payload: limitsPayload(this.managerUuid, current, phases) });
    this.outbox.push({ name: 'enforced_limits', payload: enforcedLimitsPayload(this.managerUuid, current, phases, this.hw.voltageV, now, source) });
  }

  private meterReading(now: number): Powermeter {
    return powermeterPayload({
      totalWh: this.meterWh,
      powerW: this.powerW,
      phases: this.powerW > 0 ? phasesInUse(this.powerInputs()) : this.hw.phases,
      voltageV: this.hw.voltageV,
      meterId: `${this.managerUuid}_meter`,
      now,
    });
  }

  private signal(s: ChargerSignal): void {
    const now = this.now;
    const meter_value = this.meterReading(now);
    const event: SessionEvent = { uuid: s.uuid, event: s.event, timestamp: new Date(now).toISOString() };
    switch (s.event) {
      case 'SessionStarted':
        event.session_started = {
          reason: s.startReason ?? 'EVConnected',
          meter_value,
          ...(s.idTag ? { id_tag: s.idTag } : {}),
          ...(s.reservationId !== undefined ? { reservation_id: s.reservationId } : {}),
        };
        break;
      case 'TransactionStarted':
        event.transaction_started = {
          id_tag: s.idTag ?? DEFAULT_TOKEN,
          meter_value,
          ...(s.reservationId !== undefined ? { reservation_id: s.reservationId } : {}),
        };
        break;
      case 'TransactionFinished':
        event.transaction_finished = {
          meter_value,
          ...(s.stopReason ? { reason: s.stopReason } : {}),
          ...(s.idTag ? { id_tag: s.idTag } : {}),
        };
        break;
      case 'SessionFinished':
        event.session_finished = { meter_value };
        break;
      case 'Enabled':
      case 'Disabled':
        if (s.source) event.source = s.source;
        if (s.connectorId !== undefined) event.connector_id = s.connectorId;
        break;
      case 'ChargingStarted':
      case 'ChargingResumed':
      case 'ChargingPausedEV':
      case 'ChargingPausedEVSE':
        event.charging_state_changed_event = { meter_value };
        if (s.pauseReasons) event.charging_paused_evse = { reasons: s.pauseReasons };
        break;
      case 'Authorized':
      case 'Deauthorized':
        event.authorization_event = { meter_value };
        break;
      default:
        break;
    }
    this.outbox.push({ name: 'session_event', payload: event });
    this.info.onEvent(event, this.meterWh, now);
    this.outbox.push({ name: 'session_info', payload: this.info.payload(now) });
  }
}
