// A mixed site end to end (issue 9, item 1): one EVSE under on/off control (no limits module) and two
// under current control, the module (startApp) and the simulator over a real Mosquitto, on both
// simulated EVerest releases. The on/off car is paused and resumed with pause_charging/resume_charging
// while the current-controlled cars get currents; what the cars draw (the simulator's powermeter) is
// checked against the budget and the priorities for the whole run, every limit message against the
// upstream schema, and every EVSE's requests for overlap (one command in flight per EVSE).
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVEREST_RELEASES, type EverestRelease } from '../../src/everest/release.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { loadReferenceValidators } from '../support/reference-schemas.js';
import { sharingStack, type SharingStack } from '../support/sharing-stack.js';
import { arrive } from '../support/site-stack.js';
import { collect, waitFor, type Collector } from '../support/wait.js';
import { overlaps } from '../support/wire-checks.js';

const ONOFF = 'evse_1';
const CC = 'evse_2';
const PRIO = 'evse_3';
const EVSES = [ONOFF, CC, PRIO];
/** Between the ratings: one 11 kW block and one car's minimum fit, two 11 kW cars do not. */
const BUDGET_W = 20_000;
/** The reaction window of the issue: the budget and the priorities hold beyond it. */
const REACTION_WINDOW_MS = 5_000;
const SAMPLE_MS = 100;


/** The longest run of consecutive samples for which `bad` held, ms. */
class Streak {
  private since: number | undefined;
  longestMs = 0;
  sample(bad: boolean, at: number): void {
    if (!bad) this.since = undefined;
    else {
      this.since ??= at;
      this.longestMs = Math.max(this.longestMs, at - this.since);
    }
  }
}

const REFERENCE_ABSENT = EVEREST_RELEASES.some((release) => !loadReferenceValidators({ release, api: 'external_energy_limits_consumer_API' }).ok);

