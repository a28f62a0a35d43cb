import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { arrive, siteStack, type SiteStack } from '../support/site-stack.js';
import { collect, waitFor, type Collector } from '../support/wait.js';

interface Response {
  status: 'ok' | 'error';
  data?: Record<string, unknown>;
  error?: string;
  transaction?: string | number;
}

describe('our MQTT interface, as seen from an MQTT explorer', () => {
  let broker: TestBroker;
  let stack: SiteStack;
  let client: MqttClient;
  let responses: Collector;
  let ns: string;

  beforeAll(async () => {
    broker = await startBroker();
    stack = await siteStack(broker.url);
    ns = stack.config.namespace;
    client = await rawClient(broker.url);
    responses = await collect(client, `${ns}/response/#`);
  });
  afterAll(async () => {
    await responses.stop();
    await client.endAsync();
    await stack.close();
    await broker.stop();
  });

  async function request(name: string, body: string, transaction: string | number): Promise<Response> {
    await client.publishAsync(`${ns}/request/${name}`, body);
    const found = await waitFor(() =>
      responses.messages.find((m) => m.topic === `${ns}/response/${name}` && (JSON.parse(m.payload) as Response).transaction === transaction),
      { message: `response to ${name} (${transaction})` },
    );
    return JSON.parse(found.payload) as Response;
  }

  it('sets a priority by EVSE-ID and answers with the stored record and the transaction id', async () => {
    const evseId = await waitFor(() => stack.view('evse_2').evseId);
    const r = await request('priority/set', JSON.stringify({ by: 'evse_id', evse_id: evseId, priority: 6, scope: 'persistent', transaction: 't1' }), 't1');
    expect(r).toMatchObject({ status: 'ok', transaction: 't1', data: { module_id: 'evse_2', connector_id: 1, priority: 6, scope: 'persistent', set_by: 'mqtt', created: true } });
    expect(stack.app.service.priority('evse_2', 1)?.priority).toBe(6);
  });

  it('answers bad requests on the response topic with a precise reason, and changes nothing', async () => {
    const before = JSON.stringify(stack.app.service.priorities());
    await client.publishAsync(`${ns}/request/priority/set`, '{"by":"module"');
    const badJson = await waitFor(() => responses.messages.map((m) => JSON.parse(m.payload) as Response).find((r) => r.error?.startsWith('invalid JSON')));
    expect(badJson.status).toBe('error');
    const range = await request('priority/set', JSON.stringify({ by: 'module', module_id: 'evse_1', connector_id: 1, priority: 10, transaction: 't2' }), 't2');
    expect(range).toMatchObject({ status: 'error', transaction: 't2' });
    expect(range.error).toMatch(/priority.*from -9 to 9/);
    const unknown = await request('priority/set', JSON.stringify({ by: 'module', module_id: 'nope', connector_id: 1, priority: 1, transaction: 't3' }), 't3');
    expect(unknown.error).toContain('nope');
    const site = await request('site/set', JSON.stringify({ max_power_w: -5, transaction: 't4' }), 't4');
    expect(site.status).toBe('error');
    expect(JSON.stringify(stack.app.service.priorities())).toBe(before);
    expect(stack.app.module.site.maxPowerW).toBe(22_000);
  });

  it('changes the site budget and publishes retained state a late subscriber can read', async () => {
    arrive(stack.sim, 'evse_1');
    const r = await request('site/set', JSON.stringify({ max_power_w: 30_000, transaction: 5 }), 5);
    expect(r).toMatchObject({ status: 'ok', data: { max_power_w: 30_000 } });
    await waitFor(() => stack.view('evse_1').state === 'Charging');

    // A new subscriber gets the retained state at once, as MQTT Explorer does when it connects.
    const late = await rawClient(broker.url);
    try {
      const states = await collect(late, `${ns}/#`);
      await waitFor(() => {
        const evse = states.messages.findLast((m) => m.topic === `${ns}/evse/evse_1/state`);
        const body = evse ? (JSON.parse(evse.payload) as { state: string; decision: { decision: string } | null; power_w: number }) : undefined;
        return body?.state === 'Charging' && body.decision?.decision === 'charge' && body.power_w > 0;
      }, { timeoutMs: 5000, message: 'retained evse state with decision' });
      expect(states.messages.find((m) => m.topic === `${ns}/status`)?.payload).toBe(JSON.stringify({ state: 'online' }));
      const site = states.messages.findLast((m) => m.topic === `${ns}/site/state`);
      expect(JSON.parse(site?.payload ?? '{}')).toMatchObject({ max_power_w: 30_000 });
    } finally {
      await late.endAsync();
    }
  });

  it('runs an action through the same one-in-flight discipline and reports it', async () => {
    const r = await request('action', JSON.stringify({ module_id: 'evse_3', type: 'release', transaction: 'a1' }), 'a1');
    expect(r).toMatchObject({ status: 'ok', data: { module_id: 'evse_3', type: 'release', origin: 'mqtt' } });
    const id = (r.data as { id: string }).id;
    await waitFor(() => stack.app.service.action(id)?.status === 'completed', { message: 'action completed' });
  });
});
