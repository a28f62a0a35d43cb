import { PRIORITY_MAX, PRIORITY_MIN, PRIORITY_SCOPES } from '../../../priorities/model.js';
import { identifierSchema } from '../../requests.js';
import type { JsonSchema } from './common.js';

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
    scope: { type: ['string', 'null'], enum: [...PRIORITY_SCOPES, null] },
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
