// Builders for EVerest e2m payloads: defaults are a plausible 11 kW AC session, a test names what matters.
import type { Limits, Powermeter, SessionEvent, SessionEventKind, SessionInfo } from '../../../src/everest/payloads.js';

const TS = '2026-11-22T10:00:00.000Z';

export function aPowermeter(overrides: Partial<Powermeter> = {}): Powermeter {
  return {
    timestamp: TS,
    energy_Wh_import: { total: 1000 },
    power_W: { total: 11_040 },
    ...overrides,
  };
}

export function aSessionEvent(event: SessionEventKind, overrides: Partial<SessionEvent> = {}): SessionEvent {
  const meter = { meter_value: aPowermeter() };
  const extra: Partial<SessionEvent> =
    event === 'SessionStarted'
      ? { session_started: { reason: 'EVConnected', ...meter } }
      : event === 'TransactionStarted'
        ? { transaction_started: { id_tag: { id_token: { value: 'TAG1', type: 'Central' }, authorization_type: 'OCPP' }, ...meter } }
        : event === 'TransactionFinished'
          ? { transaction_finished: { reason: 'EVDisconnected', ...meter } }
          : event === 'SessionFinished'
            ? { session_finished: meter }
            : {};
  return { uuid: 'session-1', event, timestamp: TS, connector_id: 1, ...extra, ...overrides };
}

export function aSessionInfo(overrides: Partial<SessionInfo> = {}): SessionInfo {
  return {
    state: 'Charging',
    charged_energy_wh: 500,
    discharged_energy_wh: 0,
    latest_total_w: 11_040,
    session_duration_s: 120,
    timestamp: TS,
    ...overrides,
  };
}

export function someLimits(overrides: Partial<Limits> = {}): Limits {
  return { max_current: 16, nr_of_phases_available: 3, ...overrides };
}
