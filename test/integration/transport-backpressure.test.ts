import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttTransport, NotConnectedError } from '../../src/transport/mqtt-transport.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient } from '../support/everest-stack.js';
import { collect, waitFor } from '../support/wait.js';

// 1000 EVSEs' start-up publishes go out in one burst. mqtt.js used to get each while the socket's buffer was
// full and added a 'drain' listener per publish (MaxListenersExceededWarning at 1001); the transport now
// holds them back in order behind one listener.
describe('transport back-pressure: a burst of publishes', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });

  /** Fills the backlog, ends the connection with `end`, and checks that what still waited was rejected as not connected. */
  async function expectWaitingRejected(transport: MqttTransport, prefix: string, end: () => Promise<unknown>): Promise<void> {
    await waitFor(() => transport.connected);
    const body = 'z'.repeat(1000);
    const sent = Array.from({ length: 2000 }, (_, i) => transport.publish(`${prefix}/${i}`, body));
    expect(transport.backlogSize).toBeGreaterThan(0);
    const outcomes = Promise.allSettled(sent);
    await end();
    const rejected = (await outcomes).filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(NotConnectedError);
    expect(transport.backlogSize).toBe(0);
  }

  function connect(): MqttTransport {
    return new MqttTransport({ url: broker.url, clientId: `burst-${Math.random().toString(16).slice(2)}`, logger: quietLogger() });
  }

  it('arrive whole and in order, held back without a drain listener each (no MaxListenersExceededWarning)', async () => {
    const transport = connect();
    const watcher = await rawClient(broker.url);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await waitFor(() => transport.connected);
      const seen = await collect(watcher, 'burst/+');
      const count = 3000;
      const body = 'x'.repeat(200);
      const sent = Array.from({ length: count }, (_, i) => transport.publish(`burst/${i}`, `${i} ${body}`));
      // Held back, not handed to mqtt.js with a listener each.
      expect(transport.backlogSize).toBeGreaterThan(0);
      await Promise.all(sent);
      expect(transport.backlogSize).toBe(0);
      await waitFor(() => seen.messages.length === count, { message: `all ${count} burst messages at the watcher` });
      expect(seen.messages.map((m) => m.topic)).toEqual(Array.from({ length: count }, (_, i) => `burst/${i}`));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await watcher.endAsync();
      await transport.close();
    }
  });

  it.skipIf(process.env.MQTT_TEST_URL !== undefined)(
    'a publish still waiting when the broker dies is rejected as not connected (skipped with MQTT_TEST_URL: the test kills its broker)',
    async () => {
      const doomed = await startBroker({ name: 'burst-doomed' });
      const transport = new MqttTransport({ url: doomed.url, clientId: 'burst-doomed', logger: quietLogger(), reconnectMinMs: 60_000 });
      try {
        await expectWaitingRejected(transport, 'burst-dead', () => doomed.kill());
      } finally {
        await transport.close();
        await doomed.stop();
      }
    },
  );

  it('a publish still waiting when the transport closes is rejected as not connected', async () => {
    const transport = connect();
    await expectWaitingRejected(transport, 'burst-close', () => transport.close());
  });
});
