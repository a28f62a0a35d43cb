import type { EvseModel } from './evse-model.js';
import type { EnergyNodeModel } from './external-limits.js';

/** Retained per module, so an MQTT explorer shows at a glance what the simulated EVerest is doing. */
export interface SimStatus {
  module_id: string;
  comm_fault: boolean;
  reason: string | null;
  comm_check_active: boolean;
  enabled: boolean;
  state: string;
  charger_state: string;
  plugged: boolean;
  power_w: number;
  energy_wh: number;
  meter_wh: number;
  heartbeat: number;
  silent: boolean;
  /** With an EnergyNode above the EVSE: the limit in force, who set it, and the API module's check. */
  limits?: { module_id: string; current_a: number; source: string; comm_fault: boolean };
  timestamp: string;
}

export function statusTopic(prefix: string, moduleId: string): string {
  return `${prefix}evse_priority_sim/${moduleId}/status`;
}

export function simStatus(model: EvseModel, heartbeat: number, silent: boolean, now: number, node?: EnergyNodeModel): SimStatus {
  const snap = model.snapshot();
  const comm = model.comm.status;
  return {
    module_id: model.moduleId,
    comm_fault: comm.fault,
    reason: comm.reason ?? null,
    comm_check_active: comm.active,
    enabled: snap.enabled,
    state: snap.state,
    charger_state: snap.chargerState,
    plugged: snap.plugged,
    power_w: Math.round(snap.powerW),
    energy_wh: Math.round(snap.carChargedWh),
    meter_wh: Math.round(snap.meterWh),
    heartbeat,
    silent,
    ...(node ? { limits: limitsStatus(node, now) } : {}),
    timestamp: new Date(now).toISOString(),
  };
}

function limitsStatus(node: EnergyNodeModel, now: number): NonNullable<SimStatus['limits']> {
  const limit = node.limitAt(now);
  return { module_id: node.limitsModuleId, current_a: limit.currentA, source: limit.source, comm_fault: node.comm.status.fault };
}
