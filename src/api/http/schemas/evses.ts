import type { OcpiStatus } from '../../service.js';
import { actionRecordSchema } from './actions.js';
import { timestampSchema } from './common.js';

/** The allocated current, shared by GET /v1/evses and the decision event. */
export const currentASchema = {
  type: ['number', 'null'],
  description: 'Current allocated to the session, A per phase (0 = held below the minimum); null where the EVSE has no limits module or the plan leaves the session alone.',
} as const;

const OCPI_STATUSES = [
  'AVAILABLE',
  'BLOCKED',
  'CHARGING',
  'INOPERATIVE',
  'OUTOFORDER',
  'PLANNED',
  'REMOVED',
  'RESERVED',
  'UNKNOWN',
] as const satisfies readonly OcpiStatus[];

const heartbeatSchema = {
  type: 'object',
  required: ['status', 'last_seen_at', 'lost', 'restarts'],
  properties: {
    status: { type: 'string', enum: ['unknown', 'online', 'stale', 'restarted'] },
    last_seen_at: { type: ['string', 'null'] },
    lost: { type: 'integer' },
    restarts: { type: 'integer' },
  },
} as const;

export const evseStatusSchema = {
  type: 'object',
  description: 'What the module knows of one EvseManager: identifiers, connectors, session, power, liveness, priority and decision.',
  required: [
    'module_id',
    'evse_id',
    'serial_number',
    'charge_box_identity',
    'connectors',
    'status',
    'state',
    'pause_reasons',
    'connector_id',
    'session',
    'power_w',
    'energy_wh',
    'heartbeat',
    'limits',
    'priority',
    'decision',
    'last_action',
    'manual_hold',
  ],
  properties: {
    module_id: { type: 'string' },
    evse_id: { type: ['string', 'null'], description: 'EVSE-ID as EVerest publishes it (e2m/evse_id).' },
    serial_number: { type: ['string', 'null'] },
    charge_box_identity: { type: ['string', 'null'] },
    connectors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'type', 'priority', 'priority_scope'],
        properties: {
          id: { type: 'integer' },
          type: { type: ['string', 'null'], description: 'EVerest connector type, e.g. cType2.' },
          priority: { type: 'integer' },
          priority_scope: { type: ['string', 'null'], enum: ['session', 'persistent', null] },
        },
      },
    },
    status: { type: 'string', enum: OCPI_STATUSES, description: 'OCPI EVSE status mapped from the EVerest state.' },
    state: { type: 'string', description: 'EVerest EvseManager state, e.g. Charging, ChargingPausedEVSE.' },
    pause_reasons: {
      type: ['array', 'null'],
      items: { type: 'string' },
      description:
        'In ChargingPausedEVSE, why EVerest holds the car (release 2026.02): UserPause (pause_charging: ours or a person), NoEnergy (the energy manager), Error (a fault). null in other states and from release 2025.11.',
    },
    connector_id: { type: 'integer', description: 'Connector of the current or last session.' },
    session: {
      type: ['object', 'null'],
      required: ['uuid', 'started_at', 'transaction'],
      properties: {
        uuid: { type: 'string' },
        started_at: timestampSchema,
        transaction: { type: 'boolean' },
      },
    },
    power_w: { type: 'integer' },
    energy_wh: { type: 'integer' },
    heartbeat: heartbeatSchema,
    limits: {
      type: ['object', 'null'],
      description: 'The external_energy_limits_consumer_API module that carries this EVSE\'s current limit, with its liveness; null for on/off control.',
      required: ['module_id', 'heartbeat'],
      properties: { module_id: { type: 'string' }, heartbeat: heartbeatSchema },
    },
    priority: { type: 'integer' },
    decision: {
      type: ['object', 'null'],
      required: ['decision', 'reason', 'reason_code', 'expected_w', 'current_a'],
      properties: {
        decision: { type: 'string' },
        reason: { type: 'string', description: 'Why, for people: e.g. "12.0 A: priority 5, 8.3 kW of the 22.0 kW budget left after higher priorities".' },
        reason_code: { type: 'string' },
        expected_w: { type: 'integer' },
        current_a: currentASchema,
      },
    },
    // A nullable object rather than anyOf: fast-json-stringify resolves anyOf by validating every item, which doubled the time of this list.
    last_action: { ...actionRecordSchema, type: ['object', 'null'], description: 'The last command sent to this EVSE; null before the first.' },
    manual_hold: { type: ['string', 'null'], enum: ['pause', 'disable', null] },
  },
} as const;

export const evseListSchema = { type: 'array', items: evseStatusSchema } as const;
