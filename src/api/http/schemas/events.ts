import { EVENT_TYPES, type EventType } from '../../events.js';
import { actionRecordSchema } from './actions.js';
import { currentASchema, evseStatusSchema } from './evses.js';
import { siteFiguresSchema } from './site.js';
import { timestampSchema, type JsonSchema } from './common.js';

const eventData: Record<EventType, JsonSchema> = {
  action: actionRecordSchema,
  session_state: {
    type: 'object',
    required: ['module_id', 'connector_id', 'state', 'previous'],
    properties: { module_id: { type: 'string' }, connector_id: { type: 'integer' }, state: { type: 'string' }, previous: { type: 'string' } },
  },
  decision: {
    type: 'object',
    required: ['module_id', 'connector_id', 'decision', 'reason', 'reason_code', 'current_a'],
    properties: {
      module_id: { type: 'string' },
      connector_id: { type: 'integer' },
      decision: { type: 'string' },
      reason: { type: 'string' },
      reason_code: { type: 'string' },
      current_a: currentASchema,
    },
  },
  budget: {
    type: 'object',
    required: ['max_power_w', 'set_by'],
    properties: { max_power_w: { type: 'number' }, set_by: { type: 'string' } },
  },
  liveness: {
    type: 'object',
    required: ['module_id', 'status'],
    properties: {
      module_id: { type: 'string', description: "The EVSE's module_id, or the limits_module_id of its external_energy_limits_consumer_API module." },
      status: { type: 'string', enum: ['online', 'stale'] },
    },
  },
  site: siteFiguresSchema,
  evse: evseStatusSchema,
  hlc_session_failed: {
    type: 'object',
    description: 'EVerest reported a failed ISO 15118 session (e2m/hlc_session_failed, release 2026.02).',
    required: ['module_id', 'uuid', 'reason'],
    properties: {
      module_id: { type: 'string' },
      uuid: { type: 'string', description: 'The EVerest session uuid.' },
      reason: { type: 'string', description: "EVerest's reason, passed on as it came (values newer than ours included)." },
    },
  },
  hold_alarm: {
    type: 'object',
    description:
      'An EVSE ignores our holds (pause not answered, answered false, or without effect): raised when a lever is given up and the next is tried ' +
      '(pause -> limit 0 A where a limits module exists -> enable_disable), cleared when the hold is no longer needed.',
    required: ['module_id', 'state', 'failed', 'next', 'failures', 'reason'],
    properties: {
      module_id: { type: 'string' },
      state: { type: 'string', enum: ['raised', 'cleared'] },
      failed: { type: 'string', enum: ['pause', 'limit', 'disable'], description: 'The lever that failed (raised) or was in use (cleared).' },
      next: { type: 'string', enum: ['pause', 'limit', 'disable', 'none'], description: "The lever tried next; 'none' when none is left." },
      failures: { type: 'integer', description: 'Failed holds on the lever given up.' },
      reason: { type: 'string' },
    },
  },
};

/** The JSON of one event: the SSE `data` line and the webhook request body. */
export const apiEventSchema = {
  type: 'object',
  description:
    'One site event. SSE: event name = type, id = id, data = this object. Webhooks: this object is the request body, ' +
    'signed in X-EVSE-Priority-Signature.',
  required: ['id', 'type', 'timestamp', 'data'],
  properties: {
    id: { type: 'integer', description: 'Increases with every event, also across restarts.' },
    type: { type: 'string', enum: EVENT_TYPES },
    timestamp: timestampSchema,
    data: { type: 'object' },
  },
  oneOf: EVENT_TYPES.map((type) => ({ properties: { type: { const: type }, data: eventData[type] } })),
} as const;

export const eventsQuerySchema = {
  type: 'object',
  properties: {
    ticket: { type: 'string', minLength: 1, maxLength: 64, description: 'One-time ticket from POST /v1/events/tickets, instead of Authorization.' },
    last_event_id: { type: 'string', pattern: '^[0-9]{1,16}$', description: 'As the Last-Event-ID header (which wins), for clients that cannot set headers.' },
    recent: {
      type: 'string',
      pattern: '^[0-9]{1,4}$',
      description: 'Without Last-Event-ID: start with up to this many of the most recent kept events (of the selected types), e.g. to fill an event log.',
    },
    types: {
      type: 'string',
      pattern: `^(${EVENT_TYPES.join('|')})(,(${EVENT_TYPES.join('|')}))*$`,
      description: `Comma-separated event types to receive (${EVENT_TYPES.join(', ')}); all when absent.`,
    },
  },
} as const;

export const sseTicketSchema = {
  type: 'object',
  required: ['ticket', 'expires_at'],
  properties: {
    ticket: { type: 'string', description: 'Opens one stream: GET /v1/events?ticket=<ticket>.' },
    expires_at: { ...timestampSchema, description: 'Unused tickets expire then.' },
  },
} as const;
