import { VirtualTimeScheduler } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { RecomputePacer } from '../../../src/site/recompute-pacer.js';

/** Every recompute costs this much on the injected cost clock (a 1000-EVSE site's order of magnitude). */
const COST_MS = 4;

/**
 * The pacer on a virtual clock, with a cost clock that a recompute advances by COST_MS: how many
 * recomputes a flood of requests yields, and when each runs, is then exact.
 */
describe('RecomputePacer', () => {
  let clock: VirtualTimeScheduler;
  let cost: number;
  let runsAt: number[];
  let onRun: () => void;
  let pacer: RecomputePacer;

  const advanceTo = (ms: number): void => {
    clock.schedule(() => undefined, ms - clock.frame);
    clock.maxFrames = ms;
    clock.flush();
  };
  /** Calls `each(t)` at every virtual millisecond t in [from, to). */
  const everyMs = (from: number, to: number, each: (t: number) => void): void => {
    for (let t = from; t < to; t++) clock.schedule(() => each(t), t - clock.frame);
    advanceTo(to);
  };

  beforeEach(() => {
    clock = new VirtualTimeScheduler(undefined, Infinity);
    cost = 0;
    runsAt = [];
    onRun = () => undefined;
    pacer = new RecomputePacer({
      run: () => {
        runsAt.push(clock.now());
        cost += COST_MS;
        onRun();
      },
      scheduler: clock,
      duty: 0.25,
      routineIntervalMs: 10,
      costClock: () => cost,
    });
  });

  it('a decide request after a quiet spell recomputes at once, inside the call', () => {
    advanceTo(100);
    pacer.request('decide');
    expect(runsAt).toEqual([100]);
  });

  it('a flood of meter-type requests (one per ms for 2 s) yields recomputes that take at most a quarter of the loop', () => {
    everyMs(0, 2000, () => pacer.request('routine'));
    advanceTo(2100);
    // Each costs 4 ms (no virtual time), so 12 ms idle follow it: 4 ms of every 16 planning at most
    // (the 10 ms interval is the lesser bound here). 2000 requests -> at most one recompute per 12 ms.
    expect(runsAt.length).toBeLessThanOrEqual(Math.ceil(2000 / 12) + 1);
    expect(runsAt.length).toBeGreaterThan(150);
    for (let i = 1; i < runsAt.length; i++) expect((runsAt[i] ?? 0) - (runsAt[i - 1] ?? 0)).toBeGreaterThanOrEqual(12);
    // The last request of the flood is still served.
    expect(runsAt.at(-1)).toBeGreaterThanOrEqual(1999);
  });

  it('decide requests made in one turn are coalesced: one recompute at once, one after the cool-down for the rest', () => {
    advanceTo(50);
    for (let i = 0; i < 1000; i++) pacer.request('decide');
    expect(runsAt).toEqual([50]);
    advanceTo(200);
    expect(runsAt).toEqual([50, 62]);
  });

  it('a decide request during a flood of meter-type ones gets its recompute within one cool-down, ahead of the routine interval', () => {
    pacer = new RecomputePacer({
      run: () => {
        runsAt.push(clock.now());
        cost += COST_MS;
      },
      scheduler: clock,
      duty: 0.25,
      routineIntervalMs: 100,
      costClock: () => cost,
    });
    everyMs(0, 1000, () => pacer.request('routine'));
    // Routine: one recompute per 100 ms.
    expect(runsAt.length).toBeLessThanOrEqual(11);
    const before = runsAt.length;
    const last = runsAt.at(-1) ?? 0;
    clock.schedule(() => pacer.request('decide'), last + 1 - clock.frame);
    everyMs(last + 1, last + 100, () => pacer.request('routine'));
    // The decide request (1 ms after a recompute) waited for the 12 ms cool-down, not the 100 ms interval.
    expect(runsAt[before]).toBe(last + 12);
  });

  it('a request made while a recompute runs (a synchronous echo) is served after it, not inside it', () => {
    let depth = 0;
    let deepest = 0;
    onRun = () => {
      depth += 1;
      deepest = Math.max(deepest, depth);
      if (runsAt.length === 1) pacer.request('decide');
      depth -= 1;
    };
    advanceTo(10);
    pacer.request('decide');
    advanceTo(100);
    expect(runsAt).toEqual([10, 22]);
    expect(deepest).toBe(1);
  });

  it('a recompute that costs nothing is never held back (a virtual clock in the controller tests)', () => {
    cost = 0;
    const free = new RecomputePacer({ run: () => runsAt.push(clock.now()), scheduler: clock, costClock: () => 0 });
    advanceTo(5);
    free.request('decide');
    free.request('decide');
    expect(runsAt).toEqual([5, 5]);
  });

  it('refuses a duty cycle outside (0, 1]', () => {
    expect(() => new RecomputePacer({ run: () => undefined, scheduler: clock, duty: 0 })).toThrow(RangeError);
    expect(() => new RecomputePacer({ run: () => undefined, scheduler: clock, duty: 1.5 })).toThrow(RangeError);
  });
});
