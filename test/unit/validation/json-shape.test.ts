import { describe, expect, it } from 'vitest';
import { jsonShapeViolation } from '../../../src/validation/json-shape.js';

const limits = { maxDepth: 3, maxMembers: 4 };

describe('jsonShapeViolation', () => {
  it('passes flat bodies and counts members of objects and arrays', () => {
    expect(jsonShapeViolation('{"a":1,"b":[1],"c":{}}', limits)).toBeUndefined();
    expect(jsonShapeViolation('{"a":1,"b":[1,2],"c":{}}', limits)).toContain('more than 4 members');
    expect(jsonShapeViolation('{"a":1,"b":2,"c":3,"d":4,"e":5}', limits)).toContain('more than 4 members');
    expect(jsonShapeViolation('[1,2,3,4,5]', limits)).toContain('more than 4 members');
  });

  it('refuses nesting past the limit, objects and arrays alike', () => {
    expect(jsonShapeViolation('[[[1]]]', limits)).toBeUndefined();
    expect(jsonShapeViolation('[[[[1]]]]', limits)).toBe('nests deeper than 3 levels');
    expect(jsonShapeViolation('{"a":{"b":{"c":{"d":1}}}}', limits)).toBe('nests deeper than 3 levels');
  });

  it('ignores brackets, colons and commas inside strings, escaped quotes included', () => {
    expect(jsonShapeViolation(JSON.stringify({ a: '[[[[[:,:,:,:,]]]]]', b: 'say \\"[[[[[\\"' }), limits)).toBeUndefined();
  });

  it('with scanFromChars, leaves shorter texts to the parser and scans the rest', () => {
    const hot = { ...limits, scanFromChars: 12 };
    expect(jsonShapeViolation('[[[[1]]]]', hot)).toBeUndefined();
    expect(jsonShapeViolation('[[[[1]]]]'.padEnd(12), hot)).toBe('nests deeper than 3 levels');
  });

  it('stops at the first violation of a huge text (no work proportional to what follows)', () => {
    const text = '['.repeat(1_000_000);
    expect(jsonShapeViolation(text, limits)).toBe('nests deeper than 3 levels');
  });
});
