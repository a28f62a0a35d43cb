import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { redactConfig, redactUrl } from '../../../src/config/redact.js';
import { redactSecrets, redactUrlsIn, splitCredentials } from '../../../src/log/redact.js';

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

describe('redactUrlsIn, more shapes', () => {
  it.each([
    ['x'.repeat(60_000), 'x'.repeat(60_000)],
    ['1://x and é://x and x:// and ://x', '1://x and é://x and x:// and ://x'],
    ['"http://u:p@h" <mqtts://u:p/q@h:8883>', '"http://u:[redacted]@h" <mqtts://u:[redacted]@h:8883>'],
    ['9a+b.c-d://u:p@h', '9a+b.c-d://u:[redacted]@h'],
  ])('%#', (input, expected) => {
    expect(redactUrlsIn(input)).toBe(expected);
  });
});

describe('splitCredentials', () => {
  it.each([
    ['mqtt://u:pa/ss@h:1883', { url: 'mqtt://h:1883', username: 'u', password: 'pa/ss' }],
    ['mqtt://u:pa%2Fss@h:1883/x?y=1', { url: 'mqtt://h:1883/x?y=1', username: 'u', password: 'pa/ss' }],
    ['https://u@h/x', { url: 'https://h/x', username: 'u' }],
    ['https://u:100%@h', { url: 'https://h', username: 'u', password: '100%' }],
    ['mqtt://h:1883', { url: 'mqtt://h:1883' }],
  ])('%s', (input, expected) => {
    expect(splitCredentials(input)).toEqual(expected);
  });
});

describe('redactSecrets', () => {
  it('hides secret keys at any depth, keeps a list of secrets a list, redacts URLs in every string and error', () => {
    const error = new Error('fetch failed for http://u:pw-1@h/x', { cause: new Error('see https://h/?key=k-2') });
    const input = { a: { b: { c: { d: { Password: 'pw-3', tokens: ['t-4', 't-5'] } } } }, line: 'go to mqtt://u:pw-6@h now', error, n: 1, when: new Date(0) };
    const out = redactSecrets(input);
    const text = JSON.stringify(out);
    for (const secret of ['pw-1', 'k-2', 'pw-3', 't-4', 't-5', 'pw-6']) expect(text).not.toContain(secret);
    expect(out.a.b.c.d.tokens).toEqual(['[redacted]', '[redacted]']);
    expect(out.line).toBe('go to mqtt://u:[redacted]@h now');
    expect(out.error).toMatchObject({ type: 'Error', message: 'fetch failed for http://u:[redacted]@h/x', cause: { message: 'see https://h/?key=[redacted]' } });
    expect([out.n, out.when]).toEqual([1, new Date(0)]);
    expect(input.a.b.c.d.Password).toBe('pw-3');
  });
});
