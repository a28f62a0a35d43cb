// Who can do what (issue 13 item 9) against the real composition root, a real Mosquitto and the simulator.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, simEvseId, type Harness, type HarnessOptions } from '../support/api-harness.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { rawHttp } from '../support/raw-http.js';
import { captureLog } from '../support/log-capture.js';
import { siteStack, type SiteStack } from '../support/site-stack.js';
import { collect, sleep, waitFor } from '../support/wait.js';

const TOKEN = 'access-token-0123456789';

let broker: TestBroker;
let h: Harness | undefined;
let stack: SiteStack | undefined;
let lines: string[] = [];

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const log = captureLog('debug');
  lines = log.lines;
  h = await startHarness(broker, { tokens: [TOKEN], logger: log.logger, ...options });
  return h;
}

beforeAll(async () => {
  broker = await startBroker({ name: 'access' });
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await stack?.close();
  stack = undefined;
});
afterAll(async () => {
  await broker?.stop();
});

describe('Host header', () => {
  it('is never copied into links: relative without http.public_base_url, under it with', async () => {
    const api = await harness({ config: { http: { public_base_url: 'https://evse.example.com/api/' } } });
    for (const id of ['evse_1', 'evse_2']) {
      expect((await api.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: id, connector_id: 1, priority: 1 } })).status).toBe(201);
    }
    const auth = { authorization: `Bearer ${TOKEN}` };
    const r = await rawHttp(api.url, 'GET', '/v1/priorities?limit=1', { ...auth, host: 'attacker.example:1234' });
    expect(r.status).toBe(200);
    expect(r.headers.link).toBe('<https://evse.example.com/api/v1/priorities?limit=1&offset=1>; rel="next"');
    // A malformed Host changes nothing either.
    const odd = await rawHttp(api.url, 'GET', '/v1/priorities?limit=1', { ...auth, host: 'a:b:c[' });
    expect([odd.status, odd.headers.link]).toEqual([200, '<https://evse.example.com/api/v1/priorities?limit=1&offset=1>; rel="next"']);
  });

  it('outside http.allowed_hosts gets 421 in the envelope before authentication; listed names (any port, or name:port) pass', async () => {
    const api = await harness({ config: { http: { allowed_hosts: ['evse.local', '127.0.0.1'] } } });
    for (const host of ['rebound.attacker.example', 'evse.local.attacker.example', 'localhost', 'evse.local:80:80']) {
      const r = await rawHttp(api.url, 'GET', '/v1/evses', { host });
      expect(r.status, host).toBe(421);
      expect(JSON.parse(r.text), host).toMatchObject({ data: null, status_code: 2000, status_message: expect.stringContaining('http.allowed_hosts') });
      expect((await rawHttp(api.url, 'GET', '/healthz', { host })).status, host).toBe(421);
    }
    expect((await rawHttp(api.url, 'GET', '/v1/evses', { host: 'EVSE.local:8443', authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    // fetch sends Host 127.0.0.1:<port> itself.
    expect((await api.call('GET', '/v1/evses')).status).toBe(200);
  });
});

describe('failed authentication', () => {
  it('is limited per client address: 429 with Retry-After, for a valid token too, and nothing reaches the routes', async () => {
    const api = await harness({ config: { http: { auth_failures_per_minute: 5 } } });
    for (let i = 0; i < 5; i++) expect((await api.call('PUT', '/v1/site', { json: { max_power_w: 0 }, token: `guess-${i}-0123456789` })).status).toBe(401);
    const limited = await api.call('PUT', '/v1/site', { json: { max_power_w: 0 }, token: 'guess-5-0123456789' });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body).toMatchObject({ data: null, status_code: 2000 });
    // Or a guesser would learn from 200 vs 429 that it found the token.
    expect((await api.call('PUT', '/v1/site', { json: { max_power_w: 0 } })).status).toBe(429);
    expect(api.service.site().max_power_w).toBe(22000);
    // Routes that need no token stay open.
    expect((await api.call('GET', '/healthz', { token: null })).status).toBe(200);
  });
});

describe('EVSE-ID claimed by two EVSEs', () => {
  it('is refused for lookups (409) and logged, while module_id still works; the real owner is served again once the claim goes', async () => {
    const api = await harness();
    const victim = simEvseId(1);
    const byId = { by: 'evse_id', evse_id: victim, priority: 7 };
    const client: MqttClient = await rawClient(broker.url);
    try {
      const topic = `everest_api/1/evse_manager_consumer/evse_2/e2m/evse_id`;
      await client.publishAsync(topic, JSON.stringify(victim));
      await waitFor(() => lines.some((l) => l.includes('EVSE-ID claimed by more than one EVSE')), { message: 'conflict logged' });
      const refused = await api.call('PUT', '/v1/priorities', { json: byId });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ data: null, status_message: expect.stringContaining('"evse_1" and "evse_2"') });
      expect(api.service.priorities()).toEqual([]);
      expect((await api.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 7 } })).status).toBe(201);
      await client.publishAsync(topic, JSON.stringify(simEvseId(2)));
      await waitFor(async () => (await api.call('PUT', '/v1/priorities', { json: { ...byId, priority: 8 } })).status === 200, { message: 'victim served again' });
      expect(api.service.priorities().map((p) => [p.module_id, p.priority])).toEqual([['evse_1', 8]]);
    } finally {
      await client.endAsync();
    }
  });
});

describe('MQTT API switches', () => {
  async function probe(overrides: { enabled: boolean; read_only: boolean }) {
    stack = await siteStack(broker.url, { mqtt_api: overrides });
    const ns = stack.config.namespace;
    const client = await rawClient(broker.url);
    const seen = await collect(client, `${ns}/#`);
    try {
      await client.publishAsync(`${ns}/request/site/set`, JSON.stringify({ max_power_w: 0 }));
      await client.publishAsync(`${ns}/request/action`, JSON.stringify({ module_id: 'evse_1', type: 'unlock' }));
      // Long enough for an answer on a loopback broker (they come in milliseconds when served).
      await sleep(700);
      const ours = seen.messages.map((m) => m.topic).filter((t) => !t.startsWith(`${ns}/request/`));
      return { ns, topics: new Set(ours), budget: stack.app.service.site().max_power_w };
    } finally {
      await seen.stop();
      await client.endAsync();
    }
  }

  it('read_only: state topics are published, requests are not served', async () => {
    const { ns, topics, budget } = await probe({ enabled: true, read_only: true });
    expect(budget).toBe(22000);
    expect(topics.has(`${ns}/site/state`)).toBe(true);
    expect([...topics].filter((t) => t.startsWith(`${ns}/response/`))).toEqual([]);
  });

  it('enabled false: nothing of ours but the status topic, and requests are not served', async () => {
    const { ns, topics, budget } = await probe({ enabled: false, read_only: false });
    expect(budget).toBe(22000);
    expect([...topics]).toEqual([`${ns}/status`]);
  });

  it('defaults serve requests (the control case of the two above)', async () => {
    const { ns, topics, budget } = await probe({ enabled: true, read_only: false });
    expect(budget).toBe(0);
    expect(topics.has(`${ns}/response/site/set`)).toBe(true);
  });
});
