// Broker outage (issue 13 item 7): with the default reconnect settings, the communication check is
// back on the wire within about reconnect_max_ms of the broker's return, well inside EVerest's window.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, sharedContract } from '../support/everest-stack.js';
import { fastConfig } from '../support/site-stack.js';
import { sleep, waitFor } from '../support/wait.js';

const OUTAGE_MS = 2500;

let broker: TestBroker;
let app: RunningApp | undefined;
let watcher: MqttClient | undefined;
let dir: string;

beforeAll(async () => {
  broker = await startBroker({ name: 'outage' });
  dir = mkdtempSync(join(tmpdir(), 'evse-priority-outage-'));
});
afterAll(async () => {
  await app?.stop();
  await watcher?.endAsync(true);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.env.MQTT_TEST_URL !== undefined)('broker killed and restarted (skipped with MQTT_TEST_URL: an external broker cannot be killed)', () => {
  it('the communication check resumes within reconnect_max_ms of the broker coming back, at once after our reconnect', { timeout: 60_000 }, async () => {
    // Only the broker URL is set for mqtt: reconnect_min_ms / reconnect_max_ms keep their defaults.
    const config = fastConfig(broker.url, dir, { mqtt: { url: broker.url } });
    expect(config.mqtt.reconnect_max_ms).toBe(1000);
    app = await startApp(config, quietLogger(), { contract: await sharedContract() });
    const checkTopic = `everest_api/1/evse_manager_consumer/evse_1/m2e/communication_check`;
    const statusTopic = `${config.namespace}/status`;
    const checks: number[] = [];
    const onlines: number[] = [];
    // A watcher that comes back within milliseconds, so what it sees is the module's delay, not its own.
    watcher = mqtt.connect(broker.url, { reconnectPeriod: 20, connectTimeout: 2000, resubscribe: true });
    watcher.on('message', (topic, payload) => {
      if (topic === checkTopic) checks.push(performance.now());
      else if (topic === statusTopic && payload.toString().includes('online')) onlines.push(performance.now());
    });
    await new Promise<void>((resolve) => watcher?.once('connect', () => resolve()));
    await watcher.subscribeAsync([checkTopic, statusTopic]);
    await waitFor(() => checks.length >= 2, { message: 'communication checks before the outage' });

    await broker.kill();
    const lastBefore = checks.at(-1) ?? 0;
    await sleep(OUTAGE_MS);
    await broker.restart();
    const back = performance.now();
    await waitFor(() => checks.some((t) => t > back), { timeoutMs: 10_000, message: 'communication check after the outage' });
    const firstAfter = checks.find((t) => t > back) ?? Infinity;
    const onlineAfter = onlines.find((t) => t > back) ?? Infinity;
    const figures = {
      outage_ms: Math.round(back - lastBefore),
      check_after_broker_back_ms: Math.round(firstAfter - back),
      check_after_our_reconnect_ms: Math.round(firstAfter - onlineAfter),
      gap_ms: Math.round(firstAfter - lastBefore),
    };
    console.log(`[broker outage] ${JSON.stringify(figures)}`);
    // The old default (5 s cap) answered 3.4-3.6 s after the broker was back; the cap is now 1 s (+ connect, load).
    expect(figures.check_after_broker_back_ms).toBeLessThan(2000);
    // Sent as soon as the connection (subscriptions and status) is up, not at the next interval.
    expect(figures.check_after_our_reconnect_ms).toBeLessThan(config.everest.communication_check_interval_ms);
  });
});
