import { describe, expect, it } from 'vitest';
import { isOneOf } from '../../../src/validation/one-of.js';

const LEVELS = ['low', 'high'] as const;

describe('isOneOf', () => {
  it('accepts exactly the listed values and narrows to their type', () => {
    const value: unknown = 'high';
    expect(isOneOf(LEVELS, value)).toBe(true);
    if (isOneOf(LEVELS, value)) {
      const level: 'low' | 'high' = value;
      expect(level).toBe('high');
    }
  });

  it('rejects values off the list, of another type, or differing only in case', () => {
    for (const value of ['medium', 'HIGH', '', 0, null, undefined, ['low'], { low: true }]) expect(isOneOf(LEVELS, value), String(value)).toBe(false);
  });
});
