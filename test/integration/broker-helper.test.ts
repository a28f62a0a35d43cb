import { afterAll, afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker } from '../support/broker.js';
import { collect, waitFor } from '../support/wait.js';

// Started at collection time (top-level await) so `it.skipIf(!broker.canRestart)` can see the strategy.
const broker = await startBroker({ name: 'broker-helper' });

const clients: MqttClient[] = [];

function client(id: string): MqttClient {
  const c = mqtt.connect(broker.url, {
    clientId: `${id}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 100,
    connectTimeout: 2000,
  });
  c.on('error', () => undefined); // connection errors are expected while the broker is down
  clients.push(c);
  return c;
}

async function connected(c: MqttClient): Promise<MqttClient> {
  await waitFor(() => c.connected, { message: 'client did not connect to the test broker' });
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});

afterAll(async () => {
  await broker.stop();
  await broker.stop(); // idempotent
});

describe(`test broker helper (strategy=${broker.strategy})`, () => {
  it('runs a real broker on its own port, never the machine broker on 1883', () => {
    expect(broker.url).toBe(`mqtt://${new URL(broker.url).hostname}:${broker.port}`);
    if (broker.strategy !== 'external') expect(broker.port).not.toBe(1883);
    expect(broker.canRestart).toBe(broker.strategy !== 'external');
  });

  it('round-trips a publish through the broker', async () => {
    const sub = await connected(client('sub'));
    const pub = await connected(client('pub'));
    const seen = await collect(sub, 'helper/roundtrip/#');

    await pub.publishAsync('helper/roundtrip/a', 'hello', { qos: 1 });
    await pub.publishAsync('helper/other', 'not collected', { qos: 1 });
    await pub.publishAsync('helper/roundtrip/b/c', 'world', { qos: 1 });

    const messages = await waitFor(() => (seen.messages.length >= 2 ? seen.messages : undefined), {
      message: 'subscriber did not receive both publishes',
    });
    expect(messages.map((m) => [m.topic, m.payload])).toEqual([
      ['helper/roundtrip/a', 'hello'],
      ['helper/roundtrip/b/c', 'world'],
    ]);
    expect(messages.every((m) => typeof m.at === 'number' && m.at <= Date.now())).toBe(true);
    await seen.stop();
  });

  // An external broker (MQTT_TEST_URL) is not ours to kill, so the kill/restart behaviour cannot be shown there.
  it.skipIf(!broker.canRestart)('kill drops clients; restart on the same port lets them reconnect and round-trip again (skipped for external brokers: cannot restart)', async () => {
    const sub = await connected(client('sub'));
    const pub = await connected(client('pub'));
    const seen = await collect(sub, 'helper/restart', { qos: 1 });
    await pub.publishAsync('helper/restart', 'before', { qos: 1 });
    await waitFor(() => seen.messages.some((m) => m.payload === 'before'), { message: 'no round-trip before kill' });

    let subOffline = 0;
    let subReconnects = 0;
    sub.on('offline', () => subOffline++);
    sub.on('connect', () => subReconnects++);
    const { url, port } = broker;

    await broker.kill();
    await waitFor(() => !sub.connected && !pub.connected && subOffline > 0, {
      message: 'clients did not notice the broker being killed',
    });
    // Really gone: a fresh connection attempt is refused.
    const probe = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 1000 });
    const refused = await new Promise<boolean>((resolve) => {
      probe.once('connect', () => resolve(false));
      probe.once('error', () => resolve(true));
      probe.once('close', () => resolve(true));
    });
    probe.end(true);
    expect(refused).toBe(true);

    await broker.restart();
    expect(broker.port).toBe(port);
    expect(broker.url).toBe(url);
    await waitFor(() => sub.connected && pub.connected && subReconnects > 0, {
      timeoutMs: 10_000,
      message: 'clients did not reconnect after restart',
    });

    // mqtt.js re-subscribes on reconnect; the broker is fresh (persistence false), so this proves a new round-trip.
    await pub.publishAsync('helper/restart', 'after', { qos: 1 });
    await waitFor(() => seen.messages.some((m) => m.payload === 'after'), { message: 'no round-trip after restart' });
    await seen.stop();
  });

  it('waitFor times out with the given message', async () => {
    await expect(waitFor(() => undefined, { timeoutMs: 50, message: 'never ready' })).rejects.toThrow(/never ready/);
  });
});
