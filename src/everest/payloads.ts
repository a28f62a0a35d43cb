// TypeScript shapes of the evse_manager_consumer_API 1.0.0 payloads. They mirror the JSON schemas in
// asyncapi/evse_manager_consumer_API.yaml (the runtime source of truth, validated with ajv); these types
// only describe what a validated payload looks like. Unknown extra fields are tolerated on the wire.

export type EvseState =
  | 'Unknown'
  | 'Unplugged'
  | 'Disabled'
  | 'Preparing'
  | 'Reserved'
  | 'AuthRequired'
  | 'WaitingForEnergy'
  | 'ChargingPausedEV'
  | 'ChargingPausedEVSE'
  | 'Charging'
  | 'AuthTimeout'
  | 'Finished'
  | 'FinishedEVSE'
  | 'FinishedEV';

export type SessionEventKind =
  | 'Authorized'
  | 'Deauthorized'
  | 'Enabled'
  | 'Disabled'
  | 'SessionStarted'
  | 'AuthRequired'
  | 'TransactionStarted'
  | 'PrepareCharging'
  | 'ChargingStarted'
  | 'ChargingPausedEV'
  | 'ChargingPausedEVSE'
  | 'WaitingForEnergy'
  | 'ChargingResumed'
  | 'StoppingCharging'
  | 'ChargingFinished'
  | 'TransactionFinished'
  | 'SessionFinished'
  | 'ReservationStart'
  | 'ReservationEnd'
  | 'ReplugStarted'
  | 'ReplugFinished'
  | 'PluginTimeout'
  | 'SwitchingPhases'
  | 'SessionResumed'
  // What EVerest's API 1.0 JSON codec really writes for SessionResumed (trailing colon included).
  | 'SessionResumed:';

export const ENABLE_SOURCES = [
  'Unspecified',
  'LocalAPI',
  'LocalKeyLock',
  'ServiceTechnician',
  'RemoteKeyLock',
  'MobileApp',
  'FirmwareUpdate',
  'CSMS',
] as const;
export type EnableSource = (typeof ENABLE_SOURCES)[number];

export type EnableState = 'Unassigned' | 'Disable' | 'Enable';

export type StopTransactionReason =
  | 'EmergencyStop'
  | 'EVDisconnected'
  | 'HardReset'
  | 'Local'
  | 'Other'
  | 'PowerLoss'
  | 'Reboot'
  | 'Remote'
  | 'SoftReset'
  | 'UnlockCommand'
  | 'DeAuthorized'
  | 'EnergyLimitReached'
  | 'GroundFault'
  | 'LocalOutOfCredit'
  | 'MasterPass'
  | 'OvercurrentFault'
  | 'PowerQuality'
  | 'SOCLimitReached'
  | 'StoppedByEV'
  | 'TimeLimitReached'
  | 'Timeout'
  | 'ReqEnergyTransferRejected';

export type ConnectorType =
  | 'cCCS1'
  | 'cCCS2'
  | 'cG105'
  | 'cTesla'
  | 'cType1'
  | 'cType2'
  | 's309_1P_16A'
  | 's309_1P_32A'
  | 's309_3P_16A'
  | 's309_3P_32A'
  | 'sBS1361'
  | 'sCEE_7_7'
  | 'sType2'
  | 'sType3'
  | 'Other1PhMax16A'
  | 'Other1PhOver16A'
  | 'Other3Ph'
  | 'Pan'
  | 'wInductive'
  | 'wResonant'
  | 'Undetermined'
  | 'Unknown'
  | 'cMCS';

export interface PhaseValues {
  total?: number;
  L1?: number;
  L2?: number;
  L3?: number;
  N?: number;
  DC?: number;
}

export interface EnergyValues {
  total: number;
  L1?: number;
  L2?: number;
  L3?: number;
}

