import { Ajv, type Options } from 'ajv';
import { describe, expect, it } from 'vitest';
import { connectorRefSchema, prioritySetSchema } from '../../../src/api/requests.js';

// Mirrors @fastify/ajv-compiler's defaults: removeAdditional and coerceTypes are what make oneOf-style
// schemas misbehave, so the schema must hold up under them as well as under a strict plain ajv.
const fastifyOptions: Options = { coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false };

const validBodies: Record<string, object> = {
  module: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 5 },
  evse_id: { by: 'evse_id', evse_id: 'DEPNXE123456*1', priority: -9, scope: 'session' },
  serial_number: { by: 'serial_number', serial_number: 'ACE9876543', connector_id: 2, priority: 9, scope: 'persistent' },
  charge_box_identity: { by: 'charge_box_identity', charge_box_identity: 'DE_EDR_E12345678', connector_id: 1, priority: 0 },
};

const invalidBodies: Record<string, object> = {
  'missing connector_id': { by: 'module', module_id: 'evse_1', priority: 1 },
  'missing module_id': { by: 'module', connector_id: 1, priority: 1 },
  'identifier of another form': { by: 'evse_id', evse_id: 'X*1', serial_number: 'S', priority: 1 },
  'connector_id with evse_id': { by: 'evse_id', evse_id: 'X*1', connector_id: 1, priority: 1 },
  'unknown by': { by: 'asset_id', asset_id: 'a', priority: 1 },
  'missing by': { module_id: 'evse_1', connector_id: 1, priority: 1 },
  'priority 10': { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 10 },
  'priority -10': { by: 'module', module_id: 'evse_1', connector_id: 1, priority: -10 },
  'fractional priority': { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 1.5 },
  'missing priority': { by: 'module', module_id: 'evse_1', connector_id: 1 },
  'bad scope': { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 1, scope: 'forever' },
  'connector 0': { by: 'module', module_id: 'evse_1', connector_id: 0, priority: 1 },
  'empty serial': { by: 'serial_number', serial_number: '', connector_id: 1, priority: 1 },
};

describe.each([
  ['strict ajv', { strict: true, allErrors: true } satisfies Options],
  ['fastify ajv defaults', fastifyOptions],
])('prioritySetSchema under %s', (_name, options) => {
  const validate = new Ajv(options).compile(prioritySetSchema);

  it.each(Object.entries(validBodies))('accepts a %s body unchanged', (_kind, body) => {
    const copy = structuredClone(body);
    expect(validate(copy), JSON.stringify(validate.errors)).toBe(true);
    expect(copy).toEqual(body);
  });

  it.each(Object.entries(invalidBodies))('rejects %s', (_case, body) => {
    expect(validate(structuredClone(body))).toBe(false);
  });
});

describe('connectorRefSchema', () => {
  const validate = new Ajv({ strict: true }).compile(connectorRefSchema);

  it('accepts bare references and rejects priority fields', () => {
    expect(validate({ by: 'evse_id', evse_id: 'DEPNXE123456*1' })).toBe(true);
    expect(validate({ by: 'serial_number', serial_number: 'S1', connector_id: 1 })).toBe(true);
    expect(validate({ by: 'serial_number', serial_number: 'S1' })).toBe(false);
    expect(validate({ by: 'module', module_id: 'evse_1', connector_id: 1, priority: 3 })).toBe(false);
  });

  it('can be compiled repeatedly by one ajv instance', () => {
    const ajv = new Ajv(fastifyOptions);
    ajv.compile(prioritySetSchema);
    expect(() => ajv.compile(prioritySetSchema)).not.toThrow();
  });
});
