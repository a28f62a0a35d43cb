import { describe, expect, it } from 'vitest';
import { DRAW_MARGIN_A, DRAW_RELEASE_A, OBSERVE_AFTER_MS, allocate } from '../../../src/site/allocator.js';
import { LIMIT_MIN_INTERVAL_MS, limitVerdict } from '../../../src/site/calm.js';
import type { CurrentControl, Decision, ScheduleResult, SessionSnapshot } from '../../../src/site/model.js';
import { schedule } from '../../../src/site/scheduler.js';
import { HOUR_MS, NOW, aConfig, aPausedSession, aSite, evse } from '../../support/builders/snapshot.js';

const config = aConfig({ minOnTimeS: 300, minOffTimeS: 300, overrunToleranceW: 500, reservationTimeoutS: 60 });
const W_PER_A = 3 * 230;

/** An 11 kW (16 A, three-phase) EVSE with a limits module; `limitA` is what we last sent. */
function cur(n: number, overrides: Partial<SessionSnapshot> = {}, control: Partial<CurrentControl> = {}): SessionSnapshot {
  return evse(n, {
    limitCurrentA: undefined,
    hwMaxCurrentA: 16,
    current: { minA: 6, evseMaxA: 16, limitA: 16, limitRaisedAtMs: NOW - HOUR_MS, ...control },
    ...overrides,
  });
}

/** A car that has just plugged in (never charged, no limit sent yet). */
function arriving(n: number, arrivalMs: number, overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return cur(
    n,
    { evseState: 'Preparing', measuredPowerW: undefined, lastOnMs: undefined, arrivalMs, ...overrides },
    { limitA: undefined, limitRaisedAtMs: undefined },
  );
}

function plan(sessions: SessionSnapshot[], maxPowerW: number, overrides: Partial<typeof config> = {}, now = NOW): ScheduleResult {
  return allocate(aSite({ maxPowerW, sessions }), { ...config, ...overrides }, now);
}

function byModule(result: ScheduleResult): Record<string, Decision> {
  return Object.fromEntries(result.decisions.map((d) => [d.moduleId, d]));
}

function currents(result: ScheduleResult): Record<string, number | undefined> {
  return Object.fromEntries(result.decisions.map((d) => [d.moduleId, d.currentA]));
}

describe('strict priority levels', () => {
  it('9 kW site, two 11 kW EVSEs, priority 5 on the later one: it gets ~13 A, the other holds', () => {
    const r = plan([arriving(1, NOW - 60_000), arriving(2, NOW - 30_000, { priority: 5 })], 9_000);
    const d = byModule(r);
    expect(d.evse_2).toMatchObject({ decision: 'charge', currentA: 13 });
    expect(d.evse_1).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'over_budget' });
    expect(d.evse_2!.reason).toBe('13.0 A: priority 5 (the highest here), 9.0 kW of the 9.0 kW budget available');
    expect(d.evse_1!.reason).toBe('held at 0 A: needs 6.0 A (4.1 kW), priority 0, 0.0 kW of the 9.0 kW budget left after higher priorities');
    expect(r.plannedW).toBeLessThanOrEqual(9_000);
    expect(r.plannedW).toBeGreaterThanOrEqual(0.99 * 9_000);
  });

  it('16 kW, priorities 5/0/0: the 5 at full current, the first 0 on the rest, the last held', () => {
    const r = plan([arriving(1, NOW - 50_000), arriving(2, NOW - 40_000), arriving(3, NOW - 30_000, { priority: 5 })], 16_000);
    expect(currents(r)).toEqual({ evse_3: 16, evse_1: 7.1, evse_2: 0 });
    expect(byModule(r).evse_3!.reasonCode).toBe('fits');
    expect(byModule(r).evse_1!.reasonCode).toBe('share');
  });

  it('a lower level gets nothing while a higher one is below its maximum', () => {
    const r = plan([cur(1, { priority: 9 }), cur(2, { priority: 9 }), cur(3, { priority: 1 })], 20_000);
    expect(currents(r)).toEqual({ evse_1: 14.4, evse_2: 14.4, evse_3: 0 });
  });
});

describe('reason texts', () => {
  it('the top priority speaks of the budget, not of higher priorities; the next level of what they left', () => {
    const r = plan([cur(1, { priority: 7 }, { evseMaxA: 16 }), cur(2, { priority: 2, arrivalMs: NOW - 2 * HOUR_MS }), cur(3, { priority: 2 })], 22_000);
    const d = byModule(r);
    expect(d.evse_1!.reason).toBe('16.0 A (its maximum): priority 7 (the highest here), 22.0 kW of the 22.0 kW budget available');
    expect(d.evse_2!.reason).toBe('7.9 A: priority 2, 11.0 kW of the 22.0 kW budget left after higher priorities');
    expect(d.evse_2!.reason).toBe(d.evse_3!.reason);
    for (const x of Object.values(d)) expect(x.reason).not.toMatch(/priority 7.*higher priorities/);
  });

  it('equal priorities are all the highest; a held top-priority car says what it needs and what there is', () => {
    const r = plan([cur(1), arriving(2, NOW - 60_000)], 7_000);
    const d = byModule(r);
    expect(d.evse_1!.reason).toBe('10.1 A: priority 0 (the highest here), 7.0 kW of the 7.0 kW budget available');
    expect(d.evse_2!.reason).toBe('held at 0 A: needs 6.0 A (4.1 kW), priority 0 (the highest here), 7.0 kW of the 7.0 kW budget available');
  });

  it('after a budget change every reason names the new budget', () => {
    const sessions = [cur(1, { priority: 5 }), cur(2)];
    const before = byModule(plan(sessions, 22_000));
    const after = byModule(plan(sessions, 30_000));
    expect(before.evse_2!.reason).toContain('of the 22.0 kW budget');
    for (const d of Object.values(after)) {
      expect(d.reason).toContain('of the 30.0 kW budget');
      expect(d.reason).not.toContain('22.0 kW budget');
    }
  });
});

