// The simulated site of site-sim.ts (same world: arrivals, cars, energy, priorities, the cars' own
// pauses, budget changes, meter noise), but every EVSE has an external limits module: policies hand out a current
// per car, EVerest applies it after a second, a car draws min(what it takes now, limit x phases x V)
// and an AC car pauses (NoEnergy) below 6 A and resumes when the limit returns. Compares our allocator
// with EVerest's own energy manager and an openWB-like loop on exactly the same day.
import { performance } from 'node:perf_hooks';
import type { EvseState } from '../../src/everest/payloads.js';
import { allocate } from '../../src/site/allocator.js';
import { limitVerdict, type SentLimit } from '../../src/site/calm.js';
import { connectorKey } from '../../src/priorities/model.js';
import type { SchedulerConfig, SessionSnapshot, SiteSnapshot } from '../../src/site/model.js';
import { clampPriority } from '../../src/site/scheduler.js';
import { max, median, p90 } from './stats.js';
import { DEFAULT_SITE_SIM, hashNoise, planWorld, type SiteSimConfig } from './site-sim.js';

export type SharingPolicyName = 'ours' | 'everest' | 'openwb';

export interface SharingSimConfig extends SiteSimConfig {
  sharingPolicy: SharingPolicyName;
  /** EVSE rating, A per phase. */
  evseMaxA: number;
  minCurrentA: number;
  /** EVerest applies a new external limit at its next energy-manager round. */
  limitDelayS: number;
  /** Share of cars whose ev_info tells their maximum power. */
  evInfoShare: number;
}

export const DEFAULT_SHARING_SIM: Readonly<SharingSimConfig> = Object.freeze({
  ...DEFAULT_SITE_SIM,
  sharingPolicy: 'ours' as SharingPolicyName,
  evseMaxA: 32,
  minCurrentA: 6,
  limitDelayS: 1,
  evInfoShare: 0.5,
});

interface Car {
  priority: number;
  plan: ReturnType<typeof planWorld>['perConnector'][number][number];
  maxW: number;
  deliveredWh: number;
  full: boolean;
  state: EvseState;
  preparingUntilS: number;
  rampStartS: number;
  powerW: number;
  /** What the car could take this second (its taper), W. */
  targetW: number;
  /** The limit EVerest enforces now (undefined: none of ours yet, the EVSE's rating). */
  limitA?: number;
  pendingLimit?: { a: number; atS: number };
  sent?: SentLimit;
  limitRaisedAtMs?: number;
  heldSinceMs?: number;
  grantedAtMs?: number;
  lastOnMs?: number;
  evPauseIdx: number;
  evPausedUntilS?: number;
  pauses: number;
  resumes: number;
  /** Holds we sent while it was charging (what the enforcer counts for the snapshot). */
  interruptions: number;
  /** Started on a `leftover` decision and not admitted normally since (what the enforcer keeps for the snapshot). */
  provisional: boolean;
  provisionalYields: number;
  messages: number;
  /** Seconds this car (wanting power) got less than it could take while a lower priority had power it could use (see the check). */
  invStreak: number;
  /** Why each of our pauses of this car happened (classifyPause). */
  pauseCauses: PauseCause[];
}

/** What made us pause a charging car: the latest event since it last started that could have taken its power. */
export type PauseCause = 'budget_drop' | 'higher_arrived' | 'same_level_arrived' | 'priority_change' | 'higher_resumed_itself' | 'other';

interface SiteEvent {
  t: number;
  kind: 'budget_drop' | 'arrival' | 'priority' | 'ev_resume';
  car?: Car;
  prio: number;
}

function classifyPause(events: readonly SiteEvent[], car: Car, sinceS: number): PauseCause {
  const p = clampPriority(car.priority);
  for (let i = events.length - 1; i >= 0 && events[i]!.t >= sinceS; i--) {
    const e = events[i]!;
    if (e.car === car && e.kind !== 'priority') continue;
    const q = clampPriority(e.prio);
    if (e.kind === 'budget_drop') return 'budget_drop';
    if (e.kind === 'arrival' && q > p) return 'higher_arrived';
    if (e.kind === 'arrival' && q === p) return 'same_level_arrived';
    if (e.kind === 'priority' && (e.car === car || q >= p)) return 'priority_change';
    if (e.kind === 'ev_resume' && q >= p) return 'higher_resumed_itself';
  }
  return 'other';
}

