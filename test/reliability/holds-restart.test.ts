// Restart with a car paused (issue 13 item 2): the real process pauses a car for a higher priority, is
// killed (SIGKILL, then SIGTERM in a second run), and started again; when the higher priority car
// leaves, the paused car is resumed. Who paused what lives in the store, not only in memory.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STORE_FILE_NAME } from '../../src/priorities/store.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient, sharedContract } from '../support/everest-stack.js';
import { runModule, writeSiteConfig } from '../support/real-process.js';
import { arrive } from '../support/site-stack.js';
import { collect, sleep, waitFor, type Collector } from '../support/wait.js';

const EVSES = ['evse_1', 'evse_2'];

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ name: 'holds-restart' });
});
afterAll(async () => {
  await broker?.stop();
});

describe('restart with a car paused', () => {
  let dir: string;
  let sim: Simulator | undefined;
  let client: MqttClient | undefined;
  let seen: Collector | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await seen?.stop();
    await client?.endAsync(true);
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)(
    '%s while a car is paused for priority: after the restart the paused car is still ours, and is resumed when the priority car leaves',
    { timeout: 240_000 },
    async (signal) => {
      dir = mkdtempSync(join(tmpdir(), 'evse-priority-holds-'));
      const instance = `holds${signal.toLowerCase()}`;
      const ns = `evse_priority/${instance}`;
      const configFile = writeSiteConfig(dir, {
        instance,
        brokerUrl: broker.url,
        evses: `[${EVSES.map((id) => `{ module_id: ${id}, max_current_a: 16, phases: 3 }`).join(', ')}]`,
        // One 11 kW car fits.
        extra: [
          'site: { max_power_w: 12000 }',
          'scheduler: { min_on_time_s: 1, min_off_time_s: 1, reservation_timeout_s: 3 }',
          'everest: { heartbeat_timeout_ms: 1500, request_timeout_ms: 2000, communication_check_interval_ms: 500 }',
          'enforcer: { confirm_timeout_ms: 3000, retry_backoff_ms: 200 }',
        ],
      });
      client = await rawClient(broker.url);
      seen = await collect(client, `${ns}/#`);
      const online = (since: number) =>
        waitFor(() => seen?.messages.slice(since).some((m) => m.topic === `${ns}/status` && m.payload.includes('"online"')), { timeoutMs: 90_000, message: 'module online' });

      const first = runModule(configFile);
      children.push(first);
      await online(0);
      sim = await startSimulator({ url: broker.url, moduleIds: EVSES, heartbeatIntervalMs: 250, powermeterIntervalMs: 250, logger: quietLogger(), contract: await sharedContract(), evse: { hwMaxCurrentA: 16, hwPhases: 3 } });
      const s = sim;
      const state = (id: string) => s.evse(id).snapshot().state;

      arrive(s, 'evse_1');
      await waitFor(() => state('evse_1') === 'Charging', { timeoutMs: 20_000, message: 'evse_1 charging' });
      await client.publishAsync(`${ns}/request/priority/set`, JSON.stringify({ by: 'module', module_id: 'evse_2', connector_id: 1, priority: 5, scope: 'persistent', transaction: 1 }));
      await waitFor(() => seen?.messages.some((m) => m.topic === `${ns}/response/priority/set` && m.payload.includes('"ok"')), { timeoutMs: 20_000, message: 'priority set' });
      arrive(s, 'evse_2');
      await waitFor(() => state('evse_1') === 'ChargingPausedEVSE' && state('evse_2') === 'Charging', {
        timeoutMs: 30_000,
        message: () => `evse_1 paused for evse_2 (${state('evse_1')}, ${state('evse_2')})`,
      });
      // Written before the pause went out (evse_2's own brief hold on arrival may still be on its way out).
      const stored = JSON.parse(readFileSync(join(dir, 'data', STORE_FILE_NAME), 'utf8')) as { holds?: Array<{ module_id: string; kind: string }> };
      expect(stored.holds).toContainEqual(expect.objectContaining({ module_id: 'evse_1', kind: 'pause' }));

      first.kill(signal);
      await new Promise((resolve) => first.once('exit', resolve));
      const mark = seen.messages.length;
      const second = runModule(configFile);
      children.push(second);
      await online(mark);
      // Back in charge, it leaves the pause as it is while the priority car charges.
      await sleep(3000);
      expect([state('evse_1'), state('evse_2')]).toEqual(['ChargingPausedEVSE', 'Charging']);

      s.apply({ module_id: 'evse_2', action: 'unplug' });
      await waitFor(() => state('evse_1') === 'Charging', { timeoutMs: 30_000, message: () => `evse_1 resumed after the priority car left (${state('evse_1')})` });
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
      // The hold ended with the resume.
      const after = JSON.parse(readFileSync(join(dir, 'data', STORE_FILE_NAME), 'utf8')) as { holds?: unknown[] };
      expect(after.holds).toEqual([]);
    },
  );
});
