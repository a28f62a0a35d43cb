import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log/logger.js';

const SECRETS = ['mqtt-pw-1', 'api-token-1-abcdefgh', 'api-token-2-abcdefgh', 'hook-secret-1', 'bearer-abc', 'url-pw-9', 'child-token'];

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      out += String(chunk);
      callback();
    },
  });
  return { stream, text: () => out };
}

function logEverything(pretty: boolean): string {
  const sink = capture();
  const logger = createLogger({ level: 'trace', pretty, destination: sink.stream });
  const config = loadConfig({
    env: {},
    overrides: {
      mqtt: { url: 'mqtt://user:url-pw-9@broker:1883', password: 'mqtt-pw-1' },
      http: { tokens: ['api-token-1-abcdefgh', 'api-token-2-abcdefgh'] },
      webhooks: [{ url: 'https://hooks.example/x', secret: 'hook-secret-1' }],
    },
  });
  // The shapes components are likely to log: the config whole or in parts, requests, bindings.
  logger.info({ config }, 'loaded');
  logger.info(config, 'loaded flat');
  logger.info({ mqtt: config.mqtt, http: config.http, webhooks: config.webhooks }, 'sections');
  logger.info({ password: 'mqtt-pw-1', token: 'api-token-1-abcdefgh', tokens: config.http.tokens, secret: 'hook-secret-1' });
  logger.warn({ req: { method: 'GET', headers: { authorization: 'Bearer bearer-abc' } } }, 'request');
  logger.debug({ headers: { authorization: 'Bearer bearer-abc' } }, 'webhook sent');
  logger.info({ url: config.mqtt.url }, 'connecting');
  const child = logger.child({ component: 'transport', token: 'child-token' });
  child.error({ options: { password: 'mqtt-pw-1' } }, 'connect failed');
  return sink.text();
}

describe('createLogger', () => {
  it.each([false, true])('never writes a secret (pretty: %s)', (pretty) => {
    const out = logEverything(pretty);
    expect(out).toContain('loaded');
    expect(out).toContain('[redacted]');
    for (const secret of SECRETS) expect(out, secret).not.toContain(secret);
  });

  it('keeps the rest of a URL with credentials', () => {
    const out = logEverything(false);
    expect(out).toContain('mqtt://user:[redacted]@broker:1883');
  });

  it('writes JSON lines with component bindings and honours the level', () => {
    const sink = capture();
    const logger = createLogger({ level: 'info', pretty: false, destination: sink.stream });
    logger.child({ component: 'scheduler' }).info({ evse: 'evse_1' }, 'paused');
    logger.debug('not written');
    const lines = sink.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, component: 'scheduler', evse: 'evse_1', msg: 'paused' });
  });
});