export interface SharingSimResult {
  policy: SharingPolicyName;
  sessions: number;
  energyDeliveredKWh: number;
  deliverableKWh: number;
  /** energy delivered / deliverable maximum (integral of min(budget, sum of what the cars could take)). */
  deliveredShare: number;
  togglesMedian: number;
  togglesP90: number;
  togglesMax: number;
  secondsAboveTolerance: number;
  overrunSecondsBeyondWindow: number;
  maxOvershootW: number;
  inversionSeconds: number;
  inversionSecondsBeyondHysteresis: number;
  servedHigh: number;
  servedLow: number;
  messagesPerSessionHour: number;
  policyMsMean: number;
  /** Our pauses by cause, over all sessions, and over the sessions with the most toggles. */
  pauseCauses: Partial<Record<PauseCause, number>>;
  worstSessions: Array<{ toggles: number; priority: number; causes: PauseCause[] }>;
  /** Energy short of the deliverable, by where it went (see the loop), kWh. */
  lossKWh: Record<string, number>;
}

type Policy = (site: SiteSnapshot, cars: ReadonlyArray<Car | undefined>, nowMs: number) => Map<string, number>;

/** Stateless per-car choice that does not depend on the policy. */
function hashUnit(seed: number, id: number): number {
  let h = (seed ^ Math.imul(id + 7, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** EVerest's energy manager: minimum first, then 0.5 A slices in tree order, no priorities, blind to what cars draw. */
function everestPolicy(cfg: SharingSimConfig): Policy {
  return (site) => {
    const out = new Map<string, number>();
    const wanting = site.sessions.filter((s) => s.current !== undefined && s.evseState !== 'Unplugged');
    let left = site.maxPowerW;
    const w = (s: SessionSnapshot) => s.phases * site.nominalVoltageV;
    const alloc = new Map<string, number>();
    for (const s of wanting) {
      if (cfg.minCurrentA * w(s) <= left) {
        alloc.set(s.key, cfg.minCurrentA);
        left -= cfg.minCurrentA * w(s);
      } else alloc.set(s.key, 0);
    }
    for (let progress = true; progress; ) {
      progress = false;
      for (const s of wanting) {
        const a = alloc.get(s.key)!;
        if (a === 0 || a + 0.5 > cfg.evseMaxA || 0.5 * w(s) > left) continue;
        alloc.set(s.key, a + 0.5);
        left -= 0.5 * w(s);
        progress = true;
      }
    }
    for (const [k, a] of alloc) out.set(k, a);
    return out;
  };
}

/** openWB-like: everyone's minimum in priority order, then the rest by priority up to what each car draws. */
function openwbPolicy(cfg: SharingSimConfig): Policy {
  return (site) => {
    const out = new Map<string, number>();
    const wanting = site.sessions
      .filter((s) => s.current !== undefined && s.evseState !== 'Unplugged')
      .sort((a, b) => clampPriority(b.priority) - clampPriority(a.priority) || a.arrivalMs - b.arrivalMs);
    let left = site.maxPowerW;
    const w = (s: SessionSnapshot) => s.phases * site.nominalVoltageV;
    for (const s of wanting) {
      const a = cfg.minCurrentA * w(s) <= left ? cfg.minCurrentA : 0;
      out.set(s.key, a);
      left -= a * w(s);
    }
    for (const s of wanting) {
      const a = out.get(s.key)!;
      if (a === 0) continue;
      // Like openWB, it follows the car's measured current: +2 A above what it draws, else the rating.
      const drawA = (s.measuredPowerW ?? 0) / w(s);
      const cap = s.evseState === 'Charging' && drawA > 0 && drawA + 2 < (s.current?.limitA ?? cfg.evseMaxA) ? drawA + 2 : cfg.evseMaxA;
      const extra = Math.max(0, Math.min(cap - a, left / w(s)));
      const next = Math.floor((a + extra) * 10) / 10;
      out.set(s.key, next);
      left -= (next - a) * w(s);
    }
    return out;
  };
}

export function runSharingSim(overrides: Partial<SharingSimConfig> = {}): SharingSimResult {
  const cfg: SharingSimConfig = { ...DEFAULT_SHARING_SIM, ...overrides };
  const world = planWorld(cfg);
  const sched: SchedulerConfig = { ...cfg.scheduler, sharing: 'priority_levels' };
  const T0 = 1_750_000_000_000;
  const ms = (s: number): number => T0 + s * 1000;
  const tol = sched.overrunToleranceW;
  const V = cfg.voltageV;
  const keys = Array.from({ length: cfg.connectors }, (_, c) => connectorKey(`evse_${c + 1}`, 1));
  const cars: Array<Car | undefined> = new Array(cfg.connectors).fill(undefined);
  const nextIdx = new Array<number>(cfg.connectors).fill(0);
  const finished: Car[] = [];
  const connectorLimit: Array<Pick<Car, 'limitA' | 'sent' | 'limitRaisedAtMs'>> = Array.from({ length: cfg.connectors }, () => ({}));
  let budgetIdx = 0;
  let policyMs = 0;
  let policyCalls = 0;
  let deliverableWh = 0;
  let overStreak = 0;
  const r = { secondsAboveTolerance: 0, overrunSecondsBeyondWindow: 0, maxOvershootW: 0, inversionSeconds: 0, inversionSecondsBeyondHysteresis: 0 };
  let urgent = false;
  const events: SiteEvent[] = [];
  let lastBudgetW = world.budget[0]!.w;
  let planned = new Map<string, number>();
  const codes = new Map<string, string>();
  const lossWh: Record<string, number> = {};
  const addLoss = (k: string, w: number): void => {
    lossWh[k] = (lossWh[k] ?? 0) + w / 3600;
  };
  const tick = cfg.sharingPolicy === 'openwb' ? 10 : 1;
  const policy: Policy =
    cfg.sharingPolicy === 'ours'
      ? (site, _cars, now) => {
          const res = allocate(site, sched, now);
          urgent = res.urgentDecrease ?? false;
          for (const d of res.decisions) codes.set(d.key, d.reasonCode);
          return new Map(res.decisions.flatMap((d) => (d.currentA !== undefined ? [[d.key, d.currentA] as const] : [])));
        }
      : cfg.sharingPolicy === 'everest'
        ? everestPolicy(cfg)
        : openwbPolicy(cfg);

  for (let t = 0; t < cfg.durationS; t++) {
    const now = ms(t);
    while (budgetIdx + 1 < world.budget.length && world.budget[budgetIdx + 1]!.atS <= t) budgetIdx++;
    const budgetW = world.budget[budgetIdx]!.w;
    if (budgetW < lastBudgetW) events.push({ t, kind: 'budget_drop', prio: 0 });
    lastBudgetW = budgetW;
    let wantW = 0;

    for (let c = 0; c < cfg.connectors; c++) {
      let car = cars[c];
      if (car !== undefined && t >= car.plan.departureS) {
        connectorLimit[c] = {
          ...(car.limitA !== undefined ? { limitA: car.limitA } : {}),
          ...(car.sent !== undefined ? { sent: car.sent } : {}),
          ...(car.limitRaisedAtMs !== undefined ? { limitRaisedAtMs: car.limitRaisedAtMs } : {}),
        };
        finished.push(car);
        cars[c] = car = undefined;
      }
      const upcoming = world.perConnector[c]![nextIdx[c]!];
      if (car === undefined && upcoming !== undefined && upcoming.arrivalS <= t) {
        nextIdx[c]!++;
        car = {
          plan: upcoming,
          priority: upcoming.priority,
          maxW: upcoming.currentA * upcoming.phases * V,
          deliveredWh: 0,
          full: false,
          state: 'Preparing',
          preparingUntilS: t + cfg.prepareS,
          rampStartS: t,
          powerW: 0,
          targetW: 0,
          // The last car's limit stays in force in EVerest until we replace it.
          ...connectorLimit[c],
          evPauseIdx: 0,
          pauses: 0,
          resumes: 0,
          interruptions: 0,
          provisional: false,
          provisionalYields: 0,
          messages: 0,
          invStreak: 0,
          pauseCauses: [],
        };
        cars[c] = car;
        events.push({ t, kind: 'arrival', car, prio: car.priority });
      }
      if (car === undefined) continue;
      const pc = car.plan.priorityChange;
      if (pc !== undefined && pc.atS === t) {
        car.priority = pc.priority;
        events.push({ t, kind: 'priority', car, prio: car.priority });
      }
      if (car.pendingLimit !== undefined && car.pendingLimit.atS <= t) {
        car.limitA = car.pendingLimit.a;
        car.pendingLimit = undefined;
      }
      const limitA = car.limitA ?? cfg.evseMaxA;
      const allowed = limitA >= cfg.minCurrentA - 0.1;
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
        events.push({ t, kind: 'ev_resume', car, prio: car.priority });
        car.state = allowed ? 'Charging' : 'ChargingPausedEVSE';
        if (allowed) {
          car.rampStartS = t;
          car.lastOnMs = now;
        }
      }
      if (car.state === 'Charging' && !allowed) {
        car.state = 'ChargingPausedEVSE';
        car.pauses++;
        car.pauseCauses.push(classifyPause(events, car, (car.lastOnMs ?? T0) / 1000 - T0 / 1000 - 1));
      } else if (car.state === 'ChargingPausedEVSE' && allowed) {
        car.state = 'Charging';
        car.rampStartS = t;
        car.lastOnMs = now;
        car.resumes++;
      } else if (car.state === 'Preparing' && t >= car.preparingUntilS) {
        car.state = allowed ? 'Charging' : 'ChargingPausedEVSE';
        if (allowed) {
          car.rampStartS = t;
          car.lastOnMs = now;
        }
      }
      const f = car.deliveredWh / car.plan.energyWh;
      const targetW = f > 0.9 ? car.maxW * (0.4 + 0.6 * Math.max(0, 1 - f) * 10) : car.maxW;
      car.targetW = Math.min(targetW, cfg.evseMaxA * car.plan.phases * V);
      const wants = !car.full && car.state !== 'ChargingPausedEV' && t >= car.preparingUntilS;
      if (wants) wantW += Math.min(targetW, cfg.evseMaxA * car.plan.phases * V);
      if (car.state === 'Charging') {
        const ramp = (car.maxW * (t - car.rampStartS + 1)) / cfg.rampS;
        car.powerW = Math.min(targetW, ramp, limitA * car.plan.phases * V);
        car.deliveredWh += car.powerW / 3600;
        if (car.deliveredWh >= car.plan.energyWh) {
          car.full = true;
          car.state = 'ChargingPausedEV';
        }
      }
      if (car.state !== 'Charging') car.powerW = 0;
    }
    deliverableWh += Math.min(budgetW, wantW) / 3600;
    // Where the energy goes: min(budget, want) - drawn = ramp + limits above what cars take + the rest,
    // by what the plan said about the held car with the smallest minimum (or the cars short of their want).
    {
      let drawn = 0;
      let ramp = 0;
      let margin = 0;
      let heldMinW = Number.POSITIVE_INFINITY;
      let heldCode = '';
      let limitedCode = '';
      for (let c = 0; c < cfg.connectors; c++) {
        const car = cars[c];
        if (car === undefined) continue;
        const pv = car.plan.phases * V;
        drawn += car.powerW;
        const wants = !car.full && car.state !== 'ChargingPausedEV' && t >= car.preparingUntilS;
        if (!wants) continue;
        const limW = (car.limitA ?? cfg.evseMaxA) * pv;
        if (car.state === 'Charging') {
          const a = Math.min(car.targetW, limW);
          ramp += Math.max(0, a - car.powerW);
          margin += Math.max(0, limW - car.targetW);
          if (a < car.targetW - pv) limitedCode = codes.get(keys[c]!) ?? 'none';
        } else if (cfg.minCurrentA * pv < heldMinW) {
          heldMinW = cfg.minCurrentA * pv;
          heldCode = codes.get(keys[c]!) ?? 'none';
        }
      }
      const gap = Math.min(budgetW, wantW) - drawn;
      if (gap > 0) {
        const fromRamp = Math.min(gap, ramp);
        const fromMargin = Math.min(gap - fromRamp, margin);
        const rest = gap - fromRamp - fromMargin;
        addLoss('ramp', fromRamp);
        addLoss('limits above what cars take', fromMargin);
        if (rest > 0 && !Number.isFinite(heldMinW)) addLoss(`charging below want (${limitedCode})`, rest);
        else if (rest > 0 && heldMinW <= rest + fromMargin) addLoss(`held while its minimum fits (${heldCode})`, rest);
        else if (rest > 0) addLoss("held, its minimum does not fit what is left (strict levels)", rest);
      }
    }
    let drawW = 0;
    for (const car of cars) if (car !== undefined) drawW += car.powerW;
    if (drawW > budgetW + tol) {
      r.secondsAboveTolerance++;
      overStreak++;
      r.maxOvershootW = Math.max(r.maxOvershootW, drawW - budgetW);
      if (overStreak > cfg.reactionWindowS) r.overrunSecondsBeyondWindow++;
    } else overStreak = 0;

    let allowedW = 0;
    for (const car of cars) if (car !== undefined && car.state === 'Charging') allowedW += Math.max(car.powerW, (car.limitA ?? cfg.evseMaxA) * car.plan.phases * V);
    // Priority service: a car that could take more while a strictly lower priority draws more than its minimum.
    let inv = false;
    let invBeyond = false;
    for (const h of cars) {
      if (h === undefined) continue;
      const hWants = !h.full && h.state !== 'ChargingPausedEV' && t >= h.preparingUntilS;
      const hw = h.plan.phases * V;
      // A car we hold inside its min off-time waits out hysteresis, not an inversion.
      const inOffWindow = h.sent !== undefined && h.sent.currentA < cfg.minCurrentA && h.heldSinceMs !== undefined && h.lastOnMs !== undefined && now < h.heldSinceMs + sched.minOffTimeS * 1000;
      const hShort = hWants && !inOffWindow && (h.limitA ?? cfg.evseMaxA) * hw < h.targetW - hw;
      // A held car can use a lower car's power only if its minimum fits with it: power above a lower
      // car's minimum + 1 A that would let it start, or all of a provisional (leftover) car's power.
      const hHeld = (h.limitA ?? cfg.evseMaxA) < cfg.minCurrentA;
      // ...measured against what the limits in force let the charging cars draw (the plan's view: a
      // capped car's margin above its draw is not free), not against the draw; + 1 A, because a limit
      // in force may differ from the plan by up to calm's 1 A step.
      const headroomW = Math.max(0, budgetW - allowedW);
      let lowerAbove = false;
      if (hShort) {
        for (let lc = 0; lc < cfg.connectors; lc++) {
          const l = cars[lc];
          if (l === undefined || clampPriority(l.priority) >= clampPriority(h.priority)) continue;
          const lMinW = cfg.minCurrentA * l.plan.phases * V;
          const above = l.powerW > (cfg.minCurrentA + 1) * l.plan.phases * V;
          if (!hHeld && above) lowerAbove = true;
          else if (hHeld && above && (cfg.minCurrentA + 1) * hw <= headroomW + l.powerW - lMinW) lowerAbove = true;
          else if (hHeld && l.powerW > 0 && codes.get(keys[lc]!) === 'leftover' && (cfg.minCurrentA + 1) * hw <= headroomW + l.powerW) lowerAbove = true;
        }
      }
      h.invStreak = lowerAbove ? h.invStreak + 1 : 0;
      if (lowerAbove) inv = true;
      if (h.invStreak > cfg.reactionWindowS) invBeyond = true;
    }
    if (inv) r.inversionSeconds++;
    if (invBeyond) r.inversionSecondsBeyondHysteresis++;

    if (t % tick === 0) {
      const sessions: SessionSnapshot[] = [];
      for (let c = 0; c < cfg.connectors; c++) {
        const car = cars[c];
        const key = keys[c]!;
        const moduleId = `evse_${c + 1}`;
        const base = { key, moduleId, connectorId: 1, online: true, commandInFlight: false, hwMaxCurrentA: cfg.evseMaxA };
        if (car === undefined) {
          sessions.push({ ...base, evseState: 'Unplugged', pausedByUs: false, arrivalMs: 0, priority: 0, phases: 3 });
          continue;
        }
        const held = car.sent !== undefined && car.sent.currentA < cfg.minCurrentA;
        const s: SessionSnapshot = {
          ...base,
          evseState: car.state,
          pausedByUs: held,
          arrivalMs: ms(car.plan.arrivalS),
          priority: car.priority,
          phases: car.plan.phases,
          current: {
            minA: cfg.minCurrentA,
            evseMaxA: cfg.evseMaxA,
            ...(hashUnit(cfg.seed, car.plan.id) < cfg.evInfoShare ? { evMaxA: car.plan.currentA } : {}),
            ...(car.sent !== undefined ? { limitA: car.sent.currentA } : {}),
            ...(car.limitRaisedAtMs !== undefined ? { limitRaisedAtMs: car.limitRaisedAtMs } : {}),
          },
        };
        // What the meter reports, with the site's meter noise (the car draws powerW).
        if (car.state === 'Charging') s.measuredPowerW = Math.round(car.powerW * (1 + cfg.meterNoise * hashNoise(cfg.seed, t, c)));
        if (car.lastOnMs !== undefined) s.lastOnMs = car.lastOnMs;
        if (held && car.heldSinceMs !== undefined) s.lastOffMs = car.heldSinceMs;
        if (car.grantedAtMs !== undefined) s.grantedAtMs = car.grantedAtMs;
        if (car.interruptions > 0) s.interruptions = car.interruptions;
        if (car.provisional && !held) s.provisional = true;
        if (car.provisionalYields > 0) s.provisionalYields = car.provisionalYields;
        sessions.push(s);
      }
      const t0 = performance.now();
      planned = policy({ maxPowerW: budgetW, nominalVoltageV: V, sessions }, cars, now);
      policyMs += performance.now() - t0;
      policyCalls++;
    }

    // Enforcement: ours sends only what calm.ts lets through; the others send what they computed.
    for (let c = 0; c < cfg.connectors; c++) {
      const car = cars[c];
      if (car === undefined) continue;
      const a = planned.get(keys[c]!);
      if (a === undefined) continue;
      const code = codes.get(keys[c]!);
      if (a >= cfg.minCurrentA && code !== 'leftover' && code !== 'awaiting_release') car.provisional = false;
      const send = cfg.sharingPolicy === 'ours' ? limitVerdict(car.sent, a, cfg.minCurrentA, now, urgent).send : car.sent?.currentA !== a;
      if (!send) continue;
      const wasHeld = car.sent === undefined ? undefined : car.sent.currentA < cfg.minCurrentA;
      if (a < cfg.minCurrentA && wasHeld !== true) {
        car.heldSinceMs = now;
        // A provisional car's yield is not an interruption (it knew it ran on borrowed power).
        if (car.provisional) car.provisionalYields++;
        else if (car.state === 'Charging') car.interruptions++;
        car.provisional = false;
      }
      if (a >= cfg.minCurrentA && code === 'leftover' && (wasHeld !== false || car.state !== 'Charging')) car.provisional = true;
      if (a >= cfg.minCurrentA && wasHeld === true) car.grantedAtMs = now;
      if (car.sent === undefined || a > car.sent.currentA) car.limitRaisedAtMs = now;
      car.sent = { currentA: a, atMs: now };
      car.pendingLimit = { a, atS: t + cfg.limitDelayS };
      car.messages++;
    }
  }
  for (const car of cars) if (car !== undefined) finished.push(car);

  const toggles = finished.map((c) => c.pauses + c.resumes);
  const served = (lo: number, hi: number): number => {
    const cs = finished.filter((c) => clampPriority(c.priority) >= lo && clampPriority(c.priority) <= hi);
    const need = cs.reduce((a, c) => a + c.plan.energyWh, 0);
    return need > 0 ? cs.reduce((a, c) => a + Math.min(c.deliveredWh, c.plan.energyWh), 0) / need : Number.NaN;
  };
  const pauseCauses: Partial<Record<PauseCause, number>> = {};
  for (const c of finished) for (const why of c.pauseCauses) pauseCauses[why] = (pauseCauses[why] ?? 0) + 1;
  const worstSessions = [...finished]
    .sort((a, b) => b.pauses + b.resumes - (a.pauses + a.resumes))
    .slice(0, 5)
    .map((c) => ({ toggles: c.pauses + c.resumes, priority: c.priority, causes: c.pauseCauses }));
  const hours = finished.reduce((a, c) => a + (Math.min(c.plan.departureS, cfg.durationS) - Math.max(0, c.plan.arrivalS)) / 3600, 0);
  const delivered = finished.reduce((a, c) => a + c.deliveredWh, 0);
  return {
    policy: cfg.sharingPolicy,
    sessions: finished.length,
    energyDeliveredKWh: delivered / 1000,
    deliverableKWh: deliverableWh / 1000,
    deliveredShare: deliverableWh > 0 ? delivered / deliverableWh : Number.NaN,
    togglesMedian: median(toggles),
    togglesP90: p90(toggles),
    togglesMax: max(toggles),
    ...r,
    maxOvershootW: Math.round(r.maxOvershootW),
    servedHigh: served(5, 9),
    servedLow: served(-9, -5),
    messagesPerSessionHour: hours > 0 ? finished.reduce((a, c) => a + c.messages, 0) / hours : 0,
    policyMsMean: policyCalls > 0 ? policyMs / policyCalls : 0,
    pauseCauses,
    worstSessions,
    lossKWh: Object.fromEntries(Object.entries(lossWh).map(([k, v]) => [k, Math.round(v) / 1000])),
  };
}