export interface Powermeter {
  timestamp: string;
  energy_Wh_import: EnergyValues;
  meter_id?: string;
  phase_seq_error?: boolean;
  energy_Wh_export?: EnergyValues;
  power_W?: PhaseValues;
  voltage_V?: PhaseValues;
  VAR?: PhaseValues;
  current_A?: PhaseValues;
  frequency_Hz?: PhaseValues;
  [extra: string]: unknown;
}

export interface IdToken {
  value: string;
  type: string;
  [extra: string]: unknown;
}

export interface ProvidedIdToken {
  id_token: IdToken;
  authorization_type: string;
  request_id?: number;
  connectors?: number[];
  [extra: string]: unknown;
}

export interface EnableDisableSourceValue {
  enable_source: EnableSource;
  enable_state: EnableState;
  enable_priority: number;
}

export interface SessionEvent {
  uuid: string;
  event: SessionEventKind;
  timestamp: string;
  connector_id?: number;
  session_started?: { reason: 'EVConnected' | 'Authorized'; meter_value: Powermeter; [extra: string]: unknown };
  session_finished?: { meter_value: Powermeter; [extra: string]: unknown };
  transaction_started?: { id_tag: ProvidedIdToken; meter_value: Powermeter; [extra: string]: unknown };
  transaction_finished?: {
    meter_value: Powermeter;
    reason?: StopTransactionReason;
    id_tag?: ProvidedIdToken;
    [extra: string]: unknown;
  };
  charging_state_changed_event?: { meter_value: Powermeter; [extra: string]: unknown };
  authorization_event?: { meter_value: Powermeter; [extra: string]: unknown };
  source?: EnableDisableSourceValue;
  charging_paused_evse?: { reasons: string[] };
  [extra: string]: unknown;
}

export interface SessionInfo {
  state: EvseState;
  charged_energy_wh: number;
  discharged_energy_wh: number;
  latest_total_w: number;
  session_duration_s: number;
  timestamp: string;
  selected_protocol?: string;
  transaction_duration_s?: number;
  session_start_time?: string;
  transaction_start_time?: string;
  session_end_time?: string;
  transaction_end_time?: string;
  [extra: string]: unknown;
}

export interface Limits {
  max_current: number;
  nr_of_phases_available: number;
  uuid?: string;
  [extra: string]: unknown;
}

export interface EnforcedLimits {
  uuid: string;
  valid_for: number;
  limits_root_side: {
    total_power_W?: { value: number; source: string };
    ac_max_current_A?: { value: number; source: string };
    ac_max_phase_count?: { value: number; source: string };
    [extra: string]: unknown;
  };
  schedule: Array<Record<string, unknown>>;
  [extra: string]: unknown;
}

export interface HardwareCapabilities {
  max_current_A_import: number;
  min_current_A_import: number;
  max_phase_count_import: number;
  min_phase_count_import: number;
  max_current_A_export: number;
  min_current_A_export: number;
  max_phase_count_export: number;
  min_phase_count_export: number;
  supports_changing_phases_during_charging: boolean;
  connector_type: string;
  max_plug_temperature_C?: number;
  [extra: string]: unknown;
}

export interface EvInfo {
  soc?: number;
  maximum_power_limit?: number;
  evcc_id?: string;
  [extra: string]: unknown;
}

export interface Connector {
  id: number;
  type?: ConnectorType;
  [extra: string]: unknown;
}

export interface Evse {
  id: number;
  connectors: Connector[];
  [extra: string]: unknown;
}

export interface CountDown {
  countdown_s: number;
  current_limit_after_delay_A: number;
  current_limit_during_delay_A: number;
  start_time?: string;
  [extra: string]: unknown;
}

/** Heartbeat: a counter since 2025-11-17, an empty object before. */
export type Heartbeat = number | Record<string, never>;

