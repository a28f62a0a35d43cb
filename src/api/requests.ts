// The request schemas of our API, one per request, shared by HTTP (route bodies, the OpenAPI document)
// and our MQTT topics, so the two cannot accept different things for the same request.
import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, PRIORITY_SCOPES, type ConnectorRef, type ConnectorRefKind, type PriorityScope } from '../priorities/model.js';
import { ACTION_TYPES, type ActionRequest } from '../site/actions.js';

/** Request body accepted by both APIs: a connector reference plus the priority to set. */
export type PrioritySetBody = ConnectorRef & { priority: number; scope?: PriorityScope };

export const identifierSchema = { type: 'string', minLength: 1, maxLength: 255 } as const;
const connectorIdSchema = { type: 'integer', minimum: 1, maximum: 255 } as const;

const refRequirements = {
  module: ['module_id', 'connector_id'],
  evse_id: ['evse_id'],
  serial_number: ['serial_number', 'connector_id'],
  charge_box_identity: ['charge_box_identity', 'connector_id'],
} as const satisfies Record<ConnectorRefKind, readonly string[]>;

const REF_KINDS = Object.keys(refRequirements) as ConnectorRefKind[];
const refFields = ['module_id', 'evse_id', 'serial_number', 'charge_box_identity', 'connector_id'] as const;
type RefField = (typeof refFields)[number];

const refProperties = {
  by: { type: 'string', enum: REF_KINDS },
  module_id: identifierSchema,
  evse_id: identifierSchema,
  serial_number: identifierSchema,
  charge_box_identity: identifierSchema,
  connector_id: connectorIdSchema,
} as const;

// The reference is a flat object discriminated by `by`, with one if/then per form rather than a oneOf:
// a failed oneOf reports every branch, an if/then only the rule of the form the client chose.
function refBranches(): object[] {
  return REF_KINDS.map((kind) => {
    const required: readonly RefField[] = refRequirements[kind];
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

// No $id: the same schema object may be compiled by several ajv instances, and a repeated $id in one
// ajv instance is an error.

/** A bare ConnectorRef (MQTT priority/delete). */
export const connectorRefSchema = {
  type: 'object',
  required: ['by'],
  properties: refProperties,
  additionalProperties: false,
  allOf: refBranches(),
} as const;

/** `ConnectorRef & { priority, scope? }` without annotations or defaults: the validation rules alone. */
export const prioritySetSchema = {
  type: 'object',
  required: ['by', 'priority'],
  properties: {
    ...refProperties,
    priority: { type: 'integer', minimum: PRIORITY_MIN, maximum: PRIORITY_MAX },
    scope: { type: 'string', enum: PRIORITY_SCOPES },
  },
  additionalProperties: false,
  allOf: refBranches(),
} as const;

/** What PUT /v1/priorities and MQTT priority/set validate: the rules above, documented, with the gridX default scope. */
export const prioritySetBodySchema = {
  ...prioritySetSchema,
  description:
    'Sets the priority of one connector, named by exactly one identifier form chosen with "by": ' +
    '"module" (module_id + connector_id), "evse_id" (the EVSE-ID EVerest publishes; connector 1 of that EVSE), ' +
    '"serial_number" + connector_id, or "charge_box_identity" + connector_id. Identifier fields of other forms are rejected.',
  properties: {
    ...prioritySetSchema.properties,
    priority: {
      ...prioritySetSchema.properties.priority,
      description: `Integer ${PRIORITY_MIN}..${PRIORITY_MAX} (the OCPP 2.0.1 chargingPriority range); higher wins, ${PRIORITY_DEFAULT} is the default of every connector.`,
    },
    scope: {
      ...prioritySetSchema.properties.scope,
      default: 'session',
      description: '"session" ends with the charging session (SessionFinished), "persistent" stays until deleted.',
    },
  },
  examples: [
    { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 5 },
    { by: 'evse_id', evse_id: 'DE*PNX*E12345*1', priority: 3, scope: 'persistent' },
    { by: 'serial_number', serial_number: 'ACE9876543', connector_id: 1, priority: -2 },
    { by: 'charge_box_identity', charge_box_identity: 'DE_EDR_E12345678', connector_id: 2, priority: 9 },
  ],
} as const;

/** POST /v1/evses/{module_id}/actions; MQTT `action` adds the module_id. */
export const actionRequestSchema = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: {
      type: 'string',
      enum: ACTION_TYPES,
      description:
        'pause/resume charging, enable/disable the EVSE (our enable_disable claim), release our claim, stop the transaction, unlock the connector. ' +
        'pause and disable hold the EVSE until resume/enable/release; the scheduler does not override them.',
    },
    connector_id: { ...connectorIdSchema, description: 'Defaults to the connector of the current session.' },
    reason: { type: 'string', maxLength: 200, description: 'Free text kept with the action.' },
  },
  examples: [{ type: 'pause', reason: 'grid operator request' }],
} as const;

/** PUT /v1/site and MQTT site/set. */
export const siteBudgetBodySchema = {
  type: 'object',
  required: ['max_power_w'],
  additionalProperties: false,
  properties: {
    max_power_w: {
      type: 'number',
      minimum: 0,
      maximum: 100_000_000,
      description: 'New site budget in W. Applies at once; not persisted (a restart uses site.max_power_w from the configuration).',
    },
  },
  examples: [{ max_power_w: 22000 }],
} as const;

/** MQTT `action`: the HTTP body plus the EVSE it is for (HTTP has that in the path). */
export type MqttActionBody = ActionRequest & { module_id: string };

export const mqttActionSchema = {
  ...actionRequestSchema,
  required: ['module_id', 'type'],
  properties: { module_id: identifierSchema, ...actionRequestSchema.properties },
} as const;

/** A request with no fields (MQTT priority/reset). */
export const emptyRequestSchema = { type: 'object', properties: {}, additionalProperties: false } as const;
