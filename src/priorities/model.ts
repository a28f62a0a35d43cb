// Priority records and connector references, following the gridX EVCS user priority API semantics:
// integer priorities -9..9 (the OCPP 2.0.1 chargingPriority range), higher wins, 0 = no preference.

export const PRIORITY_MIN = -9;
export const PRIORITY_MAX = 9;
export const PRIORITY_DEFAULT = 0;

/** 'session' ends with the charging session (SessionFinished); 'persistent' stays until deleted. */
export type PriorityScope = 'session' | 'persistent';
export const PRIORITY_SCOPES: readonly PriorityScope[] = ['session', 'persistent'];

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

/** Request body accepted by the API layers: a connector reference plus the priority to set. */
export type PrioritySetBody = ConnectorRef & { priority: number; scope?: PriorityScope };

/** The key of one connector everywhere: the store's records and change events, the scheduler's sessions. */
export function connectorKey(module_id: string, connector_id: number): string {
  return `${module_id}/${connector_id}`;
}

export function isValidPriority(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= PRIORITY_MIN && value <= PRIORITY_MAX;
}

export function isPriorityScope(value: unknown): value is PriorityScope {
  return value === 'session' || value === 'persistent';
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

// JSON schemas. The reference is a flat object discriminated by `by`, expressed with if/then rather than
// oneOf: fastify's ajv runs with removeAdditional, which strips properties while trying non-matching oneOf
// branches that carry additionalProperties:false, so a valid evse_id body would lose its evse_id. Keeping
// additionalProperties on the single outer object, and only `required` plus per-property checks in the
// branches, avoids that.

const identifier = { type: 'string', minLength: 1, maxLength: 255 } as const;
const connectorId = { type: 'integer', minimum: 1, maximum: 255 } as const;

const refFields = ['module_id', 'evse_id', 'serial_number', 'charge_box_identity', 'connector_id'] as const;

const refRequirements: Record<ConnectorRefKind, readonly (typeof refFields)[number][]> = {
  module: ['module_id', 'connector_id'],
  evse_id: ['evse_id'],
  serial_number: ['serial_number', 'connector_id'],
  charge_box_identity: ['charge_box_identity', 'connector_id'],
};

const refProperties = {
  by: { type: 'string', enum: ['module', 'evse_id', 'serial_number', 'charge_box_identity'] },
  module_id: identifier,
  evse_id: identifier,
  serial_number: identifier,
  charge_box_identity: identifier,
  connector_id: connectorId,
} as const;

function refBranches(): object[] {
  return (Object.keys(refRequirements) as ConnectorRefKind[]).map((kind) => {
    const required = refRequirements[kind];
    const forbidden = refFields.filter((f) => !required.includes(f));
    return {
      if: { properties: { by: { const: kind } }, required: ['by'] },
      then: {
        required: [...required],
        // A stray identifier would be silently ignored by the resolver; rejecting it surfaces client mix-ups.
        properties: Object.fromEntries([
          // Repeated from the outer properties because ajv's strictRequired wants required names defined alongside.
          ...required.map((f) => [f, refProperties[f]]),
          ...forbidden.map((f) => [f, { not: {} }]),
        ]),
      },
    };
  });
}

// No $id: the same schema object may be compiled by several ajv instances or routes, and a repeated $id
// in one ajv instance is an error.

/** JSON schema for a bare ConnectorRef (e.g. DELETE bodies or query objects). */
export const connectorRefSchema = {
  type: 'object',
  required: ['by'],
  properties: refProperties,
  additionalProperties: false,
  allOf: refBranches(),
} as const;

/** JSON schema for `ConnectorRef & { priority, scope? }` bodies; compile once with ajv or hand to fastify. */
export const prioritySetSchema = {
  type: 'object',
  required: ['by', 'priority'],
  properties: {
    ...refProperties,
    priority: { type: 'integer', minimum: PRIORITY_MIN, maximum: PRIORITY_MAX },
    scope: { type: 'string', enum: ['session', 'persistent'] },
  },
  additionalProperties: false,
  allOf: refBranches(),
} as const;
