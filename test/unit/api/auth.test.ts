import { describe, expect, it } from 'vitest';
import { bearerToken, TokenVerifier } from '../../../src/api/http/auth.js';

describe('TokenVerifier', () => {
  it('finds which configured token matches, whatever the lengths', () => {
    const verifier = new TokenVerifier(['short', 'a-much-longer-token-value']);
    expect(verifier.enabled).toBe(true);
    expect(verifier.match('short')).toBe(0);
    expect(verifier.match('a-much-longer-token-value')).toBe(1);
    expect(verifier.match('shor')).toBe(-1);
    expect(verifier.match('short ')).toBe(-1);
    expect(verifier.match('')).toBe(-1);
  });

  it('is disabled without tokens, and ignores empty ones', () => {
    expect(new TokenVerifier([]).enabled).toBe(false);
    expect(new TokenVerifier(['']).enabled).toBe(false);
    expect(new TokenVerifier(['']).match('')).toBe(-1);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
  ])('%s -> %s', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
