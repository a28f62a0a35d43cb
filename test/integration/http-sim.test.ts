// End to end: HTTP -> store -> scheduler -> enforcer -> MQTT -> simulated EVerest, and back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVEREST_RELEASES } from '../../src/everest/release.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';
import { startHarness, type Harness } from '../support/api-harness.js';

describe.each(EVEREST_RELEASES)('HTTP API against the simulated EVerest %s', (release) => {
let broker: TestBroker;
let h: Harness;

beforeAll(async () => {
  broker = await startBroker();
  // Room for one 11 kW car at a time.
  h = await startHarness(broker, { tokens: ['sim-token-0123456789'], config: { site: { max_power_w: 11_500 }, everest: { release } } });
});
afterAll(async () => {
  await h?.stop();
  await broker?.stop();
});

function charging(): string[] {
  return ['evse_1', 'evse_2'].filter((id) => h.sim.evse(id).snapshot().powerW > 0);
}

it('a priority PUT over HTTP moves the power to the other car', async () => {
  h.sim.apply({ module_id: 'evse_1', action: 'plug_in', auto_authorize: true });
  h.sim.apply({ module_id: 'evse_2', action: 'plug_in', auto_authorize: true });
  const [first] = await waitFor(() => {
    const now = charging();
    const paused = ['evse_1', 'evse_2'].filter((id) => h.sim.evse(id).snapshot().state === 'ChargingPausedEVSE');
    return now.length === 1 && paused.length === 1 ? now : undefined;
  }, { timeoutMs: 15_000, message: () => `states: ${['evse_1', 'evse_2'].map((id) => `${id}=${h.sim.evse(id).snapshot().state}/${h.sim.evse(id).snapshot().powerW}W`).join(', ')}` });
  const waiting = first === 'evse_1' ? 'evse_2' : 'evse_1';
  const serial = waiting === 'evse_1' ? 'SN-0001' : 'SN-0002';

  const put = await h.call('PUT', '/v1/priorities', { json: { by: 'serial_number', serial_number: serial, connector_id: 1, priority: 9 } });
  expect(put.status).toBe(201);

  await waitFor(() => {
    const now = charging();
    return now.length === 1 && now[0] === waiting && h.sim.evse(first ?? '').snapshot().state === 'ChargingPausedEVSE';
  }, { timeoutMs: 15_000, message: () => `still charging: ${charging().join(', ')}` });

  // The module's own view follows the simulator a meter reading later; the API must show it then.
  type EvseDto = { module_id: string; status: string; priority: number; decision: { decision: string } | null; pause_reasons: string[] | null };
  let last = '';
  await waitFor(async () => {
    const evses = ((await h.call('GET', '/v1/evses')).body as { data: EvseDto[] }).data;
    last = JSON.stringify(evses.map(({ module_id, status, priority, decision }) => ({ module_id, status, priority, decision: decision?.decision })));
    const byId = new Map(evses.map((e) => [e.module_id, e]));
    const winner = byId.get(waiting);
    const loser = byId.get(first ?? '');
    return (
      winner?.status === 'CHARGING' && winner.priority === 9 && winner.decision?.decision === 'charge' &&
      loser?.status === 'BLOCKED' && loser.priority === 0 && loser.decision?.decision === 'pause' &&
      // 2026.02 tells why the EVSE pauses (our pause_charging: UserPause); 2025.11 cannot.
      JSON.stringify(loser.pause_reasons) === JSON.stringify(release === '2026.02' ? ['UserPause'] : null) &&
      winner.pause_reasons === null
    );
  }, { timeoutMs: 5000, message: () => `GET /v1/evses: ${last}` });
});
});
