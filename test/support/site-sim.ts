// A simulated charging site on a fake clock, to measure scheduling policies end to end: cars arrive
// and leave, charge, taper, pause by themselves; the budget and priorities change; commands take
// effect after a delay and resumed cars ramp. The world (arrivals, cars, noise) depends only on the
// seed, never on the policy, so policies are compared on exactly the same day.
import { performance } from 'node:perf_hooks';
import type { EvseState } from '../../src/everest/payloads.js';
import {
  type Decision,
  type DecisionKind,
  type SchedulerConfig,
  type SessionSnapshot,
  type SiteSnapshot,
} from '../../src/site/model.js';
import { connectorKey } from '../../src/priorities/model.js';
import { SIM_SCHEDULER_CONFIG } from './builders/snapshot.js';
import { clampPriority, expectedDrawW, nominalPowerW, schedule } from '../../src/site/scheduler.js';
import { max, mean, median, p90 } from './stats.js';

// The simulator's PRNG: one implementation, so a seed means the same thing everywhere.
import { mulberry32 } from '../../src/sim/prng.js';

export { mulberry32 };

/** Stateless noise in [-1, 1) for (seed, a, b): the same for every policy, however often it is asked. */
export function hashNoise(seed: number, a: number, b: number): number {
  let h = (seed ^ Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 2147483648 - 1;
}

export type PolicyName = 'priority' | 'fcfs';

export interface SiteSimConfig {
  seed: number;
  durationS: number;
  connectors: number;
  voltageV: number;
  initialBudgetW: number;
  budgetChoicesW: readonly number[];
  budgetChangeMeanS: number;
  /** Share of connectors with a car already plugged in at t = 0. */
  initialOccupancy: number;
  meanIdleS: number;
  dwellS: readonly [number, number];
  energyWh: readonly [number, number];
  cars: ReadonlyArray<{ currentA: number; phases: number }>;
  /** Chance that a session's priority is changed once while plugged in. */
  priorityChangeChance: number;
  evPausesPerHour: number;
  evPauseS: readonly [number, number];
  prepareS: number;
  pauseDelayS: number;
  resumeDelayS: number;
  rampS: number;
  meterNoise: number;
  reactionWindowS: number;
  policy: PolicyName;
  /** Seconds between policy runs (evcc-style loops run every 30 s; ours runs on every update). */
  policyTickS: number;
  scheduler: SchedulerConfig;
}

export const DEFAULT_SITE_SIM: Readonly<SiteSimConfig> = Object.freeze({
  seed: 42,
  durationS: 24 * 3600,
  connectors: 10,
  voltageV: 230,
  initialBudgetW: 33_000,
  budgetChoicesW: [11_000, 22_000, 33_000, 44_000, 55_000],
  budgetChangeMeanS: 3 * 3600,
  initialOccupancy: 0.6,
  meanIdleS: 90 * 60,
  dwellS: [30 * 60, 8 * 3600] as const,
  energyWh: [4_000, 60_000] as const,
  cars: [
    { currentA: 16, phases: 1 },
    { currentA: 32, phases: 1 },
    { currentA: 16, phases: 3 },
    { currentA: 24, phases: 3 },
    { currentA: 32, phases: 3 },
  ],
  priorityChangeChance: 0.3,
  evPausesPerHour: 0.2,
  evPauseS: [120, 1200] as const,
  prepareS: 3,
  pauseDelayS: 2,
  resumeDelayS: 2,
  rampS: 5,
  meterNoise: 0.004,
  reactionWindowS: 5,
  policy: 'priority',
  policyTickS: 1,
  scheduler: SIM_SCHEDULER_CONFIG,
});

interface PlannedSession {
  id: number;
  arrivalS: number;
  departureS: number;
  currentA: number;
  phases: number;
  energyWh: number;
  priority: number;
  priorityChange?: { atS: number; priority: number };
  evPauses: Array<{ atS: number; untilS: number }>;
}

interface World {
  perConnector: PlannedSession[][];
  budget: Array<{ atS: number; w: number }>;
}

function uniform(rnd: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rnd();
}

function exponential(rnd: () => number, meanS: number): number {
  return -Math.log(1 - rnd()) * meanS;
}

function randomPriority(rnd: () => number): number {
  return Math.floor(rnd() * 19) - 9;
}

/** Everything that happens independently of the policy. */
export function planWorld(cfg: SiteSimConfig): World {
  const rnd = mulberry32(cfg.seed);
  let id = 0;
  const perConnector: PlannedSession[][] = [];
  for (let c = 0; c < cfg.connectors; c++) {
    const list: PlannedSession[] = [];
    const occupied = rnd() < cfg.initialOccupancy;
    let arrivalS = occupied ? -Math.floor(uniform(rnd, 0, 2 * 3600)) : Math.floor(uniform(rnd, 0, 2 * 3600));
    while (arrivalS < cfg.durationS) {
      const dwell = Math.floor(uniform(rnd, cfg.dwellS[0], cfg.dwellS[1]));
      const departureS = Math.max(arrivalS + dwell, 60);
      const car = cfg.cars[Math.floor(rnd() * cfg.cars.length)]!;
      const s: PlannedSession = {
        id: id++,
        arrivalS,
        departureS,
        currentA: car.currentA,
        phases: car.phases,
        energyWh: uniform(rnd, cfg.energyWh[0], cfg.energyWh[1]),
        priority: randomPriority(rnd),
        evPauses: [],
      };
      const from = Math.max(arrivalS, 0);
      if (rnd() < cfg.priorityChangeChance) s.priorityChange = { atS: Math.floor(uniform(rnd, from, departureS)), priority: randomPriority(rnd) };
      let t = from + exponential(rnd, 3600 / cfg.evPausesPerHour);
      while (t < departureS) {
        const untilS = t + uniform(rnd, cfg.evPauseS[0], cfg.evPauseS[1]);
        s.evPauses.push({ atS: Math.floor(t), untilS: Math.floor(untilS) });
        t = untilS + exponential(rnd, 3600 / cfg.evPausesPerHour);
      }
      list.push(s);
      arrivalS = departureS + Math.max(60, Math.floor(exponential(rnd, cfg.meanIdleS)));
    }
    perConnector.push(list);
  }
  const budget = [{ atS: 0, w: cfg.initialBudgetW }];
  for (let t = exponential(rnd, cfg.budgetChangeMeanS); t < cfg.durationS; t += exponential(rnd, cfg.budgetChangeMeanS)) {
    budget.push({ atS: Math.floor(t), w: cfg.budgetChoicesW[Math.floor(rnd() * cfg.budgetChoicesW.length)]! });
  }
  return { perConnector, budget };
}

interface Car {
  plan: PlannedSession;
  priority: number;
  state: EvseState;
  powerW: number;
  maxW: number;
  deliveredWh: number;
  full: boolean;
  preparingUntilS: number;
  rampStartS: number;
  pausedByUs: boolean;
  lastOnMs?: number;
  lastOffMs?: number;
  grantedAtMs?: number;
  grantedW?: number;
  pending?: { kind: 'pause' | 'resume'; atS: number };
  evPauseIdx: number;
  evPausedUntilS?: number;
  pauses: number;
  resumes: number;
  /** Pauses that cut a car off while it was drawing power (a hold before its first charge is not one). */
  interruptions: number;
  firstChargeS?: number;
}

type PolicyDecision = Pick<Decision, 'key' | 'decision' | 'expectedW'> & { reasonCode?: string };
type PolicyFn = (site: SiteSnapshot, nowMs: number) => ReadonlyArray<PolicyDecision>;

/** What evcc / OpenEMS-style load management does: first come, first served, no priorities, no hysteresis. */
export function fcfsPolicy(site: SiteSnapshot): Array<Pick<Decision, 'key' | 'decision' | 'expectedW'>> {
  const wanting = site.sessions.filter(
    (s) => s.online && (s.evseState === 'Charging' || s.evseState === 'ChargingPausedEVSE' || s.evseState === 'Preparing'),
  );
  wanting.sort((a, b) => a.arrivalMs - b.arrivalMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let left = site.maxPowerW;
  return site.sessions.map((s) => {
    if (!wanting.includes(s)) return { key: s.key, decision: 'leave' as DecisionKind, expectedW: 0 };
    const w = s.evseState === 'Charging' && !s.pausedByUs ? (s.measuredPowerW ?? nominalPowerW(s, site.nominalVoltageV)) : nominalPowerW(s, site.nominalVoltageV);
    if (w <= left) {
      left -= w;
      return { key: s.key, decision: 'charge' as DecisionKind, expectedW: w };
    }
    return { key: s.key, decision: 'pause' as DecisionKind, expectedW: 0 };
  });
}

export interface SiteSimResult {
  seed: number;
  policy: PolicyName;
  policyTickS: number;
  durationS: number;
  sessions: number;
  togglesMedian: number;
  togglesP90: number;
  togglesMax: number;
  togglesMean: number;
  interruptionsMedian: number;
  interruptionsMax: number;
  /** Seconds the true site draw was above the budget at all (the tolerance allows part of it). */
  secondsAboveBudget: number;
  /** Seconds above budget + overrun tolerance. */
  secondsAboveTolerance: number;
  overrunSecondsBeyondWindow: number;
  maxOvershootW: number;
  inversionSeconds: number;
  inversionSecondsBeyondHysteresis: number;
  energyDeliveredKWh: number;
  energyNeededKWh: number;
  /** Share of needed energy delivered, by priority at departure: high >= 5, low <= -5. */
  servedHigh: number;
  servedMid: number;
  servedLow: number;
  /** Median seconds from plug-in to first power, by priority band. */
  waitHighS: number;
  waitLowS: number;
  schedulerCalls: number;
  schedulerMsMean: number;
  /** Pause commands sent, by the decision's reason code. */
  pausesByReason: Record<string, number>;
}

/** Runs the site second by second and measures what the policy did to it. */
export function runSiteSim(overrides: Partial<SiteSimConfig> = {}): SiteSimResult {
  const cfg: SiteSimConfig = { ...DEFAULT_SITE_SIM, ...overrides };
  const world = planWorld(cfg);
  const sched = cfg.scheduler;
  const policy: PolicyFn = cfg.policy === 'priority' ? (site, now) => schedule(site, sched, now).decisions : fcfsPolicy;
  const T0 = 1_750_000_000_000;
  const ms = (s: number): number => T0 + s * 1000;
  const moduleOf = (c: number): string => `evse_${c + 1}`;
  const tol = sched.overrunToleranceW;

  const modules = Array.from({ length: cfg.connectors }, (_, c) => moduleOf(c));
  const keys = modules.map((m) => connectorKey(m, 1));
  const cars: Array<Car | undefined> = new Array(cfg.connectors).fill(undefined);
  const nextIdx = new Array<number>(cfg.connectors).fill(0);
  const finished: Car[] = [];
  let budgetIdx = 0;
  let decisions = new Map<string, PolicyDecision>();
  const pausesByReason: Record<string, number> = {};
  let overStreak = 0;
  const invStreak = new Map<string, number>();
  const r = {
    secondsAboveBudget: 0,
    secondsAboveTolerance: 0,
    overrunSecondsBeyondWindow: 0,
    maxOvershootW: 0,
    inversionSeconds: 0,
    inversionSecondsBeyondHysteresis: 0,
    schedulerCalls: 0,
    schedulerMs: 0,
  };

  const startCharging = (car: Car, t: number): void => {
    car.state = 'Charging';
    car.rampStartS = t;
    car.lastOnMs = ms(t);
    car.firstChargeS ??= t;
  };

  for (let t = 0; t < cfg.durationS; t++) {
    const now = ms(t);
    while (budgetIdx + 1 < world.budget.length && world.budget[budgetIdx + 1]!.atS <= t) budgetIdx++;
    const budgetW = world.budget[budgetIdx]!.w;

    // World: departures, arrivals, priority changes, the car's own pauses, command effects, charging.
    for (let c = 0; c < cfg.connectors; c++) {
      let car = cars[c];
      if (car !== undefined && t >= car.plan.departureS) {
        finished.push(car);
        cars[c] = car = undefined;
      }
      const upcoming = world.perConnector[c]![nextIdx[c]!];
      if (car === undefined && upcoming !== undefined && upcoming.arrivalS <= t) {
        nextIdx[c]!++;
        car = {
          plan: upcoming,
          priority: upcoming.priority,
          state: 'Preparing',
          powerW: 0,
          maxW: upcoming.currentA * upcoming.phases * cfg.voltageV,
          deliveredWh: 0,
          full: false,
          preparingUntilS: t + cfg.prepareS,
          rampStartS: t,
          pausedByUs: false,
          evPauseIdx: 0,
          pauses: 0,
          resumes: 0,
          interruptions: 0,
        };
        cars[c] = car;
      }
      if (car === undefined) continue;
      const pc = car.plan.priorityChange;
      if (pc !== undefined && pc.atS === t) car.priority = pc.priority;

      const evp = car.plan.evPauses[car.evPauseIdx];
      if (evp !== undefined && evp.atS <= t) {
        car.evPauseIdx++;
        if (car.state === 'Charging') {
          car.state = 'ChargingPausedEV';
          car.evPausedUntilS = evp.untilS;
        }
      }
      if (car.state === 'ChargingPausedEV' && !car.full && car.evPausedUntilS !== undefined && car.evPausedUntilS <= t) {
        car.evPausedUntilS = undefined;
        startCharging(car, t);
      }
      if (car.pending !== undefined && car.pending.atS <= t) {
        if (car.pending.kind === 'pause') {
          car.state = 'ChargingPausedEVSE';
          car.evPausedUntilS = undefined;
        } else if (car.full) {
          car.state = 'ChargingPausedEV';
        } else {
          startCharging(car, t);
        }
        car.pending = undefined;
      }
      if (car.state === 'Preparing' && t >= car.preparingUntilS && !car.pausedByUs) startCharging(car, t);

      if (car.state === 'Charging') {
        const f = car.deliveredWh / car.plan.energyWh;
        const target = f > 0.9 ? car.maxW * (0.4 + 0.6 * Math.max(0, 1 - f) * 10) : car.maxW;
        car.powerW = Math.min(target, (car.maxW * (t - car.rampStartS + 1)) / cfg.rampS);
        car.deliveredWh += car.powerW / 3600;
        if (car.deliveredWh >= car.plan.energyWh) {
          car.full = true;
          car.state = 'ChargingPausedEV';
        }
      }
      if (car.state !== 'Charging') car.powerW = 0;
    }

    // What the reducer would hand the scheduler.
    const sessions: SessionSnapshot[] = [];
    for (let c = 0; c < cfg.connectors; c++) {
      const car = cars[c];
      const moduleId = modules[c]!;
      // Literals, not `{ ...base }` spreads: V8's spread-then-add path dominated the run time.
      const key = keys[c]!;
      if (car === undefined) {
        sessions.push({ key, moduleId, connectorId: 1, evseState: 'Unplugged', pausedByUs: false, arrivalMs: 0, priority: 0, phases: 3, hwMaxCurrentA: 32, online: true, commandInFlight: false });
        continue;
      }
      const measured = car.state === 'Charging' ? Math.round(car.powerW * (1 + cfg.meterNoise * hashNoise(cfg.seed, t, c))) : 0;
      const s: SessionSnapshot = {
        key,
        moduleId,
        connectorId: 1,
        evseState: car.state,
        pausedByUs: car.pausedByUs,
        arrivalMs: ms(car.plan.arrivalS),
        priority: car.priority,
        measuredPowerW: measured,
        limitCurrentA: car.plan.currentA,
        phases: car.plan.phases,
        hwMaxCurrentA: 32,
        online: true,
        commandInFlight: car.pending !== undefined,
      };
      if (car.lastOnMs !== undefined) s.lastOnMs = car.lastOnMs;
      if (car.lastOffMs !== undefined) s.lastOffMs = car.lastOffMs;
      if (car.grantedAtMs !== undefined) s.grantedAtMs = car.grantedAtMs;
      if (car.grantedW !== undefined) s.grantedW = car.grantedW;
      sessions.push(s);
    }
    const site: SiteSnapshot = { maxPowerW: budgetW, nominalVoltageV: cfg.voltageV, sessions };

    // Measure the state this second, before the policy reacts to it.
    let drawW = 0;
    for (const car of cars) if (car !== undefined) drawW += car.powerW;
    if (drawW > budgetW) r.secondsAboveBudget++;
    if (drawW > budgetW + tol) {
      r.secondsAboveTolerance++;
      overStreak++;
      r.maxOvershootW = Math.max(r.maxOvershootW, drawW - budgetW);
      if (overStreak > cfg.reactionWindowS) r.overrunSecondsBeyondWindow++;
    } else {
      overStreak = 0;
    }
    const inv = inversions(site, sched, now);
    if (inv.size > 0) r.inversionSeconds++;
    let beyond = false;
    for (const key of [...invStreak.keys()]) if (!inv.has(key)) invStreak.delete(key);
    for (const key of inv) {
      const n = (invStreak.get(key) ?? 0) + 1;
      invStreak.set(key, n);
      if (n > cfg.reactionWindowS) beyond = true;
    }
    if (beyond) r.inversionSecondsBeyondHysteresis++;

    if (t % cfg.policyTickS === 0) {
      const t0 = performance.now();
      const out = policy(site, now);
      r.schedulerMs += performance.now() - t0;
      r.schedulerCalls++;
      decisions = new Map(out.map((d) => [d.key, d]));
    }

    // The enforcer: one command in flight per EVSE; pause/resume take effect after a delay.
    for (let c = 0; c < cfg.connectors; c++) {
      const car = cars[c];
      if (car === undefined || car.pending !== undefined) continue;
      const d = decisions.get(keys[c]!);
      if (d === undefined) continue;
      if (d.decision === 'charge') {
        if (car.pausedByUs) {
          car.pausedByUs = false;
          car.pending = { kind: 'resume', atS: t + cfg.resumeDelayS };
          car.grantedAtMs = now;
          car.grantedW = d.expectedW;
          car.resumes++;
        } else if (car.state === 'Preparing' && car.grantedAtMs === undefined) {
          car.grantedAtMs = now;
          car.grantedW = d.expectedW;
        }
      } else if (d.decision === 'pause' || d.decision === 'hold_disabled') {
        if (!car.pausedByUs && (car.state === 'Charging' || car.state === 'Preparing')) {
          car.pausedByUs = true;
          car.pending = { kind: 'pause', atS: t + cfg.pauseDelayS };
          car.lastOffMs = now;
          car.grantedAtMs = undefined;
          car.grantedW = undefined;
          car.pauses++;
          if (car.state === 'Charging') car.interruptions++;
          const why = d.reasonCode ?? d.decision;
          pausesByReason[why] = (pausesByReason[why] ?? 0) + 1;
        }
      }
    }
  }
  for (const car of cars) if (car !== undefined) finished.push(car);

  const toggles = finished.map((c) => c.pauses + c.resumes);
  const band = (lo: number, hi: number): Car[] => finished.filter((c) => clampPriority(c.priority) >= lo && clampPriority(c.priority) <= hi);
  const served = (cs: Car[]): number => {
    const need = cs.reduce((a, c) => a + c.plan.energyWh, 0);
    return need > 0 ? cs.reduce((a, c) => a + Math.min(c.deliveredWh, c.plan.energyWh), 0) / need : Number.NaN;
  };
  const wait = (cs: Car[]): number => median(cs.map((c) => (c.firstChargeS ?? Math.min(c.plan.departureS, cfg.durationS)) - Math.max(0, c.plan.arrivalS)));
  const high = band(5, 9);
  const low = band(-9, -5);
  return {
    seed: cfg.seed,
    policy: cfg.policy,
    policyTickS: cfg.policyTickS,
    durationS: cfg.durationS,
    sessions: finished.length,
    togglesMedian: median(toggles),
    togglesP90: p90(toggles),
    togglesMax: max(toggles),
    togglesMean: mean(toggles),
    interruptionsMedian: median(finished.map((c) => c.interruptions)),
    interruptionsMax: max(finished.map((c) => c.interruptions)),
    secondsAboveBudget: r.secondsAboveBudget,
    secondsAboveTolerance: r.secondsAboveTolerance,
    overrunSecondsBeyondWindow: r.overrunSecondsBeyondWindow,
    maxOvershootW: Math.round(r.maxOvershootW),
    inversionSeconds: r.inversionSeconds,
    inversionSecondsBeyondHysteresis: r.inversionSecondsBeyondHysteresis,
    energyDeliveredKWh: finished.reduce((a, c) => a + c.deliveredWh, 0) / 1000,
    energyNeededKWh: finished.reduce((a, c) => a + c.plan.energyWh, 0) / 1000,
    servedHigh: served(high),
    servedMid: served(band(-4, 4)),
    servedLow: served(low),
    waitHighS: wait(high),
    waitLowS: wait(low),
    schedulerCalls: r.schedulerCalls,
    schedulerMsMean: r.schedulerCalls > 0 ? r.schedulerMs / r.schedulerCalls : 0,
    pausesByReason,
  };
}

/**
 * Sessions suffering a priority inversion outside hysteresis: waiting (paused by us, its own min
 * off-time over) while a strictly lower priority charges past its min on-time, and pausing every
 * such lower session would free enough power for it now.
 *
 * Waiting sessions claim power in priority order: power a higher waiting session would get if every
 * window had expired is its claim, even while a window (its own min off-time, or the min on-time of
 * a session it would preempt) still holds it back; a lower session waiting behind such a claim waits
 * because of hysteresis, not an inversion. Measured with the scheduler's own draw estimates.
 */
export function inversions(site: SiteSnapshot, config: SchedulerConfig, nowMs: number): Set<string> {
  const out = new Set<string>();
  const running = site.sessions.filter(
    (s) => s.online && !s.pausedByUs && (s.evseState === 'Charging' || s.evseState === 'Preparing' || s.evseState === 'WaitingForEnergy'),
  );
  const waiting = site.sessions
    .filter((s) => s.online && s.pausedByUs && (s.evseState === 'ChargingPausedEVSE' || s.evseState === 'Preparing' || s.evseState === 'Disabled'))
    .sort((a, b) => clampPriority(b.priority) - clampPriority(a.priority) || a.arrivalMs - b.arrivalMs);
  const draw = new Map(site.sessions.map((s) => [s.key, expectedDrawW(s, site.nominalVoltageV, config, nowMs)]));
  const preemptable = (s: SessionSnapshot): boolean =>
    Math.max(s.lastOnMs ?? -Infinity, s.grantedAtMs ?? -Infinity) + config.minOnTimeS * 1000 <= nowMs;
  let uncontrolled = 0;
  for (const s of site.sessions) if (!s.online) uncontrolled += draw.get(s.key)!;
  let claimedAbove = 0;
  for (const h of waiting) {
    const p = clampPriority(h.priority);
    let higherOrEqual = 0;
    let lockedLower = 0;
    let anyPreemptableLower = false;
    for (const s of running) {
      if (clampPriority(s.priority) >= p) higherOrEqual += draw.get(s.key)!;
      else if (preemptable(s)) anyPreemptableLower = true;
      else lockedLower += draw.get(s.key)!;
    }
    const need = draw.get(h.key)!;
    const freeWithoutWindows = site.maxPowerW - uncontrolled - claimedAbove - higherOrEqual;
    if (need > freeWithoutWindows) continue;
    const inOffWindow = h.lastOnMs !== undefined && h.lastOffMs !== undefined && h.lastOffMs + config.minOffTimeS * 1000 > nowMs;
    if (anyPreemptableLower && !inOffWindow && need <= freeWithoutWindows - lockedLower) out.add(h.key);
    claimedAbove += need;
  }
  return out;
}