describe('equal share within a level', () => {
  it('two equal priorities split the budget equally, down to 0.1 A', () => {
    const r = plan([cur(1), cur(2, { arrivalMs: NOW - 2 * HOUR_MS })], 16_000);
    expect(currents(r)).toEqual({ evse_1: 11.5, evse_2: 11.5 });
    expect(r.plannedW).toBeLessThanOrEqual(16_000);
  });

  it('a one-phase car gets the same current, counted at one phase', () => {
    const r = plan([cur(1), cur(2, { phases: 1 })], 10_000);
    // 10 kW / (3 + 1) phases / 230 V = 10.87 A each
    expect(currents(r)).toEqual({ evse_1: 10.8, evse_2: 10.8 });
  });

  it('a session capped below the share hands the rest to the others', () => {
    const r = plan([cur(1), cur(2, {}, { evMaxA: 8 }), cur(3)], 22_000);
    // 22 000 W: evse_2 at 8 A (5 520 W), the other two share 16 480 W -> 11.9 A
    expect(currents(r)).toEqual({ evse_1: 11.9, evse_2: 8, evse_3: 11.9 });
  });
});

describe('minimum admission by arrival', () => {
  it('admits in arrival order while the minimum fits, whatever the input order', () => {
    const sessions = [arriving(3, NOW - 10_000), arriving(1, NOW - 30_000), arriving(2, NOW - 20_000)];
    const r = plan(sessions, 10_000);
    expect(currents(r)).toEqual({ evse_1: 7.2, evse_2: 7.2, evse_3: 0 });
    expect(currents(plan([...sessions].reverse(), 10_000))).toEqual(currents(r));
  });

  it('the minimum is the larger of the EVSE and the car minimum', () => {
    const r = plan([arriving(1, NOW - 30_000), arriving(2, NOW - 20_000, {}), arriving(3, NOW - 10_000)].map((s, i) => (i === 2 ? { ...s, current: { ...s.current!, minA: 10 } } : s)), 14_000);
    // 6 + 6 = 12 A leave 8.3 A x 690 W: not enough for a 10 A minimum.
    expect(currents(r)).toEqual({ evse_1: 10.1, evse_2: 10.1, evse_3: 0 });
  });
});

describe('minimum_first', () => {
  it('everyone gets the minimum in priority order first, then the top-up goes by level', () => {
    const sessions = [arriving(1, NOW - 50_000), arriving(2, NOW - 40_000), arriving(3, NOW - 30_000, { priority: 5 })];
    const r = plan(sessions, 16_000, { sharing: 'minimum_first' });
    // 3 x 6 A = 12 420 W; the 3 580 W left go to the 5: 6 + 5.18 -> 11.1 A
    expect(currents(r)).toEqual({ evse_3: 11.1, evse_1: 6, evse_2: 6 });
  });

  it('still holds the lowest when not even the minimums fit', () => {
    const sessions = [arriving(1, NOW - 50_000), arriving(2, NOW - 40_000, { priority: -1 }), arriving(3, NOW - 30_000, { priority: 5 })];
    const r = plan(sessions, 9_000, { sharing: 'minimum_first' });
    expect(currents(r)).toEqual({ evse_3: 7, evse_1: 6, evse_2: 0 });
  });
});

describe('reclaiming unused current', () => {
  it('a car drawing well below its limit is capped at its draw + the release margin while others want the power', () => {
    // evse_1 (priority 5) draws 5 kW under a 16 A limit, for an hour.
    const r = plan([cur(1, { priority: 5, measuredPowerW: 5_000 }), cur(2, { measuredPowerW: 4_100 }, { limitA: 6 })], 16_000);
    const capA = 5_000 / W_PER_A + DRAW_RELEASE_A; // 8.75 A
    expect(byModule(r).evse_1!.currentA).toBe(Math.floor(capA * 10) / 10);
    // evse_2 draws its whole (low) limit: it may want more, so it gets the rest.
    expect(byModule(r).evse_2!.currentA).toBe(Math.floor(((16_000 - capA * W_PER_A) / W_PER_A) * 10) / 10);
  });

  it('the rest of the margin (up to draw + DRAW_MARGIN_A) comes only from power nobody waits for', () => {
    const capped = cur(1, { priority: 5, measuredPowerW: 5_000 });
    const drawA = 5_000 / W_PER_A; // 7.25 A
    // Alone on a large site: nobody waits, the car may show it wants more with the whole margin.
    expect(byModule(plan([capped], 22_000)).evse_1!.currentA).toBe(Math.floor((drawA + DRAW_MARGIN_A) * 10) / 10);
    // Next to a car at its maximum (ev_info) with power left over: still nobody waits.
    const full = cur(2, {}, { evMaxA: 6 });
    expect(currents(plan([capped, full], 22_000))).toEqual({ evse_1: Math.floor((drawA + DRAW_MARGIN_A) * 10) / 10, evse_2: 6 });
    // A held car waits for 6 A that are not there: no margin beyond the release, though about 3 kW are left over.
    const held = cur(3, { evseState: 'Preparing', measuredPowerW: undefined, pausedByUs: true }, { limitA: 0 });
    const waiting = currents(plan([capped, full, held], 5_000 + 4_140 + 4_000, { overrunToleranceW: 0 }));
    expect(waiting).toEqual({ evse_1: Math.floor((drawA + DRAW_RELEASE_A) * 10) / 10, evse_2: 6, evse_3: 0 });
  });

  it('does not cap before the car has charged for a while, nor right after its limit was raised', () => {
    const early = cur(1, { priority: 5, measuredPowerW: 5_000, lastOnMs: NOW - OBSERVE_AFTER_MS + 1_000 });
    const raised = cur(1, { priority: 5, measuredPowerW: 5_000 }, { limitRaisedAtMs: NOW - 2_000 });
    for (const s of [early, raised]) expect(byModule(plan([s, cur(2)], 16_000)).evse_1!.currentA).toBe(16);
  });

  it('takes the car maximum from ev_info', () => {
    expect(byModule(plan([cur(1, {}, { evMaxA: 10 })], 22_000)).evse_1).toMatchObject({ currentA: 10, reasonCode: 'fits' });
  });
});