describe.each(EVEREST_RELEASES.map((release) => ({ release })))(
  `a mixed site on EVerest $release: on/off and current control together (simulator, real Mosquitto)${REFERENCE_ABSENT ? '; EVerest reference absent: limit messages not validated against its schema' : ''}`,
  ({ release }: { release: EverestRelease }) => {
  const reference = loadReferenceValidators({ release, api: 'external_energy_limits_consumer_API' });
  let broker: TestBroker;
  let s: SharingStack | undefined;
  let watcher: MqttClient | undefined;
  let wire: Collector | undefined;
  let sampler: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    broker = await startBroker({ name: `sharing-mixed-${release}` });
  });
  afterEach(async () => {
    clearInterval(sampler);
    await wire?.stop();
    await watcher?.endAsync(true);
    await s?.close();
    s = undefined;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it(`${BUDGET_W / 1000} kW, an 11 kW on/off EVSE and two current-controlled ones: the on/off car is paused for a priority car and resumed when it leaves, the other gets the rest as current; within budget and in priority order beyond ${REACTION_WINDOW_MS / 1000} s`, { timeout: 90_000 }, async () => {
    watcher = await rawClient(broker.url);
    wire = await collect(watcher, 'everest_api/1/evse_manager_consumer/#');
    s = await sharingStack(broker.url, EVSES, BUDGET_W, { everest: { release } }, { onOff: [ONOFF] });
    const site = s;
    const draw = (id: string) => site.drawW(id);
    const state = (id: string) => site.sim.evse(id).snapshot().state;
    const show = () => EVSES.map((id) => `${id} ${id === ONOFF ? '' : `${site.limitA(id)} A `}${draw(id)} W ${state(id)}`).join(', ');

    // What the cars draw, for the whole run: over budget (beyond the overrun tolerance), and the on/off
    // car of priority 0 drawing while the priority-5 car is plugged in and short of its power.
    const overBudget = new Streak();
    const inversion = new Streak();
    let maxSumW = 0;
    let prioPresent = false;
    sampler = setInterval(() => {
      const now = Date.now();
      const sum = EVSES.reduce((acc, id) => acc + draw(id), 0);
      maxSumW = Math.max(maxSumW, sum);
      overBudget.sample(sum > BUDGET_W + site.app.module.config.scheduler.overrun_tolerance_w, now);
      inversion.sample(prioPresent && draw(PRIO) < 10_000 && draw(ONOFF) > 0, now);
    }, SAMPLE_MS);

    // The on/off car first: the whole block fits; the current-controlled car gets the rest, 9 kW: 12.9 A
    // while the block counts at its rating (11 040 W), 13.0 A once at its measured 11 000 W. Which one is
    // in force depends on timing, and the 0.1 A between them is below calm's 1 A step: either may stay.
    const restA = () => site.limitA(CC) === 12.9 || site.limitA(CC) === 13;
    arrive(site.sim, ONOFF);
    await waitFor(() => draw(ONOFF) > 10_000, { timeoutMs: 15_000, message: () => `on/off car charging: ${show()}` });
    arrive(site.sim, CC);
    await waitFor(() => restA() && draw(CC) > 8_500 && draw(ONOFF) > 10_000, { timeoutMs: 15_000, message: () => `12.9-13.0 A beside the on/off car: ${show()}` });

    // The priority car arrives: the on/off car cannot get its 11 kW block any more and is paused; the
    // current-controlled car of priority 0 keeps the rest.
    await site.app.service.setPriority({ by: 'module', module_id: PRIO, connector_id: 1 }, 5, 'session', 'test');
    prioPresent = true;
    arrive(site.sim, PRIO);
    await waitFor(() => state(ONOFF) === 'ChargingPausedEVSE' && site.limitA(PRIO) === 16 && draw(PRIO) > 10_000 && draw(CC) > 8_500, {
      timeoutMs: 20_000,
      message: () => `on/off car paused, priority car at 16 A: ${show()}`,
    });
    expect(restA(), show()).toBe(true);
    expect(site.app.service.evse(ONOFF)!.decision).toMatchObject({ decision: 'pause' });
    expect(site.app.service.evse(PRIO)!.decision).toMatchObject({ decision: 'charge', current_a: 16 });

    // The priority car leaves: the on/off car is resumed (it came first), the other keeps the rest.
    site.sim.apply({ module_id: PRIO, action: 'unplug' });
    prioPresent = false;
    await waitFor(() => state(ONOFF) === 'Charging' && draw(ONOFF) > 10_000 && draw(CC) > 8_500, { timeoutMs: 20_000, message: () => `on/off car resumed: ${show()}` });
    expect(restA(), show()).toBe(true);
    clearInterval(sampler);

    expect(overBudget.longestMs, `longest over-budget run (max ${maxSumW} W)`).toBeLessThanOrEqual(REACTION_WINDOW_MS);
    expect(inversion.longestMs, 'longest run with the on/off car drawing while the priority car waits').toBeLessThanOrEqual(REACTION_WINDOW_MS);

    // Pause and resume went to the on/off EVSE, one at a time; the others were held by current only
    // (beside the start-up read and the release of any old enable_disable entry of ours, Unassigned).
    const requests = (id: string) =>
      (wire?.messages ?? [])
        .filter((m) => m.topic.includes(`/${id}/m2e/`) && !/\/m2e\/(communication_check|get_evse)$/.test(m.topic))
        .filter((m) => !(m.topic.endsWith('/enable_disable') && m.payload.includes('"Unassigned"')))
        .map((m) => m.topic.split('/').pop());
    expect(requests(ONOFF)).toEqual(expect.arrayContaining(['pause_charging', 'resume_charging']));
    expect(requests(CC)).toEqual([]);
    expect(requests(PRIO)).toEqual([]);
    for (const id of EVSES) expect(overlaps(wire?.messages ?? [], id, site.app.module.config.everest.request_timeout_ms), id).toEqual([]);
    // Limits only for the current-controlled EVSEs, and every one valid against the upstream schema.
    expect(new Set(site.sent.map((m) => m.limitsModuleId))).toEqual(new Set([`${CC}_limits`, `${PRIO}_limits`]));
    if (reference.ok) {
      // The check can fail: a message without schedule_export is what EVerest's parser rejects.
      expect(reference.validators.request('set_external_limits', { schedule_import: [], schedule_setpoints: [] })).toMatch(/schedule_export/);
      const failures = site.sent.flatMap((m) => reference.validators.request('set_external_limits', m.value) ?? []);
      expect(failures).toEqual([]);
    }
  });
},
);