/** e2m variable -> payload. Drives the typing of every EVSE stream. */
export interface E2mPayloads {
  session_event: SessionEvent;
  limits: Limits;
  ev_info: EvInfo;
  car_manufacturer: 'VolkswagenGroup' | 'Tesla' | 'Unknown';
  session_info: SessionInfo;
  powermeter: Powermeter;
  powermeter_public_key_ocmf: string;
  evse_id: string;
  hw_capabilities: HardwareCapabilities;
  enforced_limits: EnforcedLimits;
  waiting_for_external_ready: boolean;
  ready: boolean;
  selected_protocol: string;
  supported_energy_transfer_modes: string[];
  ac_nr_of_phases_available: number;
  ac_pp_ampacity: { ampacity: string; [extra: string]: unknown };
  dlink_ready: boolean;
  isolation_measurement: { resistance_F_Ohm: number; voltage_V?: number; voltage_to_earth_l1e_V?: number; voltage_to_earth_l2e_V?: number; [extra: string]: unknown };
  dc_voltage_current: { voltage_V: number; current_A: number; [extra: string]: unknown };
  dc_mode: string;
  dc_capabilities: Record<string, unknown>;
  random_delay_countdown: CountDown;
  heartbeat: Heartbeat;
  hlc_session_failed: { uuid: string; reason: string; [extra: string]: unknown };
}

export type E2mVar = keyof E2mPayloads;

export interface EnableDisableRequest {
  connector_id: number;
  source: EnableDisableSourceValue;
}

export interface StopTransactionRequest {
  reason: StopTransactionReason;
  id_tag?: ProvidedIdToken;
}

/** m2e request -> argument and reply. `void` means the envelope carries no payload. */
export interface M2eRequests {
  get_evse: { payload: void; reply: Evse };
  enable_disable: { payload: EnableDisableRequest; reply: boolean };
  reserve: { payload: number; reply: boolean };
  pause_charging: { payload: void; reply: boolean };
  resume_charging: { payload: void; reply: boolean };
  stop_transaction: { payload: StopTransactionRequest; reply: boolean };
  force_unlock: { payload: number; reply: boolean };
  external_ready_to_start_charging: { payload: void; reply: boolean };
}

export type M2eRequest = keyof M2eRequests;

export interface AuthorizeResponse {
  token: ProvidedIdToken;
  result: {
    authorization_status: string;
    /** Required: EVerest reads it unconditionally and drops the message without it. `[]` is fine. */
    tariff_messages: Array<{ content: string; format?: string; language?: string; [extra: string]: unknown }>;
    [extra: string]: unknown;
  };
}

/** m2e fire-and-forget -> raw payload (no envelope). `null` payloads are published as `null`. */
export interface M2eSends {
  authorize_response: AuthorizeResponse;
  withdraw_authorization: null;
  cancel_reservation: null;
  random_delay_enable: null;
  random_delay_disable: null;
  random_delay_cancel: null;
  random_delay_set_duration_s: number;
  communication_check: boolean;
}

export type M2eSend = keyof M2eSends;

export const E2M_VARS = [
  'session_event',
  'limits',
  'ev_info',
  'car_manufacturer',
  'session_info',
  'powermeter',
  'powermeter_public_key_ocmf',
  'evse_id',
  'hw_capabilities',
  'enforced_limits',
  'waiting_for_external_ready',
  'ready',
  'selected_protocol',
  'supported_energy_transfer_modes',
  'ac_nr_of_phases_available',
  'ac_pp_ampacity',
  'dlink_ready',
  'isolation_measurement',
  'dc_voltage_current',
  'dc_mode',
  'dc_capabilities',
  'random_delay_countdown',
  'heartbeat',
  'hlc_session_failed',
] as const satisfies readonly E2mVar[];

export const M2E_REQUESTS = [
  'get_evse',
  'enable_disable',
  'reserve',
  'pause_charging',
  'resume_charging',
  'stop_transaction',
  'force_unlock',
  'external_ready_to_start_charging',
] as const satisfies readonly M2eRequest[];

export const M2E_SENDS = [
  'authorize_response',
  'withdraw_authorization',
  'cancel_reservation',
  'random_delay_enable',
  'random_delay_disable',
  'random_delay_cancel',
  'random_delay_set_duration_s',
  'communication_check',
] as const satisfies readonly M2eSend[];
