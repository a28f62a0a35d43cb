import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { arrive, siteStack, type SiteStack } from '../support/site-stack.js';
import { collect, sleep, waitFor, type Collector } from '../support/wait.js';
import { EVEREST_RELEASES, type EverestRelease } from '../../src/everest/release.js';
import type { ActionRecord } from '../../src/site/actions.js';

const BASE = 'everest_api/1/evse_manager_consumer';
const BUDGET_W = 22_000;
const TOLERANCE_W = 500;

/**
 * Replays the wire: for each EVSE, a request may only go out after the reply to the previous one.
 * Returns the violations (empty when the discipline held).
 */
function burstViolations(wire: Collector): string[] {
  const pendingByEvse = new Map<string, string>();
  const violations: string[] = [];
  for (const m of wire.messages) {
    const parts = m.topic.split('/');
    const moduleId = parts[3] ?? '';
    if (parts[4] === 'm2e') {
      if (parts[5] === 'communication_check') continue;
      const replyTo = (JSON.parse(m.payload) as { headers?: { replyTo?: string } }).headers?.replyTo;
      if (!replyTo) continue;
      const open = pendingByEvse.get(moduleId);
      if (open) violations.push(`${moduleId}: ${parts[5]} sent while ${open} was unanswered`);
      pendingByEvse.set(moduleId, replyTo);
    } else if (parts[4] === 'e2m' && parts.length === 7) {
      if (pendingByEvse.get(moduleId) === m.topic) pendingByEvse.delete(moduleId);
    }
  }
  return violations;
}

