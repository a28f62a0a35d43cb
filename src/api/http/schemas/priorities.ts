import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, prioritySetSchema } from '../../../priorities/model.js';
import { identifierSchema, type JsonSchema } from './common.js';

// The model's schema is the validation source; this adds only annotations (and the gridX default
// scope), so what the route validates and what the document shows cannot drift apart.
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

export const priorityParamsSchema = {
  type: 'object',
  required: ['module_id', 'connector_id'],
  properties: {
    module_id: { ...identifierSchema, description: "The EvseManager API module's id." },
    connector_id: { type: 'integer', minimum: 1, description: 'Connector id on that EVSE.' },
  },
} as const;

export const ifMatchHeadersSchema = {
  type: 'object',
  properties: {
    'if-match': {
      type: 'string',
      description: 'Only write if the current record has one of these ETags ("*": only if a priority is assigned). 412 otherwise.',
    },
  },
} as const;

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

export const pageQuerySchema = {
  type: 'object',
  properties: {
    offset: { type: 'integer', minimum: 0, default: 0, description: 'Index of the first record to return.' },
    limit: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_PAGE_LIMIT,
      description: `Records per page; values above ${MAX_PAGE_LIMIT} are served as ${MAX_PAGE_LIMIT} (X-Limit says which limit applied).`,
    },
  },
} as const;

export const priorityDtoSchema = {
  type: 'object',
  description:
    'The priority of one connector. A connector without an assigned priority has priority 0 and assigned=false ' +
    '(gridX: unassigned sessions get the default); scope, set_by, set_at and version are then null.',
  required: ['module_id', 'connector_id', 'priority', 'assigned', 'scope', 'set_by', 'set_at', 'version'],
  properties: {
    module_id: { type: 'string' },
    connector_id: { type: 'integer' },
    priority: { type: 'integer', minimum: PRIORITY_MIN, maximum: PRIORITY_MAX },
    assigned: { type: 'boolean' },
    scope: { type: ['string', 'null'], enum: ['session', 'persistent', null] },
    set_by: { type: ['string', 'null'], description: 'Who set it: "http:token-<n>" (n-th configured token), "http", "mqtt", ...' },
    set_at: { type: ['string', 'null'], description: 'When the write was acknowledged (ISO 8601).' },
    version: { type: ['integer', 'null'], description: 'Increases with every write of this connector; the ETag.' },
  },
} as const satisfies JsonSchema;

export const priorityListSchema = { type: 'array', items: priorityDtoSchema } as const;

export const clearResultSchema = {
  type: 'object',
  required: ['removed'],
  properties: { removed: { type: 'integer', minimum: 0, description: 'How many assigned priorities were reset.' } },
} as const;

export const paginationHeaders = {
  'X-Total-Count': { description: 'Number of records across all pages.', schema: { type: 'integer' } },
  'X-Limit': { description: 'The page size that applied.', schema: { type: 'integer' } },
  Link: { description: 'RFC 8288 link to the next page (rel="next"), absent on the last page.', schema: { type: 'string' } },
} as const;

