import { spawn } from 'node:child_process';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommunicationCheck } from '../../src/everest/liveness.js';
import { STATUS_OFFLINE, STATUS_ONLINE } from '../../src/transport/mqtt-transport.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { clientStack, quietLogger, rawClient } from '../support/everest-stack.js';
import { collect, waitFor } from '../support/wait.js';

const BASE = 'everest_api/1/evse_manager_consumer';

describe('connection: status, last-will, reconnect and resubscribe', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('speaks MQTT 5 when configured: typed streams and request/reply work the same', async () => {
    const stack = await clientStack(broker.url, ['evse_a'], { protocolVersion: 5 });
    const peer = await rawClient(broker.url);
    try {
      await peer.subscribeAsync(`${BASE}/evse_a/m2e/pause_charging`);
      peer.on('message', (_t, payload) => {
        const replyTo = (JSON.parse(payload.toString()) as { headers: { replyTo: string } }).headers.replyTo;
        void peer.publishAsync(replyTo, 'true');
      });
      await waitFor(() => stack.transport.connected);
      expect(await firstValueFrom(stack.client.evse('evse_a').request('pause_charging'))).toBe(true);
      // Mosquitto logs the protocol level of each client: p5 is MQTT 5.
      if (broker.strategy === 'local-mosquitto') expect(await broker.readLog()).toMatch(/as test-[0-9a-f]+ \(p5,/);
    } finally {
      await peer.endAsync();
      await stack.close();
    }
  });

  it('publishes a retained online status, and offline on clean close', async () => {
    const statusTopic = `evse_priority/test-${Date.now()}/status`;
    const stack = await clientStack(broker.url, ['evse_a'], { statusTopic });
    await waitFor(() => stack.transport.connected);
    const watcher = await rawClient(broker.url);
    try {
      // Retained: a subscriber that arrives later still sees it.
      const seen = await collect(watcher, statusTopic);
      await waitFor(() => seen.messages.at(-1)?.payload === STATUS_ONLINE, { message: 'retained online status' });
      await stack.close();
      await waitFor(() => seen.messages.at(-1)?.payload === STATUS_OFFLINE, { message: 'offline status on close' });
    } finally {
      await watcher.endAsync();
    }
  });

  it.skipIf(process.env.MQTT_TEST_URL !== undefined)(
    'survives a broker kill and restart on the same port: reconnects, resubscribes, and the communication check resumes within 2 s (skipped with MQTT_TEST_URL: an external broker cannot be restarted by the test)',
    async () => {
      const stack = await clientStack(broker.url, ['evse_a', 'evse_b'], { reconnectMaxMs: 500 });
      const check = new CommunicationCheck({ client: stack.client, status$: stack.transport.status$, moduleIds: ['evse_a', 'evse_b'], intervalMs: 1000, logger: quietLogger() });
      check.start();
      const statuses: string[] = [];
      stack.transport.status$.subscribe((s) => statuses.push(s));
      const ids: unknown[] = [];
      stack.client.evse('evse_b').on('evse_id').subscribe((v) => ids.push(v));
      try {
        await waitFor(() => check.lastSentAt('evse_a') !== undefined);
        await broker.kill();
        await waitFor(() => statuses.includes('offline') || statuses.includes('reconnecting'), { message: 'client noticed the broker is gone' });
        await broker.restart();
        const back = Date.now();
        // A fresh watcher on the restarted broker sees the first communication check after its return.
        const watcher = await rawClient(broker.url);
        try {
          const checks = await collect(watcher, `${BASE}/+/m2e/communication_check`);
          const first = await waitFor(() => checks.messages.find((m) => m.topic.includes('/evse_a/')), { timeoutMs: 4000 });
          expect(first.payload).toBe('true');
          expect(first.at - back).toBeLessThanOrEqual(2000);
          // Resubscribed: an e2m message published after the restart reaches the typed stream.
          await waitFor(async () => {
            await watcher.publishAsync(`${BASE}/evse_b/e2m/evse_id`, JSON.stringify('DEPNXE000002*1'));
            return ids.length > 0;
          }, { message: 'e2m stream after resubscribe' });
          expect(statuses.filter((s) => s === 'online').length).toBeGreaterThanOrEqual(2);
        } finally {
          await watcher.endAsync();
        }
      } finally {
        await check.stop(false);
        await stack.close();
      }
    },
  );

  it('the broker publishes our last-will offline status when the process is killed -9', async () => {
    const statusTopic = `evse_priority/will-${Date.now()}/status`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/transport-child.ts', broker.url, statusTopic], { stdio: ['ignore', 'pipe', 'inherit'] });
    const watcher = await rawClient(broker.url);
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('ready'), { timeoutMs: 15_000, message: 'child connected' });
      const seen = await collect(watcher, statusTopic);
      await waitFor(() => seen.messages.at(-1)?.payload === STATUS_ONLINE);
      child.kill('SIGKILL');
      await waitFor(() => seen.messages.at(-1)?.payload === STATUS_OFFLINE, { timeoutMs: 5000, message: 'last-will offline status' });
    } finally {
      child.kill('SIGKILL');
      await watcher.endAsync();
    }
  });
});