describe('user priorities enforced against the simulator through a real broker', () => {
  let broker: TestBroker;
  let stack: SiteStack;
  let watcher: MqttClient;
  let wire: Collector;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });
  afterEach(async () => {
    await wire?.stop();
    await watcher?.endAsync();
    await stack?.close();
  });

  /** Final action records, to prove each command went out once (no retry, no timeout). */
  let finished: ActionRecord[] = [];
  async function start(release?: EverestRelease): Promise<void> {
    watcher = await rawClient(broker.url);
    wire = await collect(watcher, `${BASE}/#`);
    stack = await siteStack(broker.url, release ? { everest: { release } } : {});
    finished = [];
    stack.app.module.site.events$.subscribe((e) => {
      if (e.type === 'action' && e.action.status !== 'requested' && e.action.status !== 'in_flight') finished.push(e.action);
    });
  }

  const simState = (id: string) => stack.sim.evse(id).snapshot().state;
  const simPowerW = () => ['evse_1', 'evse_2', 'evse_3'].reduce((sum, id) => sum + stack.sim.evse(id).snapshot().powerW, 0);

  it.each(EVEREST_RELEASES)('EVerest %s: budget for two: the third car is held, a priority swaps them once on-time allows, deleting it restores order; one command in flight per EVSE, none retried', async (release) => {
    await start(release);
    arrive(stack.sim, 'evse_1');
    await waitFor(() => simState('evse_1') === 'Charging', { message: 'evse_1 charging' });
    arrive(stack.sim, 'evse_2');
    await waitFor(() => simState('evse_2') === 'Charging', { message: 'evse_2 charging' });
    arrive(stack.sim, 'evse_3');

    // The lowest priority (equal priorities: the latest arrival) does not charge.
    await waitFor(() => simState('evse_3') === 'ChargingPausedEVSE' || simState('evse_3') === 'Disabled', {
      timeoutMs: 8000,
      message: () => `evse_3 held (sim state ${simState('evse_3')})`,
    });
    await sleep(1000);
    expect(simState('evse_1')).toBe('Charging');
    expect(simState('evse_2')).toBe('Charging');
    expect(simPowerW()).toBeLessThanOrEqual(BUDGET_W + TOLERANCE_W);
    expect(stack.app.service.evse('evse_3')?.decision?.reason).toMatch(/waiting|min off-time|overrun|awaiting/);

    // A higher priority for evse_3: it swaps with the latest p0 arrival (evse_2) once min on-time allows.
    const set = await stack.app.service.setPriority({ by: 'charge_box_identity', charge_box_identity: 'CP-3', connector_id: 1 }, 5, 'session', 'test');
    expect(set.ok).toBe(true);
    await waitFor(() => simState('evse_3') === 'Charging' && simState('evse_2') === 'ChargingPausedEVSE', {
      timeoutMs: 10_000,
      message: () => `swap (evse_2 ${simState('evse_2')}, evse_3 ${simState('evse_3')})`,
    });
    expect(simState('evse_1')).toBe('Charging');
    await sleep(500);
    expect(simPowerW()).toBeLessThanOrEqual(BUDGET_W + TOLERANCE_W);

    // Deleting the priority restores arrival order: evse_2 back on, evse_3 waits.
    expect(await stack.app.service.deletePriority('evse_3', 1)).toBe(true);
    await waitFor(() => simState('evse_2') === 'Charging' && simState('evse_3') === 'ChargingPausedEVSE', {
      timeoutMs: 10_000,
      message: () => `order restored (evse_2 ${simState('evse_2')}, evse_3 ${simState('evse_3')})`,
    });

    expect(burstViolations(wire)).toEqual([]);
    const commands = wire.messages.filter((m) => /\/m2e\/(pause_charging|resume_charging|enable_disable)$/.test(m.topic));
    expect(commands.length).toBeGreaterThanOrEqual(4);
    // Both releases' pause and resume sequences confirm the first command: no retry, no timeout.
    const pauseResume = finished.filter((a) => a.type === 'pause' || a.type === 'resume');
    expect(pauseResume.length).toBeGreaterThanOrEqual(2);
    expect(pauseResume.map((a) => `${a.type}:${a.status}:${a.attempts}`).filter((x) => !x.endsWith(':completed:1'))).toEqual([]);
    if (release === '2026.02') {
      // The held car's pause is ours, and EVerest says so: UserPause, in the view and in the API.
      expect(stack.view('evse_3').pauseReasons).toEqual(['UserPause']);
      expect(stack.app.service.evse('evse_3')?.pause_reasons).toEqual(['UserPause']);
      expect(wire.messages.some((m) => m.topic.endsWith('/e2m/limits'))).toBe(false);
      expect(stack.view('evse_1').limits).toBeUndefined();
      expect(stack.view('evse_1').enforcedCurrent).toMatchObject({ maxCurrentA: 16 });
    }
  }, 60_000);

  it.each(EVEREST_RELEASES)('EVerest %s: a car that pauses itself frees its power for the waiting one', async (release) => {
    await start(release);
    arrive(stack.sim, 'evse_1');
    arrive(stack.sim, 'evse_2');
    await waitFor(() => simState('evse_1') === 'Charging' && simState('evse_2') === 'Charging');
    arrive(stack.sim, 'evse_3');
    await waitFor(() => simState('evse_3') === 'ChargingPausedEVSE' || simState('evse_3') === 'Disabled', { timeoutMs: 8000 });
    stack.sim.apply({ module_id: 'evse_1', action: 'ev_pause' });
    await waitFor(() => simState('evse_3') === 'Charging', {
      timeoutMs: 10_000,
      message: () => `evse_3 resumed after evse_1 paused itself (evse_3 ${simState('evse_3')})`,
    });
    expect(simState('evse_1')).toBe('ChargingPausedEV');
    expect(burstViolations(wire)).toEqual([]);
  });

  it.each(EVEREST_RELEASES)('EVerest %s: leaves a stale EVSE alone: no command while its heartbeat is silent', async (release) => {
    await start(release);
    arrive(stack.sim, 'evse_1');
    arrive(stack.sim, 'evse_2');
    await waitFor(() => simState('evse_1') === 'Charging' && simState('evse_2') === 'Charging');
    stack.sim.apply({ module_id: 'evse_1', action: 'go_silent', duration_s: 6 });
    await waitFor(() => stack.app.module.heartbeat.current('evse_1')?.status === 'stale', { timeoutMs: 5000 });
    const mark = wire.messages.length;
    // Pressure that would pause evse_1 if it were reachable: the budget drops to one car.
    stack.app.service.setSiteBudget(11_500, 'test');
    await sleep(2500);
    const toSilent = wire.messages.slice(mark).filter((m) => m.topic.startsWith(`${BASE}/evse_1/m2e/`) && !m.topic.endsWith('/communication_check'));
    expect(toSilent).toEqual([]);
    expect(stack.app.service.evse('evse_1')?.decision?.reason_code).toBe('offline');
    expect(stack.app.service.evse('evse_1')?.status).toBe('INOPERATIVE');
  });

  it('EVerest 2026.02: a NoEnergy pause is the energy manager\'s: shown with its reason, never "resumed" by us, ends by itself', async () => {
    await start('2026.02');
    arrive(stack.sim, 'evse_1');
    await waitFor(() => simState('evse_1') === 'Charging', { message: 'evse_1 charging' });
    stack.sim.apply({ module_id: 'evse_1', action: 'set_limit', current_a: 5 });
    await waitFor(() => stack.app.service.evse('evse_1')?.decision?.reason_code === 'paused_no_energy', {
      timeoutMs: 8000,
      message: () => `decision ${JSON.stringify(stack.app.service.evse('evse_1')?.decision)}`,
    });
    expect(stack.app.service.evse('evse_1')).toMatchObject({ state: 'ChargingPausedEVSE', pause_reasons: ['NoEnergy'] });
    stack.sim.apply({ module_id: 'evse_1', action: 'set_limit', current_a: 16 });
    await waitFor(() => simState('evse_1') === 'Charging' && stack.view('evse_1').state === 'Charging', { message: 'resumed by EVerest itself' });
    expect(wire.messages.filter((m) => /\/m2e\/(resume_charging|pause_charging)$/.test(m.topic))).toEqual([]);
  });

  it('keeps every acknowledged priority across a restart of the module', async () => {
    await start();
    await stack.app.service.setPriority({ by: 'module', module_id: 'evse_2', connector_id: 1 }, 7, 'persistent', 'test');
    await stack.app.service.setPriority({ by: 'serial_number', serial_number: 'SN-3', connector_id: 1 }, -3, 'persistent', 'test');
    const app = await stack.restartApp();
    expect(app.service.priority('evse_2', 1)).toMatchObject({ priority: 7, scope: 'persistent' });
    expect(app.service.priority('evse_3', 1)).toMatchObject({ priority: -3 });
    await waitFor(() => ['evse_1', 'evse_2', 'evse_3'].every((id) => app.module.heartbeat.isCommandable(id)));
  });

  it('clears a session-scoped priority when the car leaves, keeps a persistent one', async () => {
    await start();
    arrive(stack.sim, 'evse_1');
    await waitFor(() => simState('evse_1') === 'Charging');
    await stack.app.service.setPriority({ by: 'module', module_id: 'evse_1', connector_id: 1 }, 4, 'session', 'test');
    await stack.app.service.setPriority({ by: 'module', module_id: 'evse_2', connector_id: 1 }, 2, 'persistent', 'test');
    stack.sim.apply({ module_id: 'evse_1', action: 'unplug' });
    await waitFor(() => stack.app.service.priority('evse_1', 1) === undefined, { message: 'session priority cleared at SessionFinished' });
    expect(stack.app.service.priority('evse_2', 1)?.priority).toBe(2);
  });
});

