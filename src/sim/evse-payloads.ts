import type { ConnectorType, EnforcedLimits, EvInfo, Evse, HardwareCapabilities, Limits } from '../everest/payloads.js';
import type { PhaseCount } from './physics.js';

export interface EvseHardware {
  maxCurrentA: number;
  minCurrentA: number;
  phases: PhaseCount;
  voltageV: number;
  connectorType: ConnectorType;
  connectors: number;
}

export function evsePayload(evseIndex: number, hw: EvseHardware): Evse {
  const connectors = Array.from({ length: hw.connectors }, (_, i) => ({ id: i + 1, type: hw.connectorType }));
  return { id: evseIndex, connectors };
}

export function hwCapabilitiesPayload(hw: EvseHardware): HardwareCapabilities {
  return {
    max_current_A_import: hw.maxCurrentA,
    min_current_A_import: hw.minCurrentA,
    max_phase_count_import: hw.phases,
    min_phase_count_import: 1,
    max_current_A_export: 0,
    min_current_A_export: 0,
    max_phase_count_export: hw.phases,
    min_phase_count_export: 1,
    supports_changing_phases_during_charging: false,
    // A socket implies a connector lock, which is why force_unlock answers true.
    connector_type: 'IEC62196Type2Socket',
  };
}

export function limitsPayload(managerUuid: string, maxCurrentA: number, phases: PhaseCount): Limits {
  return { uuid: managerUuid, max_current: maxCurrentA, nr_of_phases_available: phases };
}

export function enforcedLimitsPayload(
  managerUuid: string,
  maxCurrentA: number,
  phases: PhaseCount,
  voltageV: number,
  now: number,
  /** Who set the binding current limit (an external limit's source); default the energy manager. */
  source = 'EnergyManager',
): EnforcedLimits {
  const limits = {
    ac_max_current_A: { value: maxCurrentA, source },
    ac_max_phase_count: { value: phases, source: 'EnergyManager' },
    total_power_W: { value: Math.round(maxCurrentA * phases * voltageV), source: 'EnergyManager' },
  };
  return {
    uuid: managerUuid,
    valid_for: 60,
    limits_root_side: limits,
    schedule: [{ timestamp: new Date(now).toISOString(), limits_to_root: limits }],
  };
}

/** What an ISO 15118 car tells about itself during charge parameter discovery (AC: its maximum). */
export function evInfoPayload(car: { maxPowerW: number; phases: PhaseCount }, voltageV: number, evseIndex: number): EvInfo {
  return {
    maximum_power_limit: car.maxPowerW,
    maximum_current_limit: Math.round((car.maxPowerW / (car.phases * voltageV)) * 10) / 10,
    evcc_id: `02:00:00:00:00:${String(evseIndex).padStart(2, '0')}`,
  };
}
