// One MQTT message must not kill us (issue 13 item 1): request names that are built-in object
// properties, and deep or huge payloads, on every request topic. The module answers or ignores them
// and keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { siteStack, type SiteStack } from '../support/site-stack.js';
import { collect, waitFor } from '../support/wait.js';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf', 'toLocaleString', 'propertyIsEnumerable', '__lookupGetter__', '__defineSetter__'];
const REQUESTS = ['priority/set', 'priority/delete', 'priority/reset', 'site/set', 'action'];
const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const PAYLOADS = [
  `{"transaction":${deep(5_000)}}`,
  `{"transaction":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
  `{"transaction":"${'x'.repeat(60_000)}"}`,
  `{"max_power_w":${deep(3_000)},"module_id":${deep(3_000)}}`,
  '{"__proto__":{"polluted":true}}',
  '\u0000\u0001garbage',
  '',
];

let broker: TestBroker;
let stack: SiteStack;

beforeAll(async () => {
  broker = await startBroker({ name: 'mqtt-hostile' });
  stack = await siteStack(broker.url);
});
afterAll(async () => {
  await stack?.close();
  await broker?.stop();
});

describe('hostile messages on our MQTT request topics', () => {
  it('prototype names and deep payloads on every request topic, retained too: the module keeps serving and nothing changes', { timeout: 60_000 }, async () => {
    const ns = stack.config.namespace;
    const client = await rawClient(broker.url);
    const seen = await collect(client, `${ns}/response/#`);
    try {
      for (const name of PROTOTYPE_NAMES) {
        await client.publishAsync(`${ns}/request/${name}`, '{}');
        await client.publishAsync(`${ns}/request/${name}`, '{}', { retain: true });
      }
      for (const name of REQUESTS) for (const payload of PAYLOADS) await client.publishAsync(`${ns}/request/${name}`, payload);
      // Still alive and serving: a valid request after all of it is answered.
      await client.publishAsync(`${ns}/request/site/set`, JSON.stringify({ max_power_w: 21_000, transaction: 'after' }));
      await waitFor(() => seen.messages.some((m) => m.payload.includes('"after"') && m.payload.includes('"ok"')), { timeoutMs: 10_000, message: 'answer to the valid request' });
      expect(stack.app.service.site().max_power_w).toBe(21_000);
      expect(stack.app.service.priorities()).toEqual([]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // Every answer is small: echoed fields are bounded.
      for (const m of seen.messages) expect(m.payload.length, m.topic).toBeLessThan(4096);
    } finally {
      for (const name of PROTOTYPE_NAMES) await client.publishAsync(`${ns}/request/${name}`, '', { retain: true });
      await seen.stop();
      await client.endAsync();
    }
  });
});
