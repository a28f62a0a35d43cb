import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfigMarkdown } from '../../../src/config/describe.js';

describe('README configuration reference', () => {
  it('is the table generated from the schema (regenerate with describeConfigMarkdown() after a schema change)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(describeConfigMarkdown().trim());
  });
});
