import { Ajv } from 'ajv';
import { describe, expect, it, vi } from 'vitest';
import { checkBody, compileValidator } from '../../../src/api/validation.js';

describe('request validators', () => {
  it('are compiled on their first call, once per schema, not when a route or MQTT request registers them', () => {
    const compile = vi.spyOn(Ajv.prototype, 'compile');
    try {
      const schema = { type: 'object', additionalProperties: false, required: ['priority'], properties: { priority: { type: 'integer', minimum: 0 } } };
      const first = compileValidator(schema, 'body');
      const again = compileValidator(schema, 'body');
      expect(compile).not.toHaveBeenCalled();
      expect(first({ priority: 3 })).toBe(true);
      expect(again({ priority: -1 })).toBe(false);
      expect(again.errors?.[0]?.instancePath).toBe('/priority');
      expect(first({ priority: 4 })).toBe(true);
      expect(compile).toHaveBeenCalledTimes(1);
      const checked = checkBody(first, { priority: 'high' });
      expect(checked.ok).toBe(false);
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });

  it('coerce path, query and header strings but never bodies', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    const query = { n: '5' };
    expect(compileValidator(schema, 'querystring')(query)).toBe(true);
    expect(query.n).toBe(5);
    expect(compileValidator(schema, 'body')({ n: '5' })).toBe(false);
  });
});
