import { describe, expect, it } from 'vitest';
import { nextLink } from '../../../src/web/api.js';

describe('nextLink: the rel="next" target of a Link header', () => {
  it('reads the relative link the API sends and an absolute one under http.public_base_url', () => {
    expect(nextLink('</v1/evses?limit=500&offset=500>; rel="next"')).toBe('/v1/evses?limit=500&offset=500');
    expect(nextLink('<https://evse.example.com/api/v1/evses?limit=2&offset=2>; rel="next"')).toBe('https://evse.example.com/api/v1/evses?limit=2&offset=2');
  });

  it('finds next among other links and parameters, and nothing on the last page', () => {
    expect(nextLink('</v1/evses?offset=0>; rel="first", </v1/evses?offset=4>; title="more"; rel=next')).toBe('/v1/evses?offset=4');
    expect(nextLink('</v1/evses?offset=0>; rel="prev"')).toBeUndefined();
    expect(nextLink('</v1/evses?offset=0>; rel="nextish"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});