describe('windows and budget drops', () => {
  it('a running lower priority inside its min on-time keeps its minimum; the reason says why', () => {
    const low = cur(1, { lastOnMs: NOW - 60_000 });
    const high = arriving(2, NOW - 5_000, { priority: 5 });
    const r = plan([low, high], 9_000);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'charge', currentA: 6, reasonCode: 'min_on_time' });
    // 9 000 - 4 140 = 4 860 W -> 7.0 A for the priority car until the window ends.
    expect(byModule(r).evse_2).toMatchObject({ decision: 'charge', currentA: 7 });
    expect(r.nextReviewAtMs).toBe(NOW - 60_000 + 300_000);
    const later = plan([low, high], 9_000, {}, NOW + 300_000);
    expect(currents(later)).toEqual({ evse_2: 13, evse_1: 0 });
  });

  it('a car we hold is not admitted again inside its min off-time', () => {
    const held = cur(1, { evseState: 'ChargingPausedEVSE', pausedByUs: true, measuredPowerW: 0, lastOffMs: NOW - 60_000 }, { limitA: 0 });
    const r = plan([held], 22_000);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'min_off_time' });
    expect(byModule(plan([held], 22_000, {}, NOW + 240_000)).evse_1).toMatchObject({ decision: 'charge', currentA: 16 });
  });

  it('a budget drop lowers every limit at once and says so', () => {
    const sessions = [cur(1), cur(2)];
    const before = plan(sessions, 22_080);
    expect(currents(before)).toEqual({ evse_1: 16, evse_2: 16 });
    expect(before.urgentDecrease).toBe(false);
    const after = plan(sessions, 11_000);
    expect(currents(after)).toEqual({ evse_1: 7.9, evse_2: 7.9 });
    expect(after.urgentDecrease).toBe(true);
  });

  it('limits in force even slightly above the budget (inside the overrun tolerance) make the decrease urgent', () => {
    // 16 A + 16 A drawn on a 22 kW budget: 80 W over, below the 500 W tolerance, yet over the budget.
    const r = plan([cur(1), cur(2)], 22_000);
    expect(currents(r)).toEqual({ evse_1: 15.9, evse_2: 15.9 });
    expect(r.urgentDecrease).toBe(true);
    const calm = limitVerdict({ currentA: 16, atMs: NOW - 100 }, 15.9, 6, NOW, r.urgentDecrease ?? false);
    expect(calm.send).toBe(true);
  });

  it('a budget below the running minimums breaks min on-time, lowest priority first', () => {
    const sessions = [cur(1, { lastOnMs: NOW - 10_000, priority: 2 }), cur(2, { lastOnMs: NOW - 10_000 })];
    const r = plan(sessions, 5_000);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'charge', currentA: 7.2 });
    expect(byModule(r).evse_2).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'overrun' });
  });

  it('a car paused by someone else or by itself is left alone and not counted', () => {
    const r = plan([cur(1, { evseState: 'ChargingPausedEVSE', measuredPowerW: 0 }), cur(2, { evseState: 'ChargingPausedEV', measuredPowerW: 0 }), cur(3)], 11_040);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'leave', reasonCode: 'paused_by_others' });
    expect(byModule(r).evse_2).toMatchObject({ decision: 'leave', reasonCode: 'paused_by_ev' });
    expect(byModule(r).evse_1!.currentA).toBeUndefined();
    expect(byModule(r).evse_3!.currentA).toBe(16);
  });

  it('an offline EVSE is counted at its limit in force and left alone', () => {
    const r = plan([cur(1, { online: false, measuredPowerW: 5_000 }, { limitA: 8 }), cur(2)], 11_000);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'leave', reasonCode: 'offline', expectedW: 8 * W_PER_A });
    expect(byModule(r).evse_1!.currentA).toBeUndefined();
    expect(byModule(r).evse_2!.currentA).toBe(7.9);
  });
});

