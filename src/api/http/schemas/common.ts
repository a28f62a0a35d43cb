import { identifierSchema } from '../../requests.js';
import { OCPI_STATUS, OCPI_STATUS_CODES } from '../envelope.js';

/** A JSON schema as the routes hand it to fastify and to the OpenAPI document. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export const timestampSchema = { type: 'string', format: 'date-time' } as const;

/** The OCPI response envelope, the one frame of every answer: success and error alike. */
function ocpiEnvelope(data: JsonSchema, statusCode: JsonSchema, description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    required: ['data', 'status_code', 'status_message', 'timestamp'],
    properties: {
      data,
      status_code: statusCode,
      status_message: { type: 'string' },
      timestamp: timestampSchema,
    },
  };
}

/** Wraps a data schema in the OCPI response envelope. */
export function envelopeOf(data: JsonSchema): JsonSchema {
  return ocpiEnvelope(data, { type: 'integer', enum: [OCPI_STATUS.success], description: 'OCPI status code: 1000 = success.' });
}

export const errorEnvelopeSchema = ocpiEnvelope(
  { type: 'null' },
  { type: 'integer', enum: OCPI_STATUS_CODES.filter((c) => c !== OCPI_STATUS.success) },
  'Every error answers with this envelope. status_code: 2000 client error, 2001 invalid or missing parameters, ' +
    '2003 unknown EVSE, connector or station identifier, 3000 server error. status_message says what was wrong.',
);

export const evseParamsSchema = {
  type: 'object',
  required: ['module_id'],
  properties: {
    module_id: { ...identifierSchema, description: "The EvseManager API module's id in EVerest's configuration." },
  },
} as const;

export const etagHeaderSchema = { type: 'string', pattern: '^"[0-9]+"$', description: 'Strong ETag: the record version in quotes.' } as const;

export const forwardingStatusSchema = {
  type: 'object',
  description: 'The forwarder of OCPP 2.0.1 TransactionEvent/MeterValues to the smart-charging cloud.',
  required: ['state', 'queued', 'oldest_age_s'],
  properties: {
    state: { type: 'string', enum: ['off', 'delivering', 'retrying', 'unauthorized', 'stopped'] },
    queued: { type: 'integer', description: 'Events on disk not yet acknowledged by the cloud.' },
    oldest_age_s: { type: 'integer', description: 'Age of the oldest queued event in seconds (0 when empty).' },
  },
} as const;
