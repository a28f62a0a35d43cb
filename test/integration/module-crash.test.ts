import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriorityStore } from '../../src/priorities/store.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { runModule, writeSiteConfig } from '../support/real-process.js';
import { collect, waitFor, type Collector } from '../support/wait.js';

const NS = 'evse_priority/crash';

describe('a crash never loses an acknowledged write', () => {
  let broker: TestBroker;
  let dir: string;
  let configFile: string;
  let client: MqttClient;
  let seen: Collector;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    dir = mkdtempSync(join(tmpdir(), 'evse-priority-crash-'));
    configFile = writeSiteConfig(dir, { instance: 'crash', brokerUrl: broker.url, evses: '[{ module_id: evse_1 }, { module_id: evse_2 }, { module_id: evse_3 }]' });
    client = await rawClient(broker.url);
    seen = await collect(client, `${NS}/#`);
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await seen.stop();
    await client.endAsync();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const online = (since: number) => waitFor(() => seen.messages.slice(since).some((m) => m.topic === `${NS}/status` && m.payload.includes('"online"')), { timeoutMs: 50_000, message: 'module online' });

  it('kill -9 in the middle of a stream of priority writes, then restart: every acknowledged one is there', async () => {
    const first = runModule(configFile);
    children.push(first);
    await online(0);

    // Fire writes without waiting; record the version of every acknowledged one per connector.
    const acked = new Map<string, number>();
    const mark = seen.messages.length;
    let sent = 0;
    const pump = setInterval(() => {
      for (let k = 0; k < 5; k++, sent++) {
        const id = `evse_${(sent % 3) + 1}`;
        void client.publishAsync(`${NS}/request/priority/set`, JSON.stringify({ by: 'module', module_id: id, connector_id: 1, priority: (sent % 19) - 9, scope: 'persistent', transaction: sent }));
      }
    }, 5);
    /** Number of acknowledged writes so far; fills `acked` with the highest acknowledged version per EVSE. */
    const ackCount = () => {
      acked.clear();
      let count = 0;
      for (const m of seen.messages.slice(mark)) {
        if (m.topic !== `${NS}/response/priority/set`) continue;
        const r = JSON.parse(m.payload) as { status: string; data?: { module_id: string; version: number } };
        if (r.status !== 'ok' || !r.data) continue;
        count += 1;
        acked.set(r.data.module_id, Math.max(acked.get(r.data.module_id) ?? 0, r.data.version));
      }
      return count;
    };
    await waitFor(() => ackCount() >= 30, { timeoutMs: 15_000, message: 'acknowledged writes' });
    first.kill('SIGKILL');
    clearInterval(pump);
    await new Promise((resolve) => first.once('exit', resolve));
    ackCount();
    expect(acked.size).toBe(3);

    // On disk: every acknowledged write, or a later one.
    const store = await PriorityStore.open(join(dir, 'data'));
    for (const [moduleId, version] of acked) {
      expect(store.get(moduleId, 1)?.version ?? 0, moduleId).toBeGreaterThanOrEqual(version);
    }
    const onDisk = new Map(store.list().map((r) => [r.module_id, r.priority]));
    await store.close();

    // And the restarted module serves them: its retained state shows each priority.
    const restartMark = seen.messages.length;
    const second = runModule(configFile);
    children.push(second);
    await online(restartMark);
    for (const [moduleId, priority] of onDisk) {
      await waitFor(() => {
        const state = seen.messages.slice(restartMark).findLast((m) => m.topic === `${NS}/evse/${moduleId}/state`);
        return state && (JSON.parse(state.payload) as { priority: number }).priority === priority;
      }, { message: `${moduleId} priority ${priority} after restart` });
    }
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));
    // Two cold starts of the real process: on a loaded 2-core machine each can take 20 s.
  }, 150_000);
});
