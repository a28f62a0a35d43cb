import { createHash } from 'node:crypto';
import type { EvInfo, Powermeter, ProvidedIdToken, SessionEvent, StopTransactionReason } from '../everest/payloads.js';
import type { MeterValuesRequest, TransactionEventRequest } from './ocpp-schemas.js';

// The EVerest -> OCPP 2.0.1 mapping, pure: (state of one EVSE, EVerest message, time) -> (state, bodies).
// docs/forwarding.md has the same mapping as a table; keep them together.

type ChargingState = NonNullable<TransactionEventRequest['transactionInfo']['chargingState']>;
type TriggerReason = TransactionEventRequest['triggerReason'];
type StoppedReason = NonNullable<TransactionEventRequest['transactionInfo']['stoppedReason']>;
type IdTokenType = NonNullable<TransactionEventRequest['idToken']>;
type MeterValue = NonNullable<TransactionEventRequest['meterValue']>[number];
type SampledValue = MeterValue['sampledValue'][number];
type ReadingContext = NonNullable<SampledValue['context']>;

/** Where an EVSE's messages go and how the cloud names it. */
export interface EvseAddress {
  moduleId: string;
  /** The `{uid}` of the cloud's URLs. */
  stationUid: string;
  /** OCPP evse.id within the station (1-based). */
  evseId: number;
  /** Connector used when a session event names none. */
  connectorId: number;
}

/** One OCPP transaction in progress; persisted so seqNo stays gap-free across our restarts. */
export interface OpenTransaction {
  transactionId: string;
  /** EVerest's session uuid ('' when it gave none). */
  sessionUuid: string;
  /** seqNo of the next TransactionEvent. */
  nextSeqNo: number;
  chargingState: ChargingState;
  connectorId: number;
}

/** What the mapping remembers of one EVSE between messages. */
export interface EvseTxState {
  session?: { uuid: string; startReason: 'EVConnected' | 'Authorized' };
  open?: OpenTransaction;
  /** Offered current (A per phase) last reported, for ChargingRateChanged. */
  currentA?: number;
}

export interface MappingResult {
  state: EvseTxState;
  events: TransactionEventRequest[];
}

/** A change of offered current smaller than this is noise (rounding, 0.5 A slices), not a new rate. */
export const RATE_CHANGE_MIN_A = 1;

const OCPP_ID_TOKEN_TYPES: ReadonlySet<string> = new Set<IdTokenType['type']>([
  'Central',
  'eMAID',
  'ISO14443',
  'ISO15693',
  'KeyCode',
  'Local',
  'MacAddress',
  'NoAuthorization',
]);

/** EVerest stop reasons that OCPP 2.0.1 names differently or not at all. */
const STOPPED_REASON: Partial<Record<StopTransactionReason, StoppedReason>> = {
  HardReset: 'ImmediateReset',
  SoftReset: 'Reboot',
  UnlockCommand: 'Other',
  ReqEnergyTransferRejected: 'Other',
};

const ENDED_TRIGGER: Partial<Record<StopTransactionReason, TriggerReason>> = {
  EVDisconnected: 'EVDeparted',
  Remote: 'RemoteStop',
  Local: 'StopAuthorized',
  DeAuthorized: 'Deauthorized',
  EnergyLimitReached: 'EnergyLimitReached',
  TimeLimitReached: 'TimeLimitReached',
  UnlockCommand: 'UnlockCommand',
  HardReset: 'ResetCommand',
  SoftReset: 'ResetCommand',
  StoppedByEV: 'ChargingStateChanged',
  SOCLimitReached: 'ChargingStateChanged',
  Timeout: 'EVConnectTimeout',
};

const OCPP_REASONS: ReadonlySet<string> = new Set<StoppedReason>([
  'DeAuthorized',
  'EmergencyStop',
  'EnergyLimitReached',
  'EVDisconnected',
  'GroundFault',
  'ImmediateReset',
  'Local',
  'LocalOutOfCredit',
  'MasterPass',
  'Other',
  'OvercurrentFault',
  'PowerLoss',
  'PowerQuality',
  'Reboot',
  'Remote',
  'SOCLimitReached',
  'StoppedByEV',
  'TimeLimitReached',
  'Timeout',
]);

/** Charging-state events; PrepareCharging, StoppingCharging and ChargingFinished are steps between states and change nothing. */
const CHARGING_STATE: Partial<Record<SessionEvent['event'], ChargingState>> = {
  ChargingStarted: 'Charging',
  ChargingResumed: 'Charging',
  ChargingPausedEV: 'SuspendedEV',
  ChargingPausedEVSE: 'SuspendedEVSE',
  WaitingForEnergy: 'SuspendedEVSE',
};

