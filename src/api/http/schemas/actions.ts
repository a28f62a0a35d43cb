import { ACTION_ORIGINS, ACTION_STATUSES, ACTION_TYPES } from '../../../site/actions.js';
import { identifierSchema } from '../../requests.js';
import { timestampSchema } from './common.js';

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
    origin: { type: 'string', enum: ACTION_ORIGINS },
    reason: { type: 'string' },
    status: { type: 'string', enum: ACTION_STATUSES },
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
