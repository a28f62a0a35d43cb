import { describe, expect, it } from 'vitest';
import { runSiteSim, type SiteSimConfig } from '../../support/site-sim.js';

// A busy hour: every connector occupied at the start, budget changes every ~15 min, cars pausing
// by themselves, priorities changing. Seeds are fixed so a failure reproduces exactly.
const busyHour: Partial<SiteSimConfig> = {
  durationS: 3600,
  initialOccupancy: 1,
  budgetChangeMeanS: 900,
  evPausesPerHour: 1,
  priorityChangeChance: 0.5,
};
const SEEDS = [1, 2, 3, 42, 2025];

describe('simulated site, 1 h, priority scheduler', () => {
  it.each(SEEDS)('seed %i: no overrun beyond the reaction window, no inversion beyond hysteresis', (seed) => {
    const r = runSiteSim({ ...busyHour, seed, policy: 'priority' });
    expect(r.sessions).toBeGreaterThanOrEqual(10);
    expect(r.overrunSecondsBeyondWindow).toBe(0);
    expect(r.inversionSecondsBeyondHysteresis).toBe(0);
  });

  it('is deterministic for a seed', () => {
    const a = runSiteSim({ ...busyHour, seed: 7, policy: 'priority' });
    const b = runSiteSim({ ...busyHour, seed: 7, policy: 'priority' });
    expect({ ...b, schedulerMsMean: 0 }).toEqual({ ...a, schedulerMsMean: 0 });
  });

  it('measures something: the same hour under first-come-first-served shows inversions', () => {
    const inverted = SEEDS.map((seed) => runSiteSim({ ...busyHour, seed, policy: 'fcfs' }).inversionSecondsBeyondHysteresis);
    expect(inverted.some((s) => s > 0)).toBe(true);
  });
});
