import { describe, expect, it } from 'vitest';
import { pageQuerySchema } from '../../../src/api/http/schemas/pagination.js';
import { prioritySetBodySchema } from '../../../src/api/requests.js';
import { MAX_PROBLEMS, describeValidation, type ValidationIssue } from '../../../src/api/validation-message.js';
import { compileValidator } from '../../../src/api/validation.js';

function messageFor(schema: object, part: string, data: unknown): string | undefined {
  const validate = compileValidator(schema, part);
  if (validate(data)) return undefined;
  return describeValidation((validate.errors ?? []) as ValidationIssue[], part, data);
}

describe('validation messages name the field and what was expected', () => {
  it.each([
    [{ by: 'module', module_id: 'a', connector_id: 1, priority: 10 }, 'field "priority" must be an integer from -9 to 9 (got 10)'],
    [{ by: 'module', module_id: 'a', connector_id: 1, priority: '1' }, 'field "priority" must be an integer (got the string "1")'],
    [{ by: 'module', module_id: 'a', priority: 1 }, 'field "connector_id" is required when "by" is "module"'],
    [{ by: 'evse_id', evse_id: 'x', module_id: 'a', priority: 1 }, 'field "module_id" is not allowed when "by" is "evse_id"'],
    [{ by: 'module', module_id: 'a', connector_id: 1, priority: 1, extra: true }, 'field "extra" is not a known field'],
    [{ by: 'module', module_id: 'a', connector_id: 0, priority: 1 }, 'field "connector_id" must be an integer from 1 to 255 (got 0)'],
    [{ by: 'module', module_id: 'a', connector_id: 1, priority: 1, scope: 'x' }, 'field "scope" must be one of "session", "persistent" (got the string "x")'],
    [[1, 2], 'the request body must be an object (got a list [1,2])'],
    [null, 'the request body must be an object (got null)'],
  ])('%j', (body, expected) => {
    expect(messageFor(prioritySetBodySchema, 'body', body)).toBe(expected);
  });

  it('joins several problems and names query parameters', () => {
    expect(messageFor(prioritySetBodySchema, 'body', { by: 'module', module_id: '', connector_id: 1, priority: 99 })).toBe(
      'field "module_id" must not be empty; field "priority" must be an integer from -9 to 9 (got 99)',
    );
    expect(messageFor(pageQuerySchema, 'querystring', { limit: 'x' })).toBe('query parameter "limit" must be an integer (got the string "x")');
  });

  it('does not coerce body types but coerces query strings, and fills the default scope', () => {
    const body = { by: 'module', module_id: 'a', connector_id: 1, priority: 2 };
    expect(compileValidator(prioritySetBodySchema, 'body')(body)).toBe(true);
    expect(body).toMatchObject({ scope: 'session' });
    const query: Record<string, unknown> = { limit: '20' };
    expect(compileValidator(pageQuerySchema, 'querystring')(query)).toBe(true);
    expect(query).toEqual({ limit: 20, offset: 0 });
  });

  it('describes 10 000 unknown fields in a short message built in one pass', () => {
    const body: Record<string, unknown> = { by: 'module', module_id: 'a', connector_id: 1, priority: 1 };
    for (let i = 0; i < 10_000; i++) body[`field_${i}`] = i;
    const message = messageFor(prioritySetBodySchema, 'body', body)!;
    expect(message.startsWith('field "field_0" is not a known field; field "field_1" is not a known field')).toBe(true);
    expect(message.endsWith(`; and ${10_000 - MAX_PROBLEMS} more problems`)).toBe(true);
    expect(message.length).toBeLessThan(1_000);
  });

  it('shows a huge or deeply nested value by its first characters only', () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 100_000; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    expect(messageFor(prioritySetBodySchema, 'body', deep)).toBe(`the request body must be an object (got a list ${'['.repeat(37)}...)`);
    expect(messageFor(prioritySetBodySchema, 'body', Array.from({ length: 1_000_000 }, (_, i) => i))).toBe(
      'the request body must be an object (got a list [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,1...)',
    );
  });
});