describe('an EVSE we cannot hear (offline): its power stays reserved', () => {
  const FAILSAFE_AT = NOW + 25_000;
  /** Offline, with the fail-safe of our messages: 10 A from FAILSAFE_AT on. */
  const offline = (n: number, overrides: Partial<SessionSnapshot> = {}, control: Partial<CurrentControl> = {}) =>
    cur(n, { online: false, ...overrides }, { failsafeA: 10, failsafeFromMs: FAILSAFE_AT, ...control });
  const held = { evseState: 'ChargingPausedEVSE', pausedByUs: true, measuredPowerW: 0, lastOffMs: NOW - HOUR_MS } as const;

  it.each<[string, Partial<SessionSnapshot>, Partial<CurrentControl>, number]>([
    ['charging: its limit in force, not its last meter value', { measuredPowerW: 0 }, { limitA: 13 }, 13 * W_PER_A],
    ['lowered just before it went silent: the new limit', { measuredPowerW: 11_000 }, { limitA: 7 }, 7 * W_PER_A],
    ['about to start, before our first limit: the node fuse (its rating)', { evseState: 'Preparing', measuredPowerW: undefined, lastOnMs: undefined }, { limitA: undefined }, 16 * W_PER_A],
    ['capped by the car maximum', {}, { limitA: 16, evMaxA: 10 }, 10 * W_PER_A],
    ['held by our limit: nothing until the fail-safe may apply', held, { limitA: 0 }, 0],
    ['paused by someone else: as when heard', { evseState: 'ChargingPausedEVSE', measuredPowerW: 0, pauseReasons: ['UserPause'] }, { limitA: 16 }, 0],
    ['paused by the car: as when heard', { evseState: 'ChargingPausedEV', measuredPowerW: 0 }, { limitA: 16 }, 0],
  ])('%s', (_name, overrides, control, expectedW) => {
    const r = plan([offline(1, overrides, control)], 1e9);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'leave', reasonCode: 'offline', expectedW });
    expect(r.uncontrolledW).toBe(expectedW);
  });

  it('from the fail-safe time on: the larger of its limit and the fail-safe current (a held car resumes at it by itself)', () => {
    expect(plan([offline(1, held, { limitA: 0 })], 1e9, {}, FAILSAFE_AT).plannedW).toBe(10 * W_PER_A);
    expect(plan([offline(1, {}, { limitA: 7 })], 1e9, {}, FAILSAFE_AT).plannedW).toBe(10 * W_PER_A);
    expect(plan([offline(1, {}, { limitA: 13 })], 1e9, {}, FAILSAFE_AT).plannedW).toBe(13 * W_PER_A);
    // A fail-safe current at which EVerest pauses reserves nothing.
    expect(plan([offline(1, held, { limitA: 0, failsafeA: 5 })], 1e9, {}, FAILSAFE_AT).plannedW).toBe(0);
  });

  it('plans again when the fail-safe may apply, if that reserves more', () => {
    const r = plan([offline(1, held, { limitA: 0 }), cur(2)], 11_000);
    expect(byModule(r).evse_1!.nextReviewAtMs).toBe(FAILSAFE_AT);
    expect(r.nextReviewAtMs).toBe(FAILSAFE_AT);
    expect(plan([offline(1, {}, { limitA: 13 })], 1e9).nextReviewAtMs).toBeUndefined();
  });

  it('no flap after an outage: a car held for a priority car whose EVSE is not heard yet gets no current', () => {
    // 9 kW: the priority car at 13 A had just started (meter still 0) when the broker went down; the
    // held car's EVSE is heard first. Handed on, its power would be taken back the moment the priority
    // EVSE is heard again.
    const priority = offline(1, { priority: 5, measuredPowerW: 0, lastOnMs: NOW - 10_000 }, { limitA: 13 });
    const waiting = cur(2, held, { limitA: 0 });
    const r = plan([priority, waiting], 9_000);
    expect(byModule(r).evse_2).toMatchObject({ decision: 'pause', currentA: 0 });
    expect(r.plannedW).toBe(13 * W_PER_A);
  });

  it('after our reconnect, no raise before every EVSE has reported; a decrease still goes', () => {
    const GRACE = NOW + 3_000;
    // The priority car was held by us (awaiting the other's release) when the broker went down.
    const priority = offline(1, { priority: 5, ...held }, { limitA: 0 });
    const waiting = cur(2, held, { limitA: 0 });
    const running = cur(3, { measuredPowerW: 8 * W_PER_A }, { limitA: 8 });
    const site = (now: number, sessions: SessionSnapshot[]) => allocate(aSite({ maxPowerW: 9_000, sessions, reportGraceUntilMs: GRACE }), config, now);
    const held2 = byModule(site(NOW, [priority, waiting]));
    expect(held2.evse_2).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'awaiting_release', nextReviewAtMs: GRACE });
    expect(currents(site(GRACE, [priority, waiting]))).toMatchObject({ evse_2: 13 });
    const kept = byModule(site(NOW, [priority, running]));
    expect(kept.evse_3).toMatchObject({ decision: 'charge', currentA: 8, reasonCode: 'awaiting_release' });
    expect(kept.evse_3!.reason).toBe('8.0 A for now, 13.0 A once every EVSE has reported after the broker connection came back (3 s at most)');
    expect(currents(site(GRACE, [priority, running]))).toMatchObject({ evse_3: 13 });
    // A budget drop lowers at once.
    const drop = allocate(aSite({ maxPowerW: 4_500, sessions: [priority, running], reportGraceUntilMs: GRACE }), config, NOW);
    expect(byModule(drop).evse_3!.currentA).toBe(6.5);
  });

  it('a held car going silent leaves its power to a priority car still heard', () => {
    // Its last meter value still shows it drawing (the lower limit had not shown yet): our hold is in
    // force, so the priority car is not held for power nobody draws.
    const silent = offline(1, { ...held, evseState: 'Charging', measuredPowerW: 8_970 }, { limitA: 0 });
    const priority = cur(2, { priority: 5, measuredPowerW: 8_970 }, { limitA: 13 });
    const r = plan([silent, priority], 9_000);
    expect(byModule(r).evse_2).toMatchObject({ decision: 'charge', currentA: 13 });
  });
});

