// The simulated EVerest with EnergyNodes and external_energy_limits_consumer_API modules, driven over a
// real broker by the real EverestClient.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from '../../src/everest/contract.js';
import { externalLimitsMessage } from '../../src/everest/external-limits.js';
import type { EnforcedLimits } from '../../src/everest/payloads.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { clientStack, quietLogger, rawClient, sharedContract, type ClientStack } from '../support/everest-stack.js';
import { collect, waitFor } from '../support/wait.js';

const LIMITS = 'everest_api/1/external_energy_limits_consumer';
const EVSE = 'everest_api/1/evse_manager_consumer';
const V = 230;

let broker: TestBroker;
let contract: Contract;
let peer: MqttClient;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  broker = await startBroker({ name: 'sim-limits' });
  contract = await sharedContract();
  peer = await rawClient(broker.url);
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(async () => {
  await peer?.endAsync();
  await broker?.stop();
});

async function simWithLimits(): Promise<Simulator> {
  const sim = await startSimulator({
    url: broker.url,
    logger: quietLogger(),
    contract,
    moduleIds: ['evse_1', 'evse_2'],
    limitsModules: [{ moduleId: 'evse_1', limitsModuleId: 'evse_1_limits', fuseLimitA: 20 }],
    evse: { hwMaxCurrentA: 16 },
    heartbeatIntervalMs: 100,
    // The energy manager runs with this tick.
    powermeterIntervalMs: 100,
    communicationCheckTimeoutS: 1,
  });
  cleanups.push(() => sim.stop());
  return sim;
}

async function client(): Promise<ClientStack> {
  const stack = await clientStack(broker.url, ['evse_1', 'evse_2']);
  await stack.client.addLimitsModules(['evse_1_limits']);
  cleanups.push(() => stack.close());
  // A publish while still connecting is dropped (and logged), as on a real broker.
  await waitFor(() => stack.transport.connected);
  return stack;
}

function charge(sim: Simulator, moduleId: string, maxPowerW: number): void {
  sim.apply({ module_id: moduleId, action: 'plug_in', max_power_w: maxPowerW });
  sim.apply({ module_id: moduleId, action: 'authorize' });
  expect(sim.evse(moduleId).snapshot().chargerState).toBe('Charging');
}

