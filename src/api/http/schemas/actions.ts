import { ACTION_TYPES } from '../../../site/actions.js';
import { identifierSchema, timestampSchema } from './common.js';

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
    connector_id: { type: 'integer', minimum: 1, maximum: 255, description: 'Defaults to the connector of the current session.' },
    reason: { type: 'string', maxLength: 200, description: 'Free text kept with the action.' },
  },
  examples: [{ type: 'pause', reason: 'grid operator request' }],
} as const;

export const actionRecordSchema = {
  type: 'object',
  description:
    'One command to an EVSE (eDRV-style lifecycle): requested -> in_flight -> completed | rejected | failed | timed_out. ' +
    'One command is in flight per EVSE; later ones wait their turn.',
  required: ['id', 'module_id', 'connector_id', 'type', 'origin', 'status', 'attempts', 'requested_at', 'updated_at'],
  properties: {
    id: { type: 'string' },
    module_id: { type: 'string' },
    connector_id: { type: 'integer' },
    type: { type: 'string', enum: ACTION_TYPES },
    origin: { type: 'string', enum: ['scheduler', 'api', 'mqtt', 'reconcile'] },
    reason: { type: 'string' },
    status: { type: 'string', enum: ['requested', 'in_flight', 'completed', 'rejected', 'failed', 'timed_out'] },
    result: { type: 'string', description: 'What the EVSE answered, or why it did not (final states).' },
    reply: { type: 'boolean' },
    attempts: { type: 'integer' },
    requested_at: timestampSchema,
    updated_at: timestampSchema,
  },
} as const;

export const actionParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { ...identifierSchema, description: 'Action id from the POST response or an event.' } },
} as const;