describe('provisional admission: power a held higher session cannot use goes to lower ones at their minimum', () => {
  // 8 kW: the priority-5 car takes 8 A x 3 phases (5.5 kW, its maximum), the priority-3 car needs 4.1 kW
  // and 2.5 kW are left: a single-phase priority-0 car (minimum 1.4 kW) can use them.
  const first = (): SessionSnapshot =>
    cur(1, { evseState: 'Preparing', measuredPowerW: undefined, lastOnMs: undefined, priority: 5, arrivalMs: NOW - 90_000 }, { limitA: undefined, limitRaisedAtMs: undefined, evMaxA: 8 });
  const higher = (o: Partial<SessionSnapshot> = {}): SessionSnapshot => arriving(2, NOW - 60_000, { priority: 3, ...o });
  const lower = (o: Partial<SessionSnapshot> = {}): SessionSnapshot => arriving(3, NOW - 30_000, { phases: 1, ...o });
  /** Held by us since half an hour (after charging before). */
  const heldSince = { evseState: 'ChargingPausedEVSE', pausedByUs: true, lastOnMs: NOW - HOUR_MS, lastOffMs: NOW - HOUR_MS / 2 } as const;
  /** The lower car, running on the leftover since 10 s (inside its min on-time). */
  const running = (o: Partial<SessionSnapshot> = {}): SessionSnapshot =>
    cur(3, { phases: 1, arrivalMs: NOW - 30_000, lastOnMs: NOW - 10_000, measuredPowerW: 7 * 230, provisional: true, ...o }, { limitA: 7, limitRaisedAtMs: NOW - 10_000 });

  it('the leftover goes to the lower car at its minimum (+ up to 1 A), marked provisional; the higher one holds', () => {
    const d = byModule(plan([first(), higher(), lower()], 8_000));
    expect(d.evse_1).toMatchObject({ decision: 'charge', currentA: 8 });
    expect(d.evse_2).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'over_budget' });
    expect(d.evse_3).toMatchObject({ decision: 'charge', currentA: 7, reasonCode: 'leftover' });
    expect(d.evse_3!.reason).toBe('7.0 A: on power a priority 3 car cannot use yet (its minimum does not fit), until it can');
  });

  it('a lower car that does not fit the leftover either stays held, and nothing goes to a level below a refused borrower that fits', () => {
    expect(currents(plan([first(), higher(), lower({ phases: 3 })], 8_000))).toEqual({ evse_1: 8, evse_2: 0, evse_3: 0 });
    // The priority-1 car would fit but already yielded once: the priority-0 car below it gets nothing either.
    const once = arriving(4, NOW - 40_000, { priority: 1, phases: 1, ...heldSince });
    expect(currents(plan([first(), higher(), once, lower()], 8_000))).toEqual({ evse_1: 8, evse_2: 0, evse_4: 7, evse_3: 0 });
    // A car that yielded once may not start provisionally again; with protection off it has no other start.
    const refused = arriving(4, NOW - 40_000, { priority: 1, phases: 1, ...heldSince, provisionalYields: 1 });
    expect(currents(plan([first(), higher(), refused, lower()], 8_000, { protectAfterInterruptions: 0 }))).toEqual({ evse_1: 8, evse_2: 0, evse_4: 0, evse_3: 0 });
  });

  it('the provisional car yields at once when the higher car fits with its power back, min on-time or not', () => {
    // 10 kW: 4.5 kW left with the provisional car's power back, the priority-3 car's 4.1 kW fit.
    const d = byModule(plan([first(), higher(), running()], 10_000));
    expect(d.evse_3).toMatchObject({ decision: 'pause', currentA: 0 });
    expect(d.evse_2).toMatchObject({ decision: 'charge', currentA: 6.4 });
    // A car admitted normally keeps its minimum inside its min on-time; the priority-3 car's 4.1 kW do not
    // fit beside it (10 000 - 5 520 - 1 380 = 3 100 W), so it also takes those 3.1 kW (13.4 A more).
    const kept = byModule(plan([first(), higher(), running({ provisional: false })], 10_000));
    expect(kept.evse_2).toMatchObject({ currentA: 0, reasonCode: 'over_budget' });
    expect(kept.evse_3).toMatchObject({ currentA: 16, reasonCode: 'fits' });
    expect(kept.evse_3!.reason).toBe('16.0 A (its maximum): priority 0, with power a priority 3 car cannot use yet (its minimum does not fit)');
  });

  it('a provisional car is never protected: an interruption before does not make it keep its minimum', () => {
    const d = byModule(plan([first(), higher(), running({ interruptions: 1, lastOnMs: NOW - HOUR_MS })], 10_000));
    expect(d.evse_3).toMatchObject({ currentA: 0 });
    // Admitted normally, it is protected: its minimum stays reserved, and the priority-3 car's minimum does not fit beside it.
    const kept = byModule(plan([first(), higher(), running({ interruptions: 1, lastOnMs: NOW - HOUR_MS, provisional: false })], 10_000));
    expect(kept.evse_2).toMatchObject({ currentA: 0, reasonCode: 'over_budget' });
    expect(kept.evse_3).toMatchObject({ currentA: 16, reasonCode: 'fits' });
  });

  it('no second provisional start: a car held (or yielded) before starts on the leftover only as a protected start', () => {
    expect(byModule(plan([first(), higher(), lower({ ...heldSince })], 8_000)).evse_3).toMatchObject({ currentA: 7, reasonCode: 'leftover' });
    // protect_after_interruptions 1 (the default): held once, it starts normally and keeps its minimum
    // from then on. 8 000 - 5 520 = 2 480 W: 10.7 A on one phase.
    for (const before of [{ provisionalYields: 1 }, { interruptions: 1 }]) {
      const d = byModule(plan([first(), higher(), lower({ ...heldSince, ...before })], 8_000)).evse_3!;
      expect(d).toMatchObject({ decision: 'charge', currentA: 10.7, reasonCode: 'share' });
      expect(d.reason).toBe(
        '10.7 A: held once already this session, it keeps its minimum on power a priority 3 car cannot use yet (its minimum does not fit)',
      );
    }
    // Not protected yet (2 needed), or protection off: it waits for a normal admission.
    for (const protectAfterInterruptions of [2, 0]) {
      expect(byModule(plan([first(), higher(), lower({ ...heldSince, interruptions: 1 })], 8_000, { protectAfterInterruptions })).evse_3).toMatchObject({
        currentA: 0,
        reasonCode: 'over_budget',
      });
    }
  });

  it('running lower cars share the leftover above their minimum; a car at its minimum takes a whole step or none', () => {
    // The protected priority-0 car runs at its minimum; the priority-3 car's 4.1 kW do not fit beside it.
    const protectedAt = (limitA: number): SessionSnapshot =>
      cur(3, { phases: 1, interruptions: 1, lastOnMs: NOW - HOUR_MS, measuredPowerW: limitA * 230 }, { limitA, limitRaisedAtMs: NOW - HOUR_MS });
    // 8 000 - 5 520 - 1 380 = 1 100 W above its minimum: 4.7 A more.
    const running = byModule(plan([first(), higher(), protectedAt(6)], 8_000)).evse_3!;
    expect(running).toMatchObject({ currentA: 10.7, reasonCode: 'share' });
    // Worded as when it started on the leftover (protected start, above): the next plan keeps the reason.
    expect(running.reason).toBe('10.7 A: held once already this session, it keeps its minimum on power a priority 3 car cannot use yet (its minimum does not fit)');
    // 7 080 W: 180 W above its minimum is 0.7 A, less than calm's step: it stays at 6 A...
    expect(byModule(plan([first(), higher(), protectedAt(6)], 7_080)).evse_3).toMatchObject({ currentA: 6, reasonCode: 'protected' });
    // ...and when it declines part of the leftover, a lower car (running above its minimum: it takes any
    // top-up) does not get the rest: here the car's own maximum is 6.8 A, and 1 180 W are left.
    const capped = cur(3, { phases: 1, interruptions: 1, lastOnMs: NOW - HOUR_MS, measuredPowerW: 6 * 230 }, { limitA: 6, limitRaisedAtMs: NOW - HOUR_MS, evMaxA: 6.8 });
    const lowest = cur(4, { priority: -1, phases: 1, interruptions: 1, lastOnMs: NOW - HOUR_MS, measuredPowerW: 7 * 230 }, { limitA: 7, limitRaisedAtMs: NOW - HOUR_MS });
    expect(currents(plan([first(), higher(), capped, lowest], 5_520 + 2 * 1_380 + 1_180))).toMatchObject({ evse_2: 0, evse_3: 6, evse_4: 6 });
    // Once above its minimum, calm handles small changes: 0.7 A more is planned (and sent when it adds up).
    expect(byModule(plan([first(), higher(), protectedAt(7)], 7_080)).evse_3).toMatchObject({ currentA: 6.7 });
  });

  it('below a provisional car nobody gets more from the leftover than it does', () => {
    // 11 kW: 5 520 W for the priority-5 car, 5 480 W left. The priority-3 car's EVSE has a 10 A minimum
    // (6 900 W): it is held, and the 5 480 W are the leftover.
    const big = arriving(2, NOW - 60_000, { priority: 3 });
    big.current = { ...big.current!, minA: 10, evseMaxA: 24 };
    const provisional = arriving(5, NOW - 25_000, { priority: 1, phases: 1 });
    const protectedLow = cur(3, { priority: 0, phases: 1, interruptions: 1, lastOnMs: NOW - HOUR_MS, measuredPowerW: 6 * 230 }, { limitA: 6, limitRaisedAtMs: NOW - HOUR_MS });
    const d = byModule(plan([first(), big, provisional, protectedLow], 11_000));
    expect(d.evse_2).toMatchObject({ currentA: 0, reasonCode: 'over_budget' });
    expect(d.evse_5).toMatchObject({ currentA: 7, reasonCode: 'leftover' });
    expect(d.evse_3!.currentA).toBe(7);
  });
});

