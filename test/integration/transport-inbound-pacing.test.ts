import { setImmediate as immediate } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INBOUND_SLICE_MS, MqttTransport } from '../../src/transport/mqtt-transport.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient } from '../support/everest-stack.js';
import { waitFor } from '../support/wait.js';

/** Keeps the CPU busy for `ms`, as a costly handler (parsing, validation, a re-plan) would. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

// mqtt.js hands over every packet of a socket read in one macrotask; a burst of inbound messages was
// one long task in which no timer (the communication check) could run. The transport now lets the event
// loop turn after INBOUND_SLICE_MS of handling, keeping the order.
describe('transport: a burst of inbound messages', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('is handled in order, a few milliseconds per turn of the event loop', async () => {
    const transport = new MqttTransport({ url: broker.url, clientId: `pacing-${Math.random().toString(16).slice(2)}`, logger: quietLogger() });
    const publisher = await rawClient(broker.url);
    // Turns of the event loop, counted by a setImmediate chain: messages handled in one macrotask see one value.
    let turn = 0;
    let spinning = true;
    void (async () => {
      while (spinning) {
        await immediate();
        turn += 1;
      }
    })();
    const seen: Array<{ n: number; turn: number }> = [];
    const stop = transport.onMessage((_topic, payload) => {
      // 1 ms each: the socket fills while the first messages are handled, so later reads carry many.
      busy(1);
      seen.push({ n: Number(payload.toString('utf8').split(' ')[0]), turn });
    });
    try {
      await waitFor(() => transport.connected);
      await transport.subscribe(['pacing/+']);
      const count = 400;
      const body = 'y'.repeat(1000);
      for (let i = 0; i < count; i++) publisher.publish(`pacing/${i % 7}`, `${i} ${body}`);
      await waitFor(() => seen.length === count, { timeoutMs: 30_000, message: `all ${count} messages handled` });

      expect(seen.map((s) => s.n)).toEqual(Array.from({ length: count }, (_, i) => i));
      const perTurn = new Map<number, number>();
      for (const s of seen) perTurn.set(s.turn, (perTurn.get(s.turn) ?? 0) + 1);
      // A slice ends after the first message that takes it past INBOUND_SLICE_MS: at most slice + 1
      // messages of 1 ms each, some slack for a slow clock. Without pacing a read's ~60 messages share a turn.
      expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(INBOUND_SLICE_MS + 3);
    } finally {
      spinning = false;
      stop();
      await publisher.endAsync();
      await transport.close();
    }
  });
});
