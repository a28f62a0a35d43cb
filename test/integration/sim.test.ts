import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../src/everest/contract.js';
import { EverestTopics } from '../../src/everest/topics.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { startSimulator, type SimEvent, type Simulator, type SimulatorOptions } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient, sharedContract } from '../support/everest-stack.js';
import { collect, sleep, waitFor, type CollectedMessage } from '../support/wait.js';
import { loadReferenceValidators } from '../support/reference-schemas.js';

const reference = loadReferenceValidators();

let broker: TestBroker;
let contract: Contract;
let client: MqttClient;
const cleanups: Array<() => Promise<void>> = [];
let testNo = 0;

beforeAll(async () => {
  broker = await startBroker({ name: 'sim' });
  contract = await sharedContract();
  client = await rawClient(broker.url);
});

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await client?.endAsync();
  await broker?.stop();
});

/** Each test gets its own topic prefix, so simulators of different tests never see each other. */
async function sim(opts: Partial<SimulatorOptions> & { moduleIds: string[] }): Promise<{ sim: Simulator; topics: EverestTopics; events: SimEvent[] }> {
  const prefix = `simtest${++testNo}/`;
  const s = await startSimulator({
    url: broker.url,
    logger: quietLogger(),
    contract,
    topics: { prefix },
    heartbeatIntervalMs: 100,
    powermeterIntervalMs: 200,
    communicationCheckTimeoutS: 1,
    ...opts,
  });
  const events: SimEvent[] = [];
  const sub = s.events$.subscribe((e) => events.push(e));
  cleanups.push(async () => {
    sub.unsubscribe();
    await s.stop();
  });
  return { sim: s, topics: s.topics, events };
}

/** A collector that must be running before the simulator starts, so nothing is missed. */
async function watch(prefix: string): Promise<CollectedMessage[]> {
  const c = await collect(client, `${prefix}everest_api/1/evse_manager_consumer/+/e2m/#`);
  cleanups.push(() => c.stop());
  return c.messages;
}

function eventsOf(messages: CollectedMessage[], moduleId: string): string[] {
  return messages
    .filter((m) => m.topic.endsWith(`/${moduleId}/e2m/session_event`))
    .map((m) => (JSON.parse(m.payload) as { event: string }).event);
}

function validateAll(messages: CollectedMessage[], topics: EverestTopics): { failures: string[]; byName: Map<string, unknown[]> } {
  const failures: string[] = [];
  const byName = new Map<string, unknown[]>();
  for (const m of messages) {
    const parsed = topics.parse(m.topic);
    if (!parsed || parsed.rest.length > 0) continue;
    let data: unknown;
    try {
      data = JSON.parse(m.payload);
    } catch {
      failures.push(`${m.topic}: not JSON: ${m.payload}`);
      continue;
    }
    byName.set(parsed.name, [...(byName.get(parsed.name) ?? []), data]);
    const r = contract.validateE2m(parsed.name, data);
    if (!r.ok) failures.push(`${m.topic}: ${r.reason}`);
  }
  return { failures, byName };
}