describe.each(EVEREST_RELEASES)("the module's view tracks the simulator (EVerest %s)", (release) => {
  let broker: TestBroker;
  let stack: SiteStack;

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await stack?.close();
    await broker.stop();
  });

  it('through a full session, an EVerest restart and a silent period', async () => {
    stack = await siteStack(broker.url, { everest: { release } });
    const { sim } = stack;
    expect(stack.view('evse_1').evseId).toBe(sim.evse('evse_1').evseId);

    arrive(sim, 'evse_1', 7_400);
    await waitFor(() => stack.view('evse_1').state === 'Charging', { message: 'module sees Charging' });
    await waitFor(() => {
      const s = sim.evse('evse_1').snapshot();
      const v = stack.view('evse_1');
      // Power within one sample, energy within what one powermeter period can add.
      return Math.abs(v.powerW - s.powerW) <= 50 && s.carChargedWh > 0 && Math.abs(v.energyWh - s.carChargedWh) <= 5;
    }, { message: () => `power/energy (module ${JSON.stringify({ p: stack.view('evse_1').powerW, e: stack.view('evse_1').energyWh })}, sim ${JSON.stringify(sim.evse('evse_1').snapshot())})` });
    expect(stack.app.service.evse('evse_1')?.status).toBe('CHARGING');

    // An ISO 15118 failure is an event (SSE, webhooks) and a metric; release 2025.11 never sends one.
    const hlc: unknown[] = [];
    const sub = stack.app.module.site.events$.subscribe((e) => e.type === 'hlc_session_failed' && hlc.push(e));
    sim.apply({ module_id: 'evse_1', action: 'hlc_session_failed', reason: 'FailedTLSHandshake' });
    if (release === '2026.02') {
      await waitFor(() => hlc.length === 1, { message: 'hlc_session_failed event' });
      expect(hlc[0]).toMatchObject({ type: 'hlc_session_failed', module_id: 'evse_1', reason: 'FailedTLSHandshake' });
      expect(await stack.app.metrics.metricsText()).toContain('evse_priority_hlc_session_failures_total{module_id="evse_1",reason="FailedTLSHandshake"} 1');
    } else {
      await sleep(300);
      expect(hlc).toEqual([]);
    }
    sub.unsubscribe();

    sim.apply({ module_id: 'evse_1', action: 'unplug' });
    await waitFor(() => stack.view('evse_1').state === 'Unplugged' && stack.view('evse_1').session === undefined);
    expect(stack.view('evse_1').powerW).toBe(0);
    expect(stack.app.service.evse('evse_1')?.status).toBe('AVAILABLE');

    // EVerest restarts: heartbeat counter back to 0.
    sim.apply({ module_id: 'evse_2', action: 'restart' });
    await waitFor(() => (stack.app.module.heartbeat.current('evse_2')?.restarts ?? 0) >= 1, { message: 'restart detected' });
    await waitFor(() => stack.app.module.heartbeat.current('evse_2')?.status === 'online');

    // Silent: stale, then online again when it speaks.
    sim.apply({ module_id: 'evse_3', action: 'go_silent', duration_s: 3 });
    await waitFor(() => stack.view('evse_3').liveness.status === 'stale', { timeoutMs: 4000, message: 'stale while silent' });
    await waitFor(() => stack.view('evse_3').liveness.status === 'online', { timeoutMs: 6000, message: 'online after silence' });
    // Communication checks kept flowing through it all: no EVSE is left in CommunicationFault.
    for (const id of ['evse_1', 'evse_2', 'evse_3']) {
      expect(sim.evse(id).comm.status.fault, `${id} comm fault`).toBe(false);
    }
  });
});