describe('simulated external limits', () => {
  it('publishes the limits module heartbeat and holds a CommunicationFault until the first true', async () => {
    const beats = await collect(peer, `${LIMITS}/evse_1_limits/e2m/heartbeat`);
    const sim = await simWithLimits();
    await waitFor(() => beats.messages.length >= 3);
    expect(beats.messages.slice(0, 3).map((m) => m.payload)).toEqual(['0', '1', '2']);
    expect(sim.limitsNode('evse_1_limits').comm.status).toMatchObject({ fault: true, reason: 'Initial communication check' });
    await peer.publishAsync(`${LIMITS}/evse_1_limits/m2e/communication_check`, 'true');
    await waitFor(() => !sim.limitsNode('evse_1_limits').comm.status.fault);
    await beats.stop();
  });

  it('applies the limit on the next energy manager run: clamped to fuse and EVSE, the car draws min(its maximum, limit x phases x 230 V)', async () => {
    const enforced = await collect(peer, `${EVSE}/evse_1/e2m/enforced_limits`);
    const sim = await simWithLimits();
    const stack = await client();
    charge(sim, 'evse_1', 11_000);
    const power = () => sim.evse('evse_1').snapshot().powerW;
    await waitFor(() => power() === 11_000, { message: 'fuse 20 A, EVSE 16 A: the car takes its own 11 kW' });

    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 10, now: Date.now(), failsafeS: 600, failsafeCurrentA: 6 }));
    await waitFor(() => power() === 10 * 3 * V, { message: () => `power ${power()} W, limit ${JSON.stringify(sim.limitsNode('evse_1_limits').limitAt(Date.now()))}` });
    // A smaller car takes less than it is offered.
    sim.apply({ module_id: 'evse_1', action: 'set_car_max_power', w: 4_000 });
    expect(power()).toBe(4_000);
    sim.apply({ module_id: 'evse_1', action: 'set_car_max_power', w: 11_000 });

    // Above the EVSE's 16 A and the node's 20 A fuse: the EVSE's hardware is the binding limit.
    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 25, now: Date.now(), failsafeS: 600, failsafeCurrentA: 6 }));
    await waitFor(() => power() === 11_000);

    // enforced_limits comes once per energy manager run and names who set the limit. Waited for on the
    // wire (not counted: under load the limit may reach the simulator after several runs).
    const before = enforced.messages.length;
    const enforcedAt8 = () =>
      enforced.messages.slice(before).filter((m) => (JSON.parse(m.payload) as EnforcedLimits).limits_root_side.ac_max_current_A?.value === 8);
    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 8, now: Date.now(), failsafeS: 600, failsafeCurrentA: 6 }));
    await waitFor(() => enforcedAt8().length >= 3, { message: () => `enforced_limits since the 8 A limit: ${enforced.messages.slice(before).map((m) => m.payload).join(' ')}` });
    const last = JSON.parse(enforcedAt8().at(-1)?.payload ?? '{}') as EnforcedLimits;
    expect(last.limits_root_side.ac_max_current_A).toEqual({ value: 8, source: 'evse_priority' });
    expect(contract.validateE2m('enforced_limits', last)).toMatchObject({ ok: true });
    // The EVSE without a limits module keeps its own limit.
    expect(sim.evse('evse_2').snapshot().limitA).toBe(16);
    // The retained status shows the limit in force for a person with an MQTT explorer.
    const status = await collect(peer, sim.statusTopic('evse_1'));
    await waitFor(() => status.messages.some((m) => (JSON.parse(m.payload) as { limits?: { current_a: number } }).limits?.current_a === 8));
    expect(JSON.parse(status.messages.at(-1)?.payload ?? '{}')).toMatchObject({ limits: { module_id: 'evse_1_limits', source: 'evse_priority', comm_fault: true } });
    await status.stop();
    await enforced.stop();
  });

  it('pauses at 5.9 A or less and resumes by itself when power returns', async () => {
    const events = await collect(peer, `${EVSE}/evse_1/e2m/session_event`);
    const sim = await simWithLimits();
    const stack = await client();
    charge(sim, 'evse_1', 11_000);
    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 5.9, now: Date.now(), failsafeS: 600, failsafeCurrentA: 6 }));
    await waitFor(() => sim.evse('evse_1').snapshot().powerW === 0);
    expect(sim.evse('evse_1').snapshot().chargerState).toBe('WaitingForEnergy');
    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 6, now: Date.now(), failsafeS: 600, failsafeCurrentA: 6 }));
    await waitFor(() => sim.evse('evse_1').snapshot().powerW === 6 * 3 * V);
    // The simulator's state changes at once; its session events reach us over the broker a little later.
    const kinds = () => events.messages.map((m) => (JSON.parse(m.payload) as { event: string }).event);
    const sinceWaiting = () => kinds().slice(kinds().indexOf('WaitingForEnergy'));
    await waitFor(() => sinceWaiting().includes('ChargingStarted'), { message: () => `session events: ${kinds().join(', ')}` });
    expect(sinceWaiting()).toEqual(['WaitingForEnergy', 'PrepareCharging', 'ChargingStarted']);
    await events.stop();
  });

  it('when our module dies, the fail-safe entry takes over at its time and stays', async () => {
    const sim = await simWithLimits();
    const stack = await client();
    charge(sim, 'evse_1', 11_000);
    const sentAt = Date.now();
    stack.client.setExternalLimits('evse_1_limits', externalLimitsMessage({ currentA: 14, now: sentAt, failsafeS: 1.5, failsafeCurrentA: 7 }));
    // The node holds our message: 14 A now, 7 A from its fail-safe entry on. Waited for on the node, not
    // on the car's 14 A draw, which a loaded machine may deliver only after the fail-safe time.
    const node = sim.limitsNode('evse_1_limits');
    await waitFor(() => node.limitAt(sentAt).currentA === 14 && node.limitAt(sentAt + 1_500).currentA === 7, {
      message: () => `limit in force ${JSON.stringify(node.limitAt(Date.now()))}`,
    });
    // Gone without a word: the connection drops, nothing more is sent.
    await stack.close();
    await waitFor(() => sim.evse('evse_1').snapshot().powerW === 7 * 3 * V, { timeoutMs: 5_000 });
    // Not before the fail-safe timestamp (the energy manager's tick may add up to one period after it).
    expect(Date.now()).toBeGreaterThanOrEqual(sentAt + 1_500);
    expect(sim.limitsNode('evse_1_limits').limitAt(Date.now() + 86_400_000)).toEqual({ currentA: 7, source: 'evse_priority' });
  });

  it('publishes ev_info for an ISO 15118 car, not for a basic one', async () => {
    const evInfo = await collect(peer, `${EVSE}/+/e2m/ev_info`);
    const sim = await simWithLimits();
    sim.apply({ module_id: 'evse_1', action: 'plug_in', max_power_w: 7_400, phases: 1, hlc: true });
    sim.apply({ module_id: 'evse_2', action: 'plug_in', max_power_w: 7_400 });
    await waitFor(() => evInfo.messages.length >= 1);
    expect(evInfo.messages.map((m) => m.topic)).toEqual([`${EVSE}/evse_1/e2m/ev_info`]);
    const info: unknown = JSON.parse(evInfo.messages[0]?.payload ?? '{}');
    expect(info).toMatchObject({ maximum_power_limit: 7_400, maximum_current_limit: 32.2 });
    expect(contract.validateE2m('ev_info', info)).toMatchObject({ ok: true });
    await evInfo.stop();
  });
});
