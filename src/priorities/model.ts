// Priority records and connector references, following the gridX EVCS user priority API semantics:
// integer priorities -9..9 (the OCPP 2.0.1 chargingPriority range), higher wins, 0 = no preference.

import { isOneOf } from '../validation/one-of.js';

export const PRIORITY_MIN = -9;
export const PRIORITY_MAX = 9;
export const PRIORITY_DEFAULT = 0;

/** 'session' ends with the charging session (SessionFinished); 'persistent' stays until deleted. */
export const PRIORITY_SCOPES = ['session', 'persistent'] as const;
export type PriorityScope = (typeof PRIORITY_SCOPES)[number];

export interface PriorityRecord {
  module_id: string;
  connector_id: number;
  /** Integer -9..9, higher wins, 0 = default. */
  priority: number;
  scope: PriorityScope;
  /** Who set it, e.g. 'http:token-1', 'mqtt', 'api'. */
  set_by: string;
  /** ISO 8601 timestamp of the acknowledged write. */
  set_at: string;
  /** Increases with every write of this connector's record, also across delete and re-create, so it can serve as an ETag. */
  version: number;
}

export type ConnectorRef =
  | { by: 'module'; module_id: string; connector_id: number }
  /** e.g. 'DEPNXE123456*1', learned from EVerest's e2m/evse_id. */
  | { by: 'evse_id'; evse_id: string }
  | { by: 'serial_number'; serial_number: string; connector_id: number }
  | { by: 'charge_box_identity'; charge_box_identity: string; connector_id: number };

export type ConnectorRefKind = ConnectorRef['by'];

/** The key of one connector everywhere: the store's records and change events, the scheduler's sessions. */
export function connectorKey(module_id: string, connector_id: number): string {
  return `${module_id}/${connector_id}`;
}

export function isValidPriority(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= PRIORITY_MIN && value <= PRIORITY_MAX;
}

export function isPriorityScope(value: unknown): value is PriorityScope {
  return isOneOf(PRIORITY_SCOPES, value);
}

/** Strips the priority fields (and anything else) off a validated body, leaving only the reference. */
export function connectorRefOf(body: ConnectorRef): ConnectorRef {
  switch (body.by) {
    case 'module':
      return { by: 'module', module_id: body.module_id, connector_id: body.connector_id };
    case 'evse_id':
      return { by: 'evse_id', evse_id: body.evse_id };
    case 'serial_number':
      return { by: 'serial_number', serial_number: body.serial_number, connector_id: body.connector_id };
    case 'charge_box_identity':
      return { by: 'charge_box_identity', charge_box_identity: body.charge_box_identity, connector_id: body.connector_id };
  }
}