describe('simulator on a real broker', () => {
  let scenarioMessages: CollectedMessage[] = [];
  let scenarioTopics: EverestTopics | undefined;

  it('runs a scripted scenario; every message it publishes is valid against our contract', async () => {
    const prefix = `simtest${testNo + 1}/`;
    const messages = await watch(prefix);
    const scenario = parseScenario([
      { at: 0.1, module_id: 'evse_1', action: 'plug_in', max_power_w: 11000 },
      { at: 0.2, module_id: 'evse_1', action: 'authorize', id_tag: 'TAG1' },
      { at: 0.3, module_id: 'evse_2', action: 'plug_in', auto_authorize: true, target_energy_wh: 0.5 },
      { at: 0.6, module_id: 'evse_1', action: 'set_limit', current_a: 10, phases: 1 },
      { at: 0.8, module_id: 'evse_1', action: 'ev_pause' },
      { at: 1.0, module_id: 'evse_1', action: 'ev_resume' },
      { at: 1.4, module_id: 'evse_1', action: 'unplug' },
      { at: 1.6, module_id: 'evse_2', action: 'unplug' },
    ]);
    const { topics } = await sim({ moduleIds: ['evse_1', 'evse_2'], scenario });
    await waitFor(() => eventsOf(messages, 'evse_1').includes('SessionFinished') && eventsOf(messages, 'evse_2').includes('SessionFinished'), {
      timeoutMs: 10_000,
      message: () => `sessions did not finish: ${eventsOf(messages, 'evse_1').join(',')} / ${eventsOf(messages, 'evse_2').join(',')}`,
    });
    await sleep(300);
    scenarioMessages = [...messages];
    scenarioTopics = topics;

    const { failures, byName } = validateAll(scenarioMessages, topics);
    expect(failures).toEqual([]);
    for (const name of ['heartbeat', 'evse_id', 'hw_capabilities', 'limits', 'enforced_limits', 'session_event', 'session_info', 'powermeter']) {
      expect(byName.get(name)?.length ?? 0, name).toBeGreaterThan(0);
    }
    expect(eventsOf(messages, 'evse_1')).toEqual([
      'Enabled',
      'SessionStarted',
      'AuthRequired',
      'Authorized',
      'TransactionStarted',
      'PrepareCharging',
      'ChargingStarted',
      'ChargingPausedEV',
      'ChargingResumed',
      'ChargingPausedEV',
      'StoppingCharging',
      'ChargingFinished',
      'TransactionFinished',
      'SessionFinished',
    ]);
    // evse_2's car fills its 0.5 Wh and pauses itself.
    expect(eventsOf(messages, 'evse_2')).toContain('ChargingPausedEV');

    const beats = messages.filter((m) => m.topic === topics.e2m('evse_1', 'heartbeat')).map((m) => Number(m.payload));
    expect(beats.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    beats.forEach((b, i) => expect(b).toBe(i));
  });

  it.skipIf(!reference.ok)(
    `every scenario message is valid against the upstream reference schemas${reference.ok ? '' : ` — SKIPPED: ${reference.reason}`}`,
    () => {
      if (!reference.ok || !scenarioTopics) throw new Error('scenario test did not run');
      expect(scenarioMessages.length).toBeGreaterThan(50);
      const failures: string[] = [];
      for (const m of scenarioMessages) {
        const parsed = scenarioTopics.parse(m.topic);
        if (!parsed || parsed.rest.length > 0) continue;
        const err = reference.validators.e2m(parsed.name, JSON.parse(m.payload) as unknown);
        if (err) failures.push(`${m.topic}: ${err}`);
      }
      expect(failures).toEqual([]);
    },
  );

  it('publishes EVerest topics without retain; only its own status topic is retained', async () => {
    const { sim: s, topics } = await sim({ moduleIds: ['evse_1'] });
    await sleep(500);
    const late = await rawClient(broker.url);
    cleanups.push(() => late.endAsync());
    const seen: Array<{ topic: string; retain: boolean; payload: string }> = [];
    late.on('message', (topic, payload, packet) => seen.push({ topic, retain: packet.retain, payload: payload.toString() }));
    await late.subscribeAsync([topics.e2mFilter('evse_1'), s.statusTopic('evse_1')]);
    await sleep(500);
    expect(seen.filter((m) => m.topic.includes('/e2m/') && m.retain)).toEqual([]);
    expect(seen.filter((m) => m.topic.includes('/e2m/')).length).toBeGreaterThan(0);
    const retainedStatus = seen.find((m) => m.topic === s.statusTopic('evse_1') && m.retain);
    expect(JSON.parse(retainedStatus?.payload ?? '{}')).toMatchObject({
      module_id: 'evse_1',
      comm_fault: true,
      reason: 'Initial communication check',
      enabled: true,
      state: 'Unplugged',
    });
  });

  it('answers requests from a raw mqtt.js client with bare JSON on replyTo', async () => {
    const { topics, sim: s } = await sim({ moduleIds: ['evse_1'] });
    s.apply({ module_id: 'evse_1', action: 'plug_in' });
    s.apply({ module_id: 'evse_1', action: 'authorize' });
    const id = randomUUID();
    const replies = await collect(client, `${topics.module('evse_1')}/e2m/+/${id}`);
    cleanups.push(() => replies.stop());
    const ask = async (name: Parameters<EverestTopics['replyTo']>[1], payload?: unknown): Promise<string> => {
      const replyTo = topics.replyTo('evse_1', name, id);
      const before = replies.messages.length;
      const envelope = payload === undefined ? { headers: { replyTo } } : { headers: { replyTo }, payload };
      await client.publishAsync(topics.m2e('evse_1', name), JSON.stringify(envelope));
      const got = await waitFor(() => replies.messages.slice(before).find((m) => m.topic === replyTo), { timeoutMs: 2_000, message: `no reply to ${name}` });
      return got.payload;
    };

    const evse = await ask('get_evse');
    expect(JSON.parse(evse)).toEqual({ id: 1, connectors: [{ id: 1, type: 'cType2' }] });
    expect(evse).toContain('\n');
    expect(await ask('pause_charging')).toBe('true');
    expect(await ask('pause_charging')).toBe('false');
    expect(await ask('resume_charging')).toBe('true');
    expect(await ask('enable_disable', { connector_id: 0, source: { enable_source: 'CSMS', enable_state: 'Disable', enable_priority: 5000 } })).toBe('false');
    expect(await ask('enable_disable', { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: 'Enable', enable_priority: 6000 } })).toBe('false');
    expect(await ask('enable_disable', { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: 'Enable', enable_priority: 100 } })).toBe('true');
    expect(await ask('reserve', 3)).toBe('false');
    expect(await ask('stop_transaction', { reason: 'Remote' })).toBe('false');
    expect(await ask('force_unlock', 1)).toBe('true');
    expect(await ask('external_ready_to_start_charging')).toBe('true');

    for (const m of replies.messages) {
      const name = m.topic.split('/').at(-2) as Parameters<Contract['validateReply']>[0];
      const r = contract.validateReply(name, JSON.parse(m.payload) as unknown);
      expect(r.ok, `${name}: ${r.ok ? '' : r.reason}`).toBe(true);
      if (reference.ok) expect(reference.validators.reply(name, JSON.parse(m.payload) as unknown), name).toBeUndefined();
    }
  });

  it('stays silent on malformed requests (no reply within 1 s) and logs why', async () => {
    const { topics, events } = await sim({ moduleIds: ['evse_1'] });
    const replyTo = topics.replyTo('evse_1', 'enable_disable', randomUUID());
    const replies = await collect(client, replyTo);
    cleanups.push(() => replies.stop());
    const bad: string[] = [
      JSON.stringify({ headers: { replyTo }, payload: { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: 'disable', enable_priority: 100 } } }),
      JSON.stringify({ headers: { replyTo } }),
      JSON.stringify({ payload: { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: 'Disable', enable_priority: 100 } } }),
      '{"headers": {"replyTo": ',
    ];
    for (const payload of bad) await client.publishAsync(topics.m2e('evse_1', 'enable_disable'), payload);
    await sleep(1_000);
    expect(replies.messages).toEqual([]);
    await waitFor(() => events.filter((e) => e.kind === 'ignored').length === bad.length, { timeoutMs: 1_000 });
  });

  it('send_garbage publishes unparseable and schema-violating payloads on e2m topics', async () => {
    const prefix = `simtest${testNo + 1}/`;
    const messages = await watch(prefix);
    const { sim: s, topics } = await sim({ moduleIds: ['evse_1'], heartbeatIntervalMs: 0 });
    await sleep(100);
    const before = messages.length;
    s.apply({ module_id: 'evse_1', action: 'send_garbage' });
    s.apply({ module_id: 'evse_1', action: 'send_garbage', topic: 'session_event' });
    await waitFor(() => messages.length - before >= 8, { timeoutMs: 2_000 });
    const garbage = messages.slice(before).filter((m) => !m.topic.endsWith('/powermeter') || !m.payload.includes('energy_Wh_import'));
    expect(garbage.length).toBeGreaterThanOrEqual(8);
    for (const m of garbage) {
      const name = topics.parse(m.topic)?.name ?? '';
      let data: unknown;
      try {
        data = JSON.parse(m.payload);
      } catch {
        continue; // unparseable: invalid by definition
      }
      expect(contract.validateE2m(name, data).ok, `${m.topic} ${m.payload}`).toBe(false);
    }
  });

  it('tracks the communication check on its status topic', async () => {
    const { sim: s, topics, events } = await sim({ moduleIds: ['evse_1'] });
    const status = await collect(client, s.statusTopic('evse_1'));
    cleanups.push(() => status.stop());
    const latest = (): { comm_fault: boolean; reason: string | null } =>
      JSON.parse(status.messages.at(-1)?.payload ?? '{}') as { comm_fault: boolean; reason: string | null };
    await waitFor(() => latest().reason === 'Initial communication check', { timeoutMs: 2_000 });
    await client.publishAsync(topics.m2e('evse_1', 'communication_check'), '"true"');
    await client.publishAsync(topics.m2e('evse_1', 'communication_check'), '1');
    await sleep(300);
    expect(s.evse('evse_1').comm.status.fault).toBe(true);
    await client.publishAsync(topics.m2e('evse_1', 'communication_check'), 'true');
    await waitFor(() => latest().comm_fault === false, { timeoutMs: 2_000, message: 'fault not cleared by true' });
    // Window is 1 s: stop sending and the fault comes back.
    await waitFor(() => latest().comm_fault === true && latest().reason === 'Communication check timeout', { timeoutMs: 3_000 });
    await client.publishAsync(topics.m2e('evse_1', 'communication_check'), 'false');
    await waitFor(() => latest().comm_fault === false, { timeoutMs: 2_000 });
    await sleep(1_500);
    expect(latest().comm_fault).toBe(false);
    expect(events.filter((e) => e.kind === 'ignored').map((e) => (e.kind === 'ignored' ? e.topic : ''))).toHaveLength(2);
  });

  it('go_silent stops every publication (the heartbeat jumps afterwards); restart sends the counter back to 0', async () => {
    const prefix = `simtest${testNo + 1}/`;
    const messages = await watch(prefix);
    const { sim: s, topics, events } = await sim({ moduleIds: ['evse_1'] });
    const beats = (): number[] => messages.filter((m) => m.topic === topics.e2m('evse_1', 'heartbeat')).map((m) => Number(m.payload));
    await waitFor(() => beats().length >= 3, { timeoutMs: 2_000 });
    s.apply({ action: 'go_silent', duration_s: 1.5 });
    // Let what was already in flight arrive before counting.
    await sleep(200);
    const silentFrom = messages.length;
    await sleep(800);
    expect(messages.slice(silentFrom)).toEqual([]);
    expect(events.some((e) => e.kind === 'dropped' && e.reason === 'silent')).toBe(true);
    // The counter kept running while nothing went out: the next heartbeat jumps.
    const jump = (): number => beats().findIndex((b, i, all) => i > 0 && b !== (all[i - 1] ?? 0) + 1);
    await waitFor(() => jump() > 0, { timeoutMs: 3_000, message: () => `no jump in ${beats().join(',')}` });
    expect(beats()[jump()]).toBeGreaterThan((beats()[jump() - 1] ?? 0) + 5);
    s.apply({ module_id: 'evse_1', action: 'restart' });
    await waitFor(
      () => {
        const b = beats();
        const zero = b.lastIndexOf(0);
        return zero >= 3 && b[zero + 1] === 1;
      },
      { timeoutMs: 2_000, message: () => `beats: ${beats().join(',')}` },
    );
    const restartedEvents = messages.filter((m) => m.topic === topics.e2m('evse_1', 'evse_id'));
    expect(restartedEvents).toHaveLength(2);
  });
});
