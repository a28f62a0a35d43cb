import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { MAX_PROBLEMS, describeProblems, listProblems, type ValidationIssue } from '../../../src/validation/describe.js';

// One ajv as the API and config run it (verbose: the value is known) and one as the EVerest contract
// and the scenarios do (first error only, value unknown): the one wording must serve both.
const verbose = new Ajv({ allErrors: true, verbose: true, strict: true });
const terse = new Ajv({ allErrors: false, strict: true });

function issuesOf(ajv: Ajv, schema: object, data: unknown): ValidationIssue[] {
  const validate = ajv.compile(schema);
  expect(validate(data)).toBe(false);
  return (validate.errors ?? []) as ValidationIssue[];
}

const heartbeat = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'object' }] };

describe('the one wording of a validation failure', () => {
  it('names nested fields as a dotted path with list indexes and says what was got when it is known', () => {
    const schema = { type: 'object', properties: { evses: { type: 'array', items: { type: 'object', properties: { phases: { type: 'integer', minimum: 1, maximum: 3 } } } } } };
    expect(describeProblems(issuesOf(verbose, schema, { evses: [{}, { phases: 4 }] }))).toBe('field "evses[1].phases" must be an integer from 1 to 3 (got 4)');
    expect(describeProblems(issuesOf(terse, schema, { evses: [{}, { phases: 4 }] }))).toBe('field "evses[1].phases" must be <= 3');
  });

  it('joins the branches of a oneOf with "or" instead of saying "must match exactly one schema"', () => {
    expect(describeProblems(issuesOf(verbose, heartbeat, '42'), { whole: 'the payload' })).toBe('the payload must be an integer or an object (got the string "42")');
    expect(describeProblems(issuesOf(terse, heartbeat, -1), { whole: 'the payload' })).toBe('the payload must be >= 0, or must be an object');
  });

  it('reports a wrong type once, not also as the enum the value then fails', () => {
    const schema = { type: 'object', properties: { scope: { type: 'string', enum: ['session', 'persistent'] } } };
    expect(describeProblems(issuesOf(verbose, schema, { scope: 5 }))).toBe('field "scope" must be a string (got 5)');
  });

  it('lets a boundary hide a value and add a note, and names the key itself when it is unknown', () => {
    const schema = { type: 'object', properties: { password: { type: 'integer' } }, additionalProperties: false };
    const { problems } = listProblems(issuesOf(verbose, schema, { password: 'hunter2', colour: 1 }), {
      show: (_value, segments) => (segments.includes('password') ? '[redacted]' : undefined),
      note: (issue) => (issue.keyword === 'additionalProperties' ? '; did you mean "color"?' : ''),
    });
    expect(problems).toEqual([
      { segments: ['colour'], text: 'is not a known field; did you mean "color"?', atKey: true },
      { segments: ['password'], text: 'must be an integer (got [redacted])', atKey: false },
    ]);
  });

  it('caps a long enum and a long value', () => {
    const values = Array.from({ length: 100 }, (_, i) => `v${i}`);
    const message = describeProblems(issuesOf(verbose, { enum: values }, 'x'.repeat(10_000)));
    expect(message.startsWith('the value must be one of "v0", "v1"')).toBe(true);
    expect(message).toContain('"v29", ... (got the string "xxxx');
    expect(message).not.toContain('"v30"');
    expect(message.length).toBeLessThan(400);
  });

  it('spells out at most MAX_PROBLEMS problems and counts the rest', () => {
    const data: Record<string, unknown> = {};
    for (let i = 0; i < 1_000; i++) data[`f${i}`] = i;
    const message = describeProblems(issuesOf(verbose, { type: 'object', additionalProperties: false }, data));
    expect(message.split('; ')).toHaveLength(MAX_PROBLEMS + 1);
    expect(message.endsWith(`; and ${1_000 - MAX_PROBLEMS} more problems`)).toBe(true);
  });

  it('says something even when there are no errors to describe', () => {
    expect(describeProblems(undefined, { whole: 'the body' })).toBe('the body is invalid');
  });
});