describe('protection after interruptions (scheduler.protect_after_interruptions)', () => {
  // A priority-0 car we held once and gave power back to, charging past its min on-time.
  const bounced = (overrides: Partial<SessionSnapshot> = {}): SessionSnapshot => cur(1, { interruptions: 1, lastOnMs: NOW - HOUR_MS, ...overrides });
  const priorityCar = (overrides: Partial<SessionSnapshot> = {}): SessionSnapshot => arriving(2, NOW - 5_000, { priority: 5, ...overrides });

  it('a session already interrupted keeps its minimum when a higher priority arrives; the priority car gets the rest', () => {
    const r = plan([bounced(), priorityCar()], 11_000);
    const d = byModule(r);
    expect(d.evse_1).toMatchObject({ decision: 'charge', currentA: 6, reasonCode: 'protected' });
    expect(d.evse_1!.reason).toBe('6.0 A (its minimum): held once already this session, it keeps its minimum against higher priorities');
    // 11 000 - 6 x 690 = 6 860 W -> 9.9 A.
    expect(d.evse_2).toMatchObject({ decision: 'charge', currentA: 9.9 });
    expect(r.nextReviewAtMs).toBeUndefined();
  });

  it('a priority car that cannot get its minimum next to the protected one waits; the protected one takes what it cannot use', () => {
    // 8 000 - 4 140 = 3 860 W: 5.6 A, below the priority car's minimum; the protected car gets them (6 + 5.5 A).
    const r = plan([bounced(), priorityCar()], 8_000);
    expect(currents(r)).toEqual({ evse_2: 0, evse_1: 11.5 });
    expect(byModule(r).evse_2!.reasonCode).toBe('over_budget');
  });

  it('protection yields when the budget cannot cover the protected minimums, lowest priority first', () => {
    const alone = plan([bounced()], 3_000);
    expect(byModule(alone).evse_1).toMatchObject({ decision: 'pause', currentA: 0, reasonCode: 'overrun' });
    // 2 x 4 140 W protected on 5 kW (+ 500 W tolerance): the priority-0 car yields, the priority-5 one keeps charging.
    const both = plan([bounced(), cur(2, { priority: 5, interruptions: 2, lastOnMs: NOW - HOUR_MS })], 5_000);
    expect(currents(both)).toEqual({ evse_2: 7.2, evse_1: 0 });
    expect(byModule(both).evse_1!.reasonCode).toBe('overrun');
  });

  it('counts from the configured number of interruptions; 0 lets strict levels always win (the old behaviour)', () => {
    expect(currents(plan([bounced(), priorityCar()], 11_000, { protectAfterInterruptions: 2 }))).toEqual({ evse_2: 15.9, evse_1: 0 });
    expect(currents(plan([bounced({ interruptions: 2 }), priorityCar()], 11_000, { protectAfterInterruptions: 2 }))).toEqual({ evse_2: 9.9, evse_1: 6 });
    expect(currents(plan([bounced({ interruptions: 5 }), priorityCar()], 11_000, { protectAfterInterruptions: 0 }))).toEqual({ evse_2: 15.9, evse_1: 0 });
  });

  it('a session still held by us, or never interrupted, is not protected', () => {
    const held = bounced({ evseState: 'ChargingPausedEVSE', pausedByUs: true, measuredPowerW: 0, lastOffMs: NOW - HOUR_MS });
    expect(currents(plan([held, priorityCar()], 11_000))).toEqual({ evse_2: 15.9, evse_1: 0 });
    expect(currents(plan([bounced({ interruptions: 0 }), priorityCar()], 11_000))).toEqual({ evse_2: 15.9, evse_1: 0 });
  });
});

