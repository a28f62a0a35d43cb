import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient, sharedContract } from '../support/everest-stack.js';
import { FakeCloud } from '../support/fake-cloud.js';
import { runModule } from '../support/real-process.js';
import { collect, sleep, waitFor, type Collector } from '../support/wait.js';

const NS = 'evse_priority/fwdcrash';

describe('an outage of the cloud and a kill -9 of the module delay the feed but never lose, reorder or corrupt it', () => {
  let broker: TestBroker;
  let cloud: FakeCloud;
  let sim: Simulator;
  let dir: string;
  let configFile: string;
  let client: MqttClient;
  let seen: Collector;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    cloud = await new FakeCloud().start();
    dir = mkdtempSync(join(tmpdir(), 'evse-priority-fwd-crash-'));
    configFile = join(dir, 'site.yaml');
    writeFileSync(
      configFile,
      [
        'instance: fwdcrash',
        `mqtt: { url: "${broker.url}", reconnect_min_ms: 100, reconnect_max_ms: 500 }`,
        'everest: { heartbeat_timeout_ms: 1500, communication_check_interval_ms: 500 }',
        'evses: [{ module_id: evse_1, charge_box_identity: CP-CRASH-1 }]',
        `store: { dir: "${join(dir, 'data')}" }`,
        'http: { enabled: false }',
        'log: { level: warn }',
        'forwarding:',
        `  url: "${cloud.url}"`,
        `  token_url: "${cloud.tokenUrl}"`,
        `  client_id: ${cloud.clientId}`,
        '  meter_interval_s: 1',
      ].join('\n'),
    );
    sim = await startSimulator({
      url: broker.url,
      moduleIds: ['evse_1'],
      heartbeatIntervalMs: 250,
      powermeterIntervalMs: 250,
      logger: quietLogger(),
      contract: await sharedContract(),
    });
    client = await rawClient(broker.url);
    seen = await collect(client, `${NS}/#`);
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await seen.stop();
    await client.endAsync();
    await sim.stop();
    await cloud.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Secrets come from the environment, as an operator should pass them. */
  const env = () => ({ ...process.env, EVSE_PRIORITY_FORWARDING_CLIENT_SECRET: cloud.clientSecret, EVSE_PRIORITY_FORWARDING_API_KEY: cloud.apiKey });
  /** The real process, as an operator runs it. */
  const start = (): ChildProcess => {
    const child = runModule(configFile, undefined, env());
    children.push(child);
    return child;
  };
  const retained = (since: number) =>
    seen.messages
      .slice(since)
      .filter((m) => m.topic === `${NS}/site/state`)
      .map((m) => JSON.parse(m.payload) as { forwarding?: { state: string; queued: number; oldest_age_s: number } })
      .at(-1)?.forwarding;
  /** Started through and through: the retained site state (with `forwarding`) comes after every subscription is in place. */
  const online = (since: number) =>
    waitFor(() => retained(since) !== undefined, { timeoutMs: 60_000, message: 'module online with forwarding' });
  const simState = () => sim.evse('evse_1').snapshot().state;

  it('cloud down, kill -9 mid-session, restart, the car leaves while the cloud is still down: once it is back every event arrives, in order, one transactionId', { timeout: 180_000 }, async () => {
    const first = start();
    await online(0);
    sim.apply({ module_id: 'evse_1', action: 'plug_in', max_power_w: 11_000 });
    sim.apply({ module_id: 'evse_1', action: 'authorize', id_tag: 'CRASH-TAG' });
    await waitFor(() => simState() === 'Charging', { timeoutMs: 15_000 });
    await waitFor(() => cloud.received.some((r) => r.kind === 'TransactionEvent' && (r.body.transactionInfo as { chargingState?: string }).chargingState === 'Charging'), {
      timeoutMs: 30_000,
      message: 'Charging reached the cloud',
    });

    // The cloud goes down; the car pauses itself; everything queues on disk.
    cloud.failWith = 503;
    const downAt = seen.messages.length;
    sim.apply({ module_id: 'evse_1', action: 'ev_pause' });
    await waitFor(() => simState() === 'ChargingPausedEV', { timeoutMs: 15_000 });
    await waitFor(() => (retained(downAt)?.queued ?? 0) >= 3, { timeoutMs: 30_000, message: 'queue visible in the retained site state' });
    expect(retained(downAt)?.state).toBe('retrying');

    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const restartAt = seen.messages.length;
    start();
    await online(restartAt);
    await sleep(1500);
    sim.apply({ module_id: 'evse_1', action: 'ev_resume' });
    await waitFor(() => simState() === 'Charging', { timeoutMs: 15_000 });
    await sleep(1500);
    // The car leaves while the cloud is still down.
    sim.apply({ module_id: 'evse_1', action: 'unplug' });
    await waitFor(() => simState() === 'Unplugged', { timeoutMs: 15_000 });
    await sleep(1000);
    expect(cloud.received.filter((r) => r.kind === 'TransactionEvent')).toHaveLength(2);

    cloud.failWith = undefined;
    const tx = String((cloud.received[0]?.body.transactionInfo as { transactionId: string }).transactionId);
    await waitFor(() => cloud.transaction(tx).some((b) => b.eventType === 'Ended'), { timeoutMs: 30_000, message: () => `got ${JSON.stringify(cloud.transaction(tx).map((b) => b.seqNo))}` });
    await waitFor(() => retained(restartAt)?.queued === 0, { timeoutMs: 30_000, message: 'queue drained' });

    const events = cloud.received.filter((r) => r.kind === 'TransactionEvent').map((r) => r.body);
    // One transaction, seqNo 0.. without gaps or repeats, in order; the states as the car lived them.
    expect(new Set(events.map((b) => (b.transactionInfo as { transactionId: string }).transactionId))).toEqual(new Set([tx]));
    expect(events.map((b) => b.seqNo)).toEqual(events.map((_, i) => i));
    expect(cloud.trail(tx)).toEqual(FakeCloud.WHOLE_SESSION_TRAIL);
    // Meter values queued before and after the crash all arrived, oldest first.
    const meterTimes = cloud.received.filter((r) => r.kind === 'MeterValues').map((r) => Date.parse((r.body.meterValue as { timestamp: string }[])[0]?.timestamp ?? ''));
    expect(meterTimes.length).toBeGreaterThanOrEqual(4);
    expect(meterTimes).toEqual([...meterTimes].sort((a, b) => a - b));
    expect(cloud.schemaRejections).toEqual([]);
  });
});
