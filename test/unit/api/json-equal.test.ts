import { describe, expect, it } from 'vitest';
import { sameJson } from '../../../src/api/json-equal.js';

const NONE: ReadonlySet<string> = new Set();

describe('sameJson: equal as JSON.stringify would print, up to key order', () => {
  it.each([
    [{ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }, true],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: null }, { a: undefined }, false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: [1, 2] }, { a: [1, 2, 3] }, false],
    [{ a: [] }, { a: {} }, false],
    [{ a: '1' }, { a: 1 }, false],
    [{ a: { b: { c: true } } }, { a: { b: { c: false } } }, false],
  ])('%j vs %j: %s', (a, b, same) => {
    expect(sameJson(a, b, NONE)).toBe(same);
    expect(sameJson(b, a, NONE)).toBe(same);
    // The reference it stands in for, where JSON.stringify's key order agrees.
    if (JSON.stringify(Object.keys(a)) === JSON.stringify(Object.keys(b))) expect(JSON.stringify(a) === JSON.stringify(b)).toBe(same);
  });

  it('leaves the skipped keys out at any depth', () => {
    const skip = new Set(['last_seen_at', 'power_w']);
    const a = { power_w: 1, heartbeat: { status: 'online', last_seen_at: 't1' }, limits: { heartbeat: { last_seen_at: 't1' } } };
    const b = { power_w: 2, heartbeat: { status: 'online', last_seen_at: 't2' }, limits: { heartbeat: {} } };
    expect(sameJson(a, b, skip)).toBe(true);
    expect(sameJson(a, { ...b, heartbeat: { status: 'stale', last_seen_at: 't2' } }, skip)).toBe(false);
  });
});