describe('mixed site and on/off sites', () => {
  it('an EVSE without a limits module takes its whole rating in the same plan', () => {
    const onOff = evse(1, { priority: 5 }); // 11 040 W at 16 A, no limits module
    const r = plan([onOff, cur(2), cur(3)], 22_000);
    expect(byModule(r).evse_1).toMatchObject({ decision: 'charge', expectedW: 11_040 });
    expect(byModule(r).evse_1!.currentA).toBeUndefined();
    // 10 960 W left for two current-controlled cars: 7.9 A each.
    expect(currents(r)).toMatchObject({ evse_2: 7.9, evse_3: 7.9 });
  });

  it('an on/off EVSE that does not fit is paused as today', () => {
    const r = plan([cur(1, { priority: 5 }), aPausedSession({ moduleId: 'evse_2' })], 15_000);
    expect(byModule(r).evse_2).toMatchObject({ decision: 'pause', reasonCode: 'over_budget' });
    expect(byModule(r).evse_1!.currentA).toBe(16);
  });

  it('break before make: a limit rises only once the on/off car it replaces has stopped drawing', () => {
    // evse_1 (current control, priority 5) at 10 A; evse_2 (on/off, 11 kW) is being paused for it.
    const limited = cur(1, { priority: 5, measuredPowerW: 10 * W_PER_A }, { limitA: 10 });
    const draining = byModule(plan([limited, evse(2, { pausedByUs: true, lastOffMs: NOW })], 18_000));
    expect(draining.evse_1).toMatchObject({ decision: 'charge', reasonCode: 'awaiting_release', currentA: 10 });
    expect(draining.evse_1!.reason).toBe('10.0 A for now, 16.0 A once 11.0 kW still drawn by sessions being paused or lowered has stopped');
    const stopped = byModule(plan([limited, aPausedSession({ moduleId: 'evse_2', lastOffMs: NOW })], 18_000));
    expect(stopped.evse_1).toMatchObject({ decision: 'charge', reasonCode: 'fits', currentA: 16 });
  });

  it('break before make: a resume or a higher limit waits until a held car stops drawing; a first limit never waits', () => {
    // evse_1 (priority 0, a 32 A EVSE drawing 14 kW) is held for the priority-5 on/off car evse_2 and evse_3 (priority 5,
    // held at 0 A until now). No tolerance: the overlap cannot hide in it.
    const strict = { overrunToleranceW: 0 };
    const holding = cur(1, { pausedByUs: true, lastOffMs: NOW, measuredPowerW: 14_000 }, { limitA: 0, evseMaxA: 32 });
    const resuming = aPausedSession({ moduleId: 'evse_2', priority: 5 });
    const held = cur(3, { priority: 5, evseState: 'Preparing', measuredPowerW: undefined, pausedByUs: true }, { limitA: 0 });
    const before = byModule(plan([holding, resuming, held], 22_000, strict));
    expect(before.evse_1).toMatchObject({ decision: 'pause', currentA: 0 });
    expect(before.evse_2).toMatchObject({ decision: 'pause', reasonCode: 'awaiting_release' });
    expect(before.evse_3).toMatchObject({ decision: 'pause', reasonCode: 'awaiting_release', currentA: 0 });
    expect(before.evse_3!.reason).toBe('held at 0 A, 15.8 A once 14.0 kW still drawn by sessions being paused or lowered has stopped');
    const stopped = { ...holding, evseState: 'ChargingPausedEVSE' as const, measuredPowerW: 0 };
    const after = byModule(plan([stopped, resuming, held], 22_000, strict));
    expect(after.evse_2).toMatchObject({ decision: 'charge', reasonCode: 'fits' });
    expect(after.evse_3).toMatchObject({ decision: 'charge', currentA: 15.8 });
    // A newcomer without a limit of ours charges at its node's fuse: its first limit is a decrease.
    expect(byModule(plan([holding, arriving(4, NOW - 1000, { priority: 5 })], 22_000, strict)).evse_4).toMatchObject({ decision: 'charge', currentA: 16 });
  });

  it('a site without limits modules is planned exactly as by the on/off scheduler', () => {
    const sessions = [evse(1, { priority: 3 }), aPausedSession({ moduleId: 'evse_2' }), evse(3)];
    expect(allocate(aSite({ maxPowerW: 22_000, sessions }), config, NOW)).toEqual(schedule(aSite({ maxPowerW: 22_000, sessions }), config, NOW));
  });
});