/** OCPP's transactionId holds at most 36 characters; EVerest's session uuid fits, anything else is hashed to fit. */
export function transactionIdOf(moduleId: string, sessionUuid: string): string {
  if (sessionUuid !== '' && sessionUuid.length <= 36) return sessionUuid;
  return createHash('sha256').update(`${moduleId}\u0000${sessionUuid}`).digest('hex').slice(0, 36);
}

export function stoppedReasonOf(reason: StopTransactionReason | undefined): StoppedReason | undefined {
  if (reason === undefined) return undefined;
  const mapped = STOPPED_REASON[reason] ?? reason;
  return OCPP_REASONS.has(mapped) ? (mapped as StoppedReason) : 'Other';
}

function endedTrigger(reason: StopTransactionReason | undefined): TriggerReason {
  if (reason === undefined) return 'StopAuthorized';
  return ENDED_TRIGGER[reason] ?? 'AbnormalCondition';
}

function isoTimestamp(text: string | undefined, fallbackMs: number): string {
  const ms = text === undefined ? NaN : Date.parse(text);
  return new Date(Number.isFinite(ms) ? ms : fallbackMs).toISOString();
}

/** EVerest's token as OCPP's, or nothing when OCPP cannot carry it (unknown type, longer than 36). */
export function idTokenOf(token: ProvidedIdToken | undefined): IdTokenType | undefined {
  const id = token?.id_token;
  if (!id || id.value === '' || id.value.length > 36 || !OCPP_ID_TOKEN_TYPES.has(id.type)) return undefined;
  return { idToken: id.value, type: id.type as IdTokenType['type'] };
}

