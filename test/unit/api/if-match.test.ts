import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/api/http/envelope.js';
import { etagOf, parseIfMatch, requireMatch } from '../../../src/api/http/if-match.js';
import type { PriorityRecord } from '../../../src/priorities/model.js';

const record: PriorityRecord = { module_id: 'm', connector_id: 1, priority: 3, scope: 'session', set_by: 'x', set_at: '2025-01-01T00:00:00Z', version: 4 };

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.httpStatus;
    throw err;
  }
  return undefined;
}

describe('If-Match', () => {
  it('parses *, tag lists and ignores weak or foreign tags', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch(' * ')).toEqual({ kind: 'any' });
    expect(parseIfMatch('"4"')).toEqual({ kind: 'tags', versions: [4] });
    expect(parseIfMatch('"1", W/"4" ,"abc", "07", "9"')).toEqual({ kind: 'tags', versions: [1, 9] });
  });

  it('rejects malformed headers with 400', () => {
    expect(statusOf(() => parseIfMatch('4'))).toBe(400);
    expect(statusOf(() => parseIfMatch('"4'))).toBe(400);
    expect(statusOf(() => parseIfMatch(''))).toBe(400);
  });

  it('hands the store the current version when it matches, else answers 412', () => {
    expect(requireMatch({ kind: 'any' }, record, 'm/1')).toBe(4);
    expect(requireMatch({ kind: 'tags', versions: [2, 4] }, record, 'm/1')).toBe(4);
    expect(statusOf(() => requireMatch({ kind: 'tags', versions: [3] }, record, 'm/1'))).toBe(412);
    expect(statusOf(() => requireMatch({ kind: 'any' }, undefined, 'm/1'))).toBe(412);
    expect(statusOf(() => requireMatch({ kind: 'tags', versions: [] }, record, 'm/1'))).toBe(412);
  });

  it('formats strong ETags', () => {
    expect(etagOf(12)).toBe('"12"');
  });
});
