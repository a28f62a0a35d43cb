import type { ScenarioStep } from './scenario.js';
import { exponential, hashString, mulberry32, pick } from './prng.js';

export interface RandomScenarioOptions {
  seed: number;
  moduleIds: readonly string[];
  /** Mean idle time between a departure and the next arrival (Poisson arrivals). */
  meanIdleS?: number;
  /** Mean time a car stays plugged in. */
  meanDwellS?: number;
  /** Chance that a car pauses itself for a while during its stay. */
  pauseProbability?: number;
}

const CAR_POWERS_W = [3_700, 7_400, 11_000, 16_500, 22_000] as const;

/** One EVSE's endless sequence of visits: arrive, authorize, maybe pause, maybe fill up, leave. */
function* visits(seed: number, moduleId: string, opts: Required<Omit<RandomScenarioOptions, 'seed' | 'moduleIds'>>): Generator<ScenarioStep> {
  const random = mulberry32(seed ^ hashString(moduleId));
  let t = random() * Math.min(30, opts.meanIdleS);
  for (;;) {
    const dwell = Math.min(4 * 3600, Math.max(120, exponential(random, opts.meanDwellS)));
    const authAfter = 1 + random() * 9;
    const visit: ScenarioStep[] = [
      {
        at: t,
        module_id: moduleId,
        action: 'plug_in',
        max_power_w: pick(random, CAR_POWERS_W),
        target_energy_wh: Math.round(5_000 + random() * 55_000),
      },
      { at: t + authAfter, module_id: moduleId, action: 'authorize' },
    ];
    if (random() < opts.pauseProbability) {
      const pauseAt = t + authAfter + random() * (dwell - authAfter) * 0.6;
      const resumeAt = pauseAt + Math.min(dwell * 0.3, 30 + random() * 300);
      visit.push({ at: pauseAt, module_id: moduleId, action: 'ev_pause' }, { at: resumeAt, module_id: moduleId, action: 'ev_resume' });
    }
    visit.push({ at: t + dwell, module_id: moduleId, action: 'unplug' });
    for (const step of visit) yield { ...step, at: Math.round(step.at * 1000) / 1000 };
    t += dwell + exponential(random, opts.meanIdleS);
  }
}

/** All EVSEs' visits merged in time order; endless, deterministic for a given seed and module set. */
export function* randomSteps(options: RandomScenarioOptions): Generator<ScenarioStep> {
  const opts = {
    meanIdleS: options.meanIdleS ?? 120,
    meanDwellS: options.meanDwellS ?? 900,
    pauseProbability: options.pauseProbability ?? 0.3,
  };
  const streams = options.moduleIds.map((id) => {
    const gen = visits(options.seed, id, opts);
    return { gen, next: gen.next().value as ScenarioStep };
  });
  if (streams.length === 0) return;
  for (;;) {
    let first = streams[0];
    for (const s of streams) if (first === undefined || s.next.at < first.next.at) first = s;
    if (first === undefined) return;
    yield first.next;
    first.next = first.gen.next().value as ScenarioStep;
  }
}
