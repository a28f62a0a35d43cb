/** Commands the module (or a person through the API) asks an EVSE to carry out. */
export const ACTION_TYPES = ['pause', 'resume', 'enable', 'disable', 'release', 'stop', 'unlock'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/** eDRV-style lifecycle: requested -> in_flight -> completed | rejected | failed | timed_out. */
export const ACTION_STATUSES = ['requested', 'in_flight', 'completed', 'rejected', 'failed', 'timed_out'] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export const ACTION_ORIGINS = ['scheduler', 'api', 'mqtt', 'reconcile'] as const;
export type ActionOrigin = (typeof ACTION_ORIGINS)[number];

export interface ActionRequest {
  type: ActionType;
  connector_id?: number;
  reason?: string;
}

export interface ActionRecord {
  id: string;
  module_id: string;
  connector_id: number;
  type: ActionType;
  origin: ActionOrigin;
  reason?: string;
  status: ActionStatus;
  /** What the EVSE answered (the bare reply) or why it did not, for the final states. */
  result?: string;
  reply?: boolean;
  attempts: number;
  requested_at: string;
  updated_at: string;
}

export function isFinal(status: ActionStatus): boolean {
  return status !== 'requested' && status !== 'in_flight';
}