describe('1000 sessions', () => {
  it('stays within budget, keeps levels strict and shares equally within each level', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff);
    const sessions: SessionSnapshot[] = [];
    for (let i = 0; i < 1000; i++) {
      sessions.push(
        cur(i, { priority: Math.floor(rnd() * 5) - 2, arrivalMs: NOW - Math.floor(rnd() * HOUR_MS), phases: rnd() < 0.2 ? 1 : 3 }, { evseMaxA: [16, 32][Math.floor(rnd() * 2)]!, limitA: undefined, limitRaisedAtMs: undefined }),
      );
    }
    const budget = 2_000_000;
    const r = plan(sessions, budget);
    expect(r.decisions).toHaveLength(1000);
    expect(r.plannedW).toBeLessThanOrEqual(budget);
    expect(r.plannedW).toBeGreaterThan(budget - 1000 * 0.1 * W_PER_A);
    const byPrio = new Map<number, Decision[]>();
    for (const d of r.decisions) byPrio.set(d.priority, [...(byPrio.get(d.priority) ?? []), d]);
    const prios = [...byPrio.keys()].sort((a, b) => b - a);
    // Some level is partly served: every level above it is at its maximum, every level below it held.
    const charged = (p: number) => byPrio.get(p)!.filter((d) => (d.currentA ?? 0) > 0);
    const partial = prios.findIndex((p) => byPrio.get(p)!.some((d) => d.reasonCode !== 'fits'));
    expect(partial).toBeGreaterThanOrEqual(0);
    for (const p of prios.slice(0, partial)) for (const d of byPrio.get(p)!) expect(d.reasonCode).toBe('fits');
    for (const p of prios.slice(partial + 1)) expect(charged(p)).toHaveLength(0);
    const shares = new Set(charged(prios[partial]!).filter((d) => d.reasonCode === 'share').map((d) => d.currentA));
    expect(shares.size).toBe(1);
    for (const d of r.decisions) if ((d.currentA ?? 0) > 0) expect(d.currentA).toBeGreaterThanOrEqual(6);
    // Same inputs in another order: the same plan.
    expect(plan([...sessions].reverse(), budget).decisions).toEqual(r.decisions);
  });

  it('with every tenth session protected: every protected one keeps its minimum, the rest is planned by level within budget', () => {
    let seed = 11;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff);
    const sessions = Array.from({ length: 1000 }, (_, i) =>
      cur(i, { priority: Math.floor(rnd() * 5) - 2, arrivalMs: NOW - Math.floor(rnd() * HOUR_MS), ...(i % 10 === 0 ? { interruptions: 1 } : {}) }),
    );
    for (const budget of [2_000_000, 100 * 6 * W_PER_A + 2_000, 50 * 6 * W_PER_A]) {
      const r = plan(sessions, budget);
      expect(r.plannedW).toBeLessThanOrEqual(budget);
      const protectedOnes = r.decisions.filter((d) => Number(d.moduleId.slice('evse_'.length)) % 10 === 0);
      const kept = protectedOnes.filter((d) => (d.currentA ?? 0) >= 6).length;
      // Enough budget for the 100 protected minimums: all keep theirs; for 50 of them: exactly 50, the highest.
      expect(kept).toBe(budget >= 100 * 6 * W_PER_A ? 100 : 50);
      if (kept === 50) {
        const lowestKept = Math.min(...protectedOnes.filter((d) => (d.currentA ?? 0) >= 6).map((d) => d.priority));
        for (const d of protectedOnes) if ((d.currentA ?? 0) === 0) expect(d.priority).toBeLessThanOrEqual(lowestKept);
      }
    }
  });
});

describe('calm re-sending', () => {
  const last = { currentA: 10, atMs: NOW - 5_000 };
  it.each<[string, number, number, boolean, boolean]>([
    ['first limit', Number.NaN, 10, false, true],
    ['unchanged', 10, 10, false, false],
    ['increase below 1 A', 10, 10.9, false, false],
    ['increase of 1 A', 10, 11, false, true],
    ['decrease below 1 A', 10, 9.5, false, false],
    ['decrease below 1 A the budget needs', 10, 9.5, true, true],
    ['decrease of 1 A', 10, 9, false, true],
    ['down to the minimum', 6.5, 6, false, true],
    ['up from the minimum', 6, 6.5, false, true],
    ['hold', 6.2, 0, false, true],
  ])('%s', (_name, from, to, urgent, send) => {
    const prev = Number.isNaN(from) ? undefined : { ...last, currentA: from };
    expect(limitVerdict(prev, to, 6, NOW, urgent).send).toBe(send);
  });

  it('an increase waits a second after the last message; a decrease does not', () => {
    const justSent = { currentA: 10, atMs: NOW - 200 };
    expect(limitVerdict(justSent, 14, 6, NOW, false)).toEqual({ send: false, retryAtMs: NOW - 200 + LIMIT_MIN_INTERVAL_MS });
    expect(limitVerdict(justSent, 14, 6, NOW + 800, false)).toEqual({ send: true });
    expect(limitVerdict(justSent, 6, 6, NOW, false)).toEqual({ send: true });
    expect(limitVerdict(justSent, 0, 6, NOW, false)).toEqual({ send: true });
  });
});
