import { forwardingStatusSchema } from './common.js';

export const healthSchema = {
  type: 'object',
  description: 'Liveness and readiness in one: 200 when the broker is connected and at least one EVSE has a current heartbeat, 503 otherwise.',
  required: ['status', 'live', 'ready', 'broker_connected', 'evses_online', 'evses_total', 'evses'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    live: { type: 'boolean' },
    ready: { type: 'boolean' },
    broker_connected: { type: 'boolean' },
    evses_online: { type: 'integer' },
    evses_total: { type: 'integer' },
    evses: {
      type: 'array',
      items: {
        type: 'object',
        required: ['module_id', 'heartbeat'],
        properties: {
          module_id: { type: 'string' },
          heartbeat: { type: 'string' },
          limits_module_id: { type: 'string', description: 'The EVSE\'s external_energy_limits_consumer_API module, when it has one.' },
          limits_heartbeat: { type: 'string', description: 'Heartbeat status of that limits module.' },
        },
      },
    },
    forwarding: forwardingStatusSchema,
  },
} as const;
