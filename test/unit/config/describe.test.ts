import { describe, expect, it } from 'vitest';
import { describeConfigKeys, describeConfigMarkdown } from '../../../src/config/describe.js';
import { envOverrideNames } from '../../../src/config/load.js';

describe('describeConfigMarkdown', () => {
  it('gives every key a type and a description', () => {
    const keys = describeConfigKeys();
    expect(keys.length).toBeGreaterThan(40);
    for (const key of keys) {
      expect(key.type, key.path).not.toBe('');
      expect(key.description, key.path).not.toBe('');
    }
  });

  it('documents defaults, derived defaults and required keys', () => {
    const byPath = new Map(describeConfigKeys().map((k) => [k.path, k]));
    expect(byPath.get('http.port')).toMatchObject({ type: 'integer 0..65535', default: '`8080`', env: 'EVSE_PRIORITY_HTTP_PORT' });
    expect(byPath.get('namespace')?.default).toBe('`evse_priority/<instance>`');
    expect(byPath.get('mqtt.client_id')?.default).toBe('`evse-priority-<instance>`');
    expect(byPath.get('evses[].module_id')?.default).toBe('required');
    expect(byPath.get('evses[].module_id')?.env).toBeUndefined();
    expect(byPath.get('mqtt.password')?.default).toBe('—');
    expect(byPath.get('enforcer.enable_source')?.type).toContain('`CSMS`');
  });

  it('lists every env override in the table', () => {
    const table = describeConfigMarkdown();
    for (const name of envOverrideNames()) expect(table).toContain(`\`${name}\``);
  });

  it('is a well-formed Markdown table', () => {
    const lines = describeConfigMarkdown().trimEnd().split('\n');
    expect(lines[0]).toBe('| Key | Type | Default | Env | Description |');
    for (const line of lines) {
      // Five cells: six unescaped pipes per row.
      expect(line.replace(/\\\|/g, '').split('|').length - 1, line).toBe(6);
    }
  });
});
