import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig, redactUrl } from '../../../src/config/redact.js';
import { redactUrlsIn } from '../../../src/log/redact.js';

describe('redactConfig', () => {
  const config = loadConfig({
    env: {},
    overrides: {
      mqtt: { url: 'mqtt://user:hunter2@broker:1883', username: 'user', password: 'hunter2' },
      http: { tokens: ['tok-1-0123456789ab', 'tok-2-0123456789ab'] },
      webhooks: [{ url: 'https://hooks.example/x', secret: 'whsec' }],
    },
  });

  it('replaces every secret and leaves the rest', () => {
    const safe = redactConfig(config);
    expect(safe.mqtt.password).toBe('[redacted]');
    expect(safe.mqtt.username).toBe('user');
    expect(safe.mqtt.url).toBe('mqtt://user:[redacted]@broker:1883');
    expect(safe.http.tokens).toEqual(['[redacted]', '[redacted]']);
    expect(safe.webhooks).toEqual([{ url: 'https://hooks.example/x', secret: '[redacted]' }]);
    const text = JSON.stringify(safe);
    for (const secret of ['hunter2', 'tok-1-0123456789ab', 'tok-2-0123456789ab', 'whsec']) expect(text).not.toContain(secret);
  });

  it('does not touch the original', () => {
    redactConfig(config);
    expect(config.mqtt.password).toBe('hunter2');
    expect(config.http.tokens).toEqual(['tok-1-0123456789ab', 'tok-2-0123456789ab']);
  });

  it('leaves an unset password unset', () => {
    expect(redactConfig(loadConfig({ env: {} })).mqtt.password).toBeUndefined();
  });
});

describe('redactUrl', () => {
  it.each([
    ['mqtt://u:p@h:1883', 'mqtt://u:[redacted]@h:1883'],
    ['mqtts://u:p@ss@h/path?q=1', 'mqtts://u:[redacted]@h/path?q=[redacted]'],
    // An unencoded / in the password: no URL parser takes it, the redactor still hides it.
    ['mqtt://u:pa/ss@h:1883', 'mqtt://u:[redacted]@h:1883'],
    ['https://u:s3cret@hooks.example/in?key=abc&flag#frag', 'https://u:[redacted]@hooks.example/in?key=[redacted]&flag#frag'],
    ['mqtt://:p@h', 'mqtt://:[redacted]@h'],
    ['mqtt://u@h', 'mqtt://u@h'],
    ['mqtt://h:1883', 'mqtt://h:1883'],
    ['not a url', 'not a url'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactUrlsIn', () => {
  it('redacts every URL inside an error message', () => {
    expect(redactUrlsIn('Request cannot be constructed from a URL that includes credentials: https://user:pw@hook.example/x?token=t1')).toBe(
      'Request cannot be constructed from a URL that includes credentials: https://user:[redacted]@hook.example/x?token=[redacted]',
    );
  });
});
