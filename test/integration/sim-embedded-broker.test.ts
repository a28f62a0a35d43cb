import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { runSimCommand } from '../../src/sim/cli.js';
import { startEmbeddedBroker } from '../../src/sim/embedded-broker.js';
import { quietLogger } from '../support/everest-stack.js';
import { collect, waitFor } from '../support/wait.js';

describe('embedded broker + sim CLI', () => {
  it('runs the simulator from CLI arguments against the embedded broker and stops cleanly', async () => {
    const broker = await startEmbeddedBroker();
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const seen = await collect(client, 'p/everest_api/1.0/evse_manager_consumer/+/e2m/heartbeat');
      const stop = await runSimCommand(
        ['--url', broker.url, '--module-id', 'a', '--module-id', 'b', '--prefix', 'p/', '--api-version', '1.0', '--heartbeat-ms', '50', '--seed', '3'],
        quietLogger(),
      );
      await waitFor(() => seen.messages.filter((m) => m.topic.includes('/b/')).length >= 3, { timeoutMs: 3_000 });
      await stop();
      const count = seen.messages.length;
      await new Promise((r) => setTimeout(r, 200));
      expect(seen.messages.length).toBe(count);
      expect(seen.messages.filter((m) => m.topic.includes('/a/')).map((m) => m.payload).slice(0, 3)).toEqual(['0', '1', '2']);
    } finally {
      await client.endAsync();
      await broker.close();
    }
  });

  it('starts on a given port and refuses a port in use', async () => {
    const first = await startEmbeddedBroker();
    try {
      await expect(startEmbeddedBroker({ port: first.port })).rejects.toThrow(/cannot listen/);
    } finally {
      await first.close();
    }
  });

  it('rejects bad arguments with the usage text', async () => {
    await expect(runSimCommand(['--seed', 'abc'], quietLogger())).rejects.toThrow(/--seed must be an integer[\s\S]*usage: evse-priority sim/);
    await expect(runSimCommand(['--bogus'], quietLogger())).rejects.toThrow(/usage: evse-priority sim/);
    await expect(runSimCommand(['--url', 'mqtt://127.0.0.1:1', '--scenario', 'does/not/exist.yaml'], quietLogger())).rejects.toThrow(/ENOENT/);
  });
});