function energyValue(meter: Powermeter | undefined, context: ReadingContext, nowMs: number): [MeterValue] | undefined {
  if (!meter) return undefined;
  return [
    {
      timestamp: isoTimestamp(meter.timestamp, nowMs),
      sampledValue: [
        { value: meter.energy_Wh_import.total, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
      ],
    },
  ];
}

function base(
  address: EvseAddress,
  open: OpenTransaction,
  eventType: TransactionEventRequest['eventType'],
  triggerReason: TriggerReason,
  timestamp: string,
): TransactionEventRequest {
  return {
    eventType,
    timestamp,
    triggerReason,
    seqNo: open.nextSeqNo,
    transactionInfo: { transactionId: open.transactionId },
    evse: { id: address.evseId, connectorId: open.connectorId },
  };
}

function endOpen(
  address: EvseAddress,
  open: OpenTransaction,
  timestamp: string,
  trigger: TriggerReason,
  reason: StoppedReason | undefined,
  finalState: ChargingState,
  meter: [MeterValue] | undefined,
): TransactionEventRequest {
  const body = base(address, open, 'Ended', trigger, timestamp);
  if (finalState !== open.chargingState) body.transactionInfo.chargingState = finalState;
  if (reason !== undefined) body.transactionInfo.stoppedReason = reason;
  if (meter) body.meterValue = meter;
  return body;
}

/** One EVerest session event -> the TransactionEvents it means (none, one, or an Ended plus a Started). */
export function mapSessionEvent(state: EvseTxState, event: SessionEvent, address: EvseAddress, nowMs: number): MappingResult {
  const timestamp = isoTimestamp(event.timestamp, nowMs);
  const connectorId = event.connector_id ?? state.open?.connectorId ?? address.connectorId;
  const events: TransactionEventRequest[] = [];
  let { open, session } = state;

  /** A transaction EVerest never closed (a missed TransactionFinished) ends before anything new starts. */
  const closeStale = (uuid: string) => {
    if (open && open.sessionUuid !== uuid) {
      events.push(endOpen(address, open, timestamp, 'AbnormalCondition', 'Other', open.chargingState, undefined));
      open = undefined;
    }
  };
  const start = (uuid: string, trigger: TriggerReason, chargingState: ChargingState, extra: Partial<TransactionEventRequest>) => {
    open = { transactionId: transactionIdOf(address.moduleId, uuid), sessionUuid: uuid, nextSeqNo: 0, chargingState, connectorId };
    const body = base(address, open, 'Started', trigger, timestamp);
    body.transactionInfo.chargingState = chargingState;
    events.push({ ...body, ...extra });
    open = { ...open, nextSeqNo: 1 };
  };

  switch (event.event) {
    case 'SessionStarted':
      closeStale(event.uuid);
      session = { uuid: event.uuid, startReason: event.session_started?.reason ?? 'EVConnected' };
      break;
    case 'TransactionStarted': {
      if (open && open.sessionUuid === event.uuid && event.uuid !== '') break;
      closeStale(event.uuid);
      // Plugged in first, so the authorization started it; or authorized first, so the cable did.
      const trigger: TriggerReason = session?.uuid === event.uuid && session.startReason === 'Authorized' ? 'CablePluggedIn' : 'Authorized';
      const idToken = idTokenOf(event.transaction_started?.id_tag);
      const meterValue = energyValue(event.transaction_started?.meter_value, 'Transaction.Begin', nowMs);
      start(event.uuid, trigger, 'EVConnected', { ...(idToken ? { idToken } : {}), ...(meterValue ? { meterValue } : {}) });
      break;
    }
    case 'TransactionFinished': {
      if (!open || (event.uuid !== '' && open.sessionUuid !== event.uuid)) break;
      const reason = event.transaction_finished?.reason;
      const finalState: ChargingState = reason === 'EVDisconnected' ? 'Idle' : 'EVConnected';
      const meter = energyValue(event.transaction_finished?.meter_value, 'Transaction.End', nowMs);
      events.push(endOpen(address, open, timestamp, endedTrigger(reason), stoppedReasonOf(reason), finalState, meter));
      open = undefined;
      break;
    }
    case 'SessionFinished':
      if (open && (event.uuid === '' || open.sessionUuid === event.uuid)) {
        const meter = energyValue(event.session_finished?.meter_value, 'Transaction.End', nowMs);
        events.push(endOpen(address, open, timestamp, 'EVDeparted', 'EVDisconnected', 'Idle', meter));
        open = undefined;
      }
      session = undefined;
      break;
    default: {
      const chargingState = CHARGING_STATE[event.event];
      if (chargingState === undefined) break;
      if (!open || (event.uuid !== '' && open.sessionUuid !== event.uuid)) {
        // We came up in the middle of a transaction we had not seen start: begin it now.
        if (event.uuid === '') break;
        closeStale(event.uuid);
        start(event.uuid, 'ChargingStateChanged', chargingState, {});
        break;
      }
      if (chargingState === open.chargingState) break;
      const body = base(address, open, 'Updated', 'ChargingStateChanged', timestamp);
      body.transactionInfo.chargingState = chargingState;
      events.push(body);
      open = { ...open, nextSeqNo: open.nextSeqNo + 1, chargingState };
    }
  }
  return { state: withOptional(state, session, open), events };
}

/** The current EVerest offers the car changed (our allocation or anyone's): ChargingRateChanged while charging. */
export function mapOfferedCurrent(state: EvseTxState, currentA: number, address: EvseAddress, nowMs: number): MappingResult {
  const previous = state.currentA;
  // Small steps keep the old reference, so a slow drift still ends in one message.
  if (previous !== undefined && Math.abs(currentA - previous) < RATE_CHANGE_MIN_A) return { state, events: [] };
  const next: EvseTxState = { ...state, currentA };
  const open = state.open;
  if (previous === undefined || !open || open.chargingState !== 'Charging') return { state: next, events: [] };
  const body = base(address, open, 'Updated', 'ChargingRateChanged', new Date(nowMs).toISOString());
  return { state: { ...next, open: { ...open, nextSeqNo: open.nextSeqNo + 1 } }, events: [body] };
}

function withOptional(state: EvseTxState, session: EvseTxState['session'], open: OpenTransaction | undefined): EvseTxState {
  const out: EvseTxState = {};
  if (session) out.session = session;
  if (open) out.open = open;
  if (state.currentA !== undefined) out.currentA = state.currentA;
  return out;
}

/** A periodic MeterValues from the latest powermeter sample (and SoC when the car reports it). */
export function meterValuesBody(evseId: number, meter: Powermeter, ev: EvInfo | undefined, nowMs: number): MeterValuesRequest {
  const sampled: SampledValue[] = [
    { value: meter.energy_Wh_import.total, context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
  ];
  const totalW = meter.power_W?.total;
  if (totalW !== undefined) {
    sampled.push({ value: Math.max(0, totalW), context: 'Sample.Periodic', measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } });
  }
  if (meter.energy_Wh_export !== undefined) {
    sampled.push({
      value: meter.energy_Wh_export.total,
      context: 'Sample.Periodic',
      measurand: 'Energy.Active.Export.Register',
      unitOfMeasure: { unit: 'Wh' },
    });
    if (totalW !== undefined) {
      sampled.push({ value: Math.max(0, -totalW), context: 'Sample.Periodic', measurand: 'Power.Active.Export', unitOfMeasure: { unit: 'W' } });
    }
  }
  if (ev?.soc !== undefined) {
    sampled.push({ value: ev.soc, context: 'Sample.Periodic', measurand: 'SoC', location: 'EV', unitOfMeasure: { unit: 'Percent' } });
  }
  const [first, ...rest] = sampled as [SampledValue, ...SampledValue[]];
  return { evseId, meterValue: [{ timestamp: isoTimestamp(meter.timestamp, nowMs), sampledValue: [first, ...rest] }] };
}
