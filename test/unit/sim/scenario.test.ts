import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyToModel } from '../../../src/sim/actions.js';
import { randomSteps } from '../../../src/sim/random-scenario.js';
import {
  ScenarioError,
  checkScenarioModules,
  loadScenarioFile,
  parseScenario,
  scenarioModuleIds,
  timeline,
  type ScenarioStep,
} from '../../../src/sim/scenario.js';
import { EvseModel } from '../../../src/sim/evse-model.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('scenario validation', () => {
  it('accepts a bare list and a document with options', () => {
    expect(parseScenario([{ at: 0, module_id: 'a', action: 'plug_in' }]).steps).toHaveLength(1);
    const s = parseScenario({ loop_after_s: 10, auto_authorize: true, steps: [{ at: 1, module_id: 'a', action: 'unplug' }] });
    expect(s).toMatchObject({ loopAfterS: 10, autoAuthorize: true });
  });

  it.each([
    { steps: [{ at: 0, module_id: 'a', action: 'plug_in' }, { at: 1, module_id: 'a', action: 'dance' }], error: /step 1: field "action" must be one of "plug_in"/ },
    { steps: [{ at: 0, module_id: 'a', action: 'plug_in' }, { at: 2, module_id: 'a', action: 'set_limit' }], error: /step 1 \(at 2 s, set_limit\): field "current_a" is required/ },
    { steps: [{ at: 0, action: 'unplug' }], error: /step 0 \(at 0 s, unplug\): field "module_id" is required/ },
    { steps: [{ at: -1, module_id: 'a', action: 'unplug' }], error: /step 0: field "at" must be >= 0/ },
    { steps: [{ at: 0, module_id: 'a', action: 'set_limit', current_a: 16, phases: 4 }], error: /step 0 .*field "phases" must be one of 1, 2, 3/ },
    { steps: [{ at: 0, module_id: 'a', action: 'go_silent', duration_s: 5, speed: 2 }], error: /step 0 .*field "speed" is not a known field/ },
    { steps: [{ at: 0, module_id: 'a', action: 'set_car_max_power', w: '11kW' }], error: /step 0 .*field "w" must be a number/ },
  ])('names the step that is wrong: $error', ({ steps, error }) => {
    expect(() => parseScenario(steps, 'test.yaml')).toThrow(ScenarioError);
    expect(() => parseScenario(steps, 'test.yaml')).toThrow(error);
  });

  it('lets module-wide actions leave out module_id', () => {
    const s = parseScenario([{ at: 0, action: 'go_silent', duration_s: 3 }, { at: 1, action: 'restart' }, { at: 2, action: 'send_garbage' }]);
    expect(s.steps).toHaveLength(3);
  });

  it('rejects unknown module ids and a loop shorter than the timeline', () => {
    const s = parseScenario([{ at: 5, module_id: 'evse_9', action: 'unplug' }]);
    expect(() => checkScenarioModules(s, ['evse_1'])).toThrow(/step 0 \(at 5 s\): unknown module_id 'evse_9'/);
    expect(() => parseScenario({ loop_after_s: 5, steps: [{ at: 5, module_id: 'a', action: 'unplug' }] })).toThrow(/loop_after_s/);
  });

  it('sorts by time, keeping the written order at equal times, and loops', () => {
    const s = parseScenario({
      loop_after_s: 100,
      steps: [
        { at: 10, module_id: 'a', action: 'unplug' },
        { at: 0, module_id: 'a', action: 'plug_in' },
        { at: 0, module_id: 'a', action: 'authorize' },
      ],
    });
    const it = timeline(s);
    const first = Array.from({ length: 5 }, () => it.next().value as ScenarioStep);
    expect(first.map((st) => `${st.at}:${st.action}`)).toEqual(['0:plug_in', '0:authorize', '10:unplug', '100:plug_in', '100:authorize']);
  });
});

describe('seeded random mode', () => {
  const take = (seed: number, n: number): ScenarioStep[] => {
    const gen = randomSteps({ seed, moduleIds: ['evse_1', 'evse_2', 'evse_3'] });
    return Array.from({ length: n }, () => gen.next().value as ScenarioStep);
  };

  it('is deterministic for a seed and differs between seeds', () => {
    expect(take(42, 200)).toEqual(take(42, 200));
    expect(take(42, 50)).not.toEqual(take(43, 50));
  });

  it('produces time-ordered, valid visits with cars of 3.7 to 22 kW', () => {
    const steps = take(7, 500);
    expect(steps.map((s) => s.at)).toEqual([...steps.map((s) => s.at)].sort((a, b) => a - b));
    expect(() => parseScenario(steps)).not.toThrow();
    for (const s of steps) {
      if (s.action === 'plug_in') {
        expect(s.max_power_w).toBeGreaterThanOrEqual(3_700);
        expect(s.max_power_w).toBeLessThanOrEqual(22_000);
      }
    }
    for (const id of ['evse_1', 'evse_2', 'evse_3']) {
      const mine = steps.filter((s) => s.module_id === id).map((s) => s.action).filter((a) => a === 'plug_in' || a === 'unplug');
      // Strictly alternating: a car leaves before the next one arrives.
      mine.forEach((a, i) => expect(a).toBe(i % 2 === 0 ? 'plug_in' : 'unplug'));
    }
  });
});

describe('config/scenarios/demo.yaml', () => {
  it('drives three EVSEs past a 22 kW budget, has a car pause itself and one leave', async () => {
    const scenario = await loadScenarioFile(path.join(repo, 'config/scenarios/demo.yaml'));
    const ids = scenarioModuleIds(scenario);
    expect(ids).toEqual(['evse_1', 'evse_2', 'evse_3']);
    const models = new Map(ids.map((id, i) => [id, new EvseModel({ moduleId: id, evseIndex: i + 1 }, 0)]));
    const steps = scenario.steps;
    let peakW = 0;
    const states = new Set<string>();
    let next = 0;
    for (let t = 0; t <= (scenario.loopAfterS ?? 0) * 1000; t += 1000) {
      while (next < steps.length && (steps[next]?.at ?? Infinity) * 1000 <= t) {
        const { module_id: id, ...action } = steps[next] as ScenarioStep;
        const model = models.get(id ?? '');
        if (model) applyToModel(model, action, t, { autoAuthorize: scenario.autoAuthorize });
        next += 1;
      }
      let total = 0;
      for (const m of models.values()) {
        m.tick(t);
        total += m.snapshot().powerW;
        states.add(`${m.moduleId}:${m.snapshot().state}`);
      }
      peakW = Math.max(peakW, total);
    }
    expect(peakW).toBe(33_000);
    expect(states).toContain('evse_2:ChargingPausedEV');
    expect(states).toContain('evse_1:ChargingPausedEV'); // the small car fills up
    expect([...models.values()].every((m) => m.snapshot().state === 'Unplugged')).toBe(true);
    expect(scenario.loopAfterS).toBeGreaterThan(steps.at(-1)?.at ?? 0);
  });

  it('config/scenarios/faults.yaml is valid', async () => {
    await expect(loadScenarioFile(path.join(repo, 'config/scenarios/faults.yaml'))).resolves.toBeDefined();
  });
});
