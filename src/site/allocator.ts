// The current allocator: snapshot + config + now -> a plan with a current per session. Pure (no I/O,
// no clock). A site without any current-controlled EVSE is planned by the on/off scheduler exactly as
// before; as soon as one EVSE has an external limits module, every session is planned here, the on/off
// ones as indivisible blocks of their rating (a mixed site works in one plan).
import {
  type Decision,
  type ReasonCode,
  type ScheduleResult,
  type SchedulerConfig,
  type SessionSnapshot,
  type SiteSnapshot,
} from './model.js';
import { clampPriority, classify, compareSessions, leaveReasonFor, schedule, type Entry } from './scheduler.js';

/** A car's draw caps its maximum only once it has charged this long (ramp first, then steady). */
export const OBSERVE_AFTER_MS = 30_000;
/** ...and only once the limit in force has been in force this long (a raised limit takes a moment to show). */
export const OBSERVE_LIMIT_SETTLE_MS = 10_000;
/** Headroom above a car's observed draw, so a car that could take more gets the chance to show it. */
export const DRAW_MARGIN_A = 2;
/** Planned limits are multiples of this, rounded down so that the plan never exceeds the budget. */
export const STEP_A = 0.1;

const NONE = Number.NEGATIVE_INFINITY;

interface Cand {
  s: SessionSnapshot;
  prio: number;
  /** W per A of limit (phases x voltage); undefined for an on/off block. */
  wPerA?: number;
  minA: number;
  maxA: number;
  /** Power at the minimum (on/off: the whole block). */
  minW: number;
  isOn: boolean;
  onLockUntil: number;
  offLockUntil: number;
  holdKind: 'pause' | 'hold_disabled';
  /** Power the limit in force lets the car draw now (0 while held). */
  inForceW: number;
  locked: boolean;
  lockBroken: boolean;
  admitted: boolean;
  allocA: number;
  allocW: number;
  /** Power left for this session's level once higher levels had theirs, W. */
  levelLeftW: number;
  heldCode?: ReasonCode;
  /** When this session's maximum starts to follow its observed draw. */
  observeAt?: number;
}

interface Leave {
  s: SessionSnapshot;
  prio: number;
  code: ReasonCode;
  w: number;
  reason: string;
}

function phasesOf(s: SessionSnapshot): number {
  return Number.isFinite(s.phases) && s.phases >= 1 ? Math.min(3, Math.round(s.phases)) : 3;
}

function measuredOf(s: SessionSnapshot): number | undefined {
  const m = s.measuredPowerW;
  return m !== undefined && Number.isFinite(m) ? Math.max(0, m) : undefined;
}

const finite = (x: number | undefined, fallback: number): number => (x !== undefined && Number.isFinite(x) ? x : fallback);

/** A current-controlled session: a candidate for a current, or one the plan leaves alone. */
function classifyCurrent(s: SessionSnapshot, voltageV: number, config: SchedulerConfig, nowMs: number): Cand | Leave {
  const cc = s.current!;
  const prio = clampPriority(s.priority);
  const wPerA = phasesOf(s) * voltageV;
  const measured = measuredOf(s);
  const evseMaxA = Math.max(0, finite(cc.evseMaxA, 0));
  const minA = Math.max(0, finite(cc.minA, 6));
  const leave = (code: ReasonCode, w: number): Leave => ({ s, prio, code, w, reason: leaveReasonFor(s, code, w) });
  if (!s.online) {
    const w = measured ?? (s.evseState === 'Charging' && !s.pausedByUs ? Math.min(finite(cc.limitA, evseMaxA), evseMaxA) * wPerA : 0);
    return leave('offline', w);
  }
  const granted = s.grantedAtMs !== undefined && nowMs < s.grantedAtMs + config.reservationTimeoutS * 1000;
  switch (s.evseState) {
    case 'ChargingPausedEV':
      return leave('paused_by_ev', 0);
    case 'Unplugged':
    case 'Finished':
    case 'FinishedEV':
    case 'FinishedEVSE':
    case 'AuthTimeout':
      return leave('no_session', 0);
    case 'AuthRequired':
    case 'Reserved':
      return leave('not_ready', 0);
    case 'Unknown':
      return leave('unknown_state', measured ?? 0);
    case 'Disabled':
      return leave('disabled_by_others', 0);
    case 'ChargingPausedEVSE':
      // Held by our limit, or our raised limit has not shown yet: ours. Otherwise someone else paused it.
      if (!s.pausedByUs && !granted && !s.commandInFlight) return leave('paused_by_others', 0);
      break;
    case 'Charging':
    case 'Preparing':
    case 'WaitingForEnergy':
      break;
    default:
      return leave('unknown_state', measured ?? 0);
  }

  let maxA = Math.min(evseMaxA, finite(cc.evMaxA, Number.POSITIVE_INFINITY));
  const charging = s.evseState === 'Charging' && !s.pausedByUs;
  let observeAt: number | undefined;
  if (charging && s.lastOnMs !== undefined) {
    observeAt = Math.max(s.lastOnMs + OBSERVE_AFTER_MS, (cc.limitSinceMs ?? NONE) + OBSERVE_LIMIT_SETTLE_MS);
    if (nowMs >= observeAt && measured !== undefined && cc.limitA !== undefined) {
      // Only a car drawing clearly less than its limit shows its own maximum; one at its limit may want more.
      const observedA = measured / wPerA + DRAW_MARGIN_A;
      if (observedA < cc.limitA) maxA = Math.min(maxA, observedA);
    }
  }
  maxA = Math.max(maxA, Math.min(minA, evseMaxA));
  const limitInForce = s.pausedByUs ? 0 : Math.min(finite(cc.limitA, evseMaxA), maxA);
  const isOn = charging;
  return {
    s,
    prio,
    wPerA,
    minA,
    maxA,
    minW: minA * wPerA,
    isOn,
    onLockUntil: isOn && s.lastOnMs !== undefined ? Math.max(s.lastOnMs, s.grantedAtMs ?? NONE) + config.minOnTimeS * 1000 : NONE,
    offLockUntil: s.pausedByUs && s.lastOffMs !== undefined && s.lastOnMs !== undefined ? s.lastOffMs + config.minOffTimeS * 1000 : NONE,
    holdKind: 'pause',
    inForceW: (charging ? Math.min(limitInForce * wPerA, measured ?? Number.POSITIVE_INFINITY) : 0) || 0,
    locked: false,
    lockBroken: false,
    admitted: false,
    allocA: 0,
    allocW: 0,
    levelLeftW: 0,
    ...(observeAt !== undefined && observeAt > nowMs ? { observeAt } : {}),
  };
}

/** An on/off session in a mixed site: an indivisible block of its expected draw. */
function fromOnOff(e: Entry): Cand | Leave {
  if (e.leave) return { s: e.s, prio: e.prio, code: e.leaveCode, w: e.expW, reason: leaveReasonFor(e.s, e.leaveCode, e.expW) };
  return {
    s: e.s,
    prio: e.prio,
    minA: 0,
    maxA: 0,
    minW: e.expW,
    isOn: e.isOn,
    onLockUntil: e.onLockUntil,
    offLockUntil: e.offLockUntil,
    holdKind: e.holdKind,
    inForceW: e.isOn ? e.drawW : 0,
    locked: false,
    lockBroken: false,
    admitted: false,
    allocA: 0,
    allocW: 0,
    levelLeftW: 0,
  };
}

const isLeave = (x: Cand | Leave): x is Leave => 'code' in x;
const kw = (w: number): string => `${(Math.max(0, w) / 1000).toFixed(1)} kW`;
const amps = (a: number): string => `${a.toFixed(1)} A`;
const secondsLeft = (untilMs: number, nowMs: number): number => Math.ceil((untilMs - nowMs) / 1000);

/**
 * Shares `extraW` among `cands` (already at their minimum) equally in current, each up to its maximum:
 * everyone ends at min(max, max(min, level)) for the one level that spends what there is. Returns what
 * was spent.
 */
function waterFill(cands: readonly Cand[], extraW: number): number {
  const cur = cands.filter((c) => c.wPerA !== undefined);
  if (cur.length === 0 || extraW <= 0) return 0;
  let minSum = 0;
  let maxSum = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const c of cur) {
    minSum += c.minA * c.wPerA!;
    maxSum += c.maxA * c.wPerA!;
    lo = Math.min(lo, c.minA);
    hi = Math.max(hi, c.maxA);
  }
  const total = minSum + extraW;
  const at = (level: number): number => {
    let sum = 0;
    for (const c of cur) sum += Math.min(c.maxA, Math.max(c.minA, level)) * c.wPerA!;
    return sum;
  };
  let level = hi;
  if (maxSum > total) {
    // f(level) is non-decreasing and piecewise linear: bisection to well below a step is exact enough.
    for (let i = 0; i < 40 && hi - lo > STEP_A / 100; i++) {
      const mid = (lo + hi) / 2;
      if (at(mid) <= total) lo = mid;
      else hi = mid;
    }
    level = lo;
  }
  let spent = 0;
  for (const c of cur) {
    const exact = Math.min(c.maxA, Math.max(c.minA, level));
    const a = Math.max(c.minA, Math.round(Math.floor(exact / STEP_A + 1e-9) * STEP_A * 1000) / 1000);
    spent += (a - c.minA) * c.wPerA!;
    c.allocA = a;
    c.allocW = a * c.wPerA!;
  }
  return spent;
}

/**
 * Plan the site: strict priority levels from the highest; within a level, in arrival order, each
 * session is admitted while it can get its minimum (an on/off session: its whole rating); the level's
 * admitted current-controlled sessions then share what is left equally up to each one's maximum, and
 * only then does the next level get anything. `sharing: 'minimum_first'` admits every level's minimums
 * first (in priority order) and tops up by level afterwards.
 *
 * Windows: a running session inside its min on-time keeps its minimum reserved ahead of everyone (a
 * budget drop breaks those reservations, lowest priority first); a session we hold is not admitted
 * again inside its min off-time. Outside the windows nobody lower keeps power a higher one can use.
 */
export function allocate(site: SiteSnapshot, config: SchedulerConfig, nowMs: number): ScheduleResult {
  if (!site.sessions.some((s) => s.current !== undefined)) return schedule(site, config, nowMs);
  const budget = Number.isFinite(site.maxPowerW) ? Math.max(0, site.maxPowerW) : 0;
  const tol = Math.max(0, config.overrunToleranceW);
  const voltage = site.nominalVoltageV;
  const sorted = [...site.sessions].sort(compareSessions);

  const leaves: Leave[] = [];
  const cands: Cand[] = [];
  const all: Array<Cand | Leave> = [];
  let uncontrolled = 0;
  for (const s of sorted) {
    const x = s.current !== undefined ? classifyCurrent(s, voltage, config, nowMs) : fromOnOff(classify(s, voltage, config, nowMs));
    all.push(x);
    if (isLeave(x)) {
      leaves.push(x);
      uncontrolled += x.w;
    } else cands.push(x);
  }

  // Reservations of running sessions inside their min on-time; a budget below them breaks the lowest first.
  let lockedW = 0;
  for (const c of cands) {
    if (c.isOn && c.onLockUntil > nowMs) {
      c.locked = true;
      lockedW += c.minW;
    }
  }
  for (let i = cands.length - 1; i >= 0 && uncontrolled + lockedW > budget + tol; i--) {
    const c = cands[i]!;
    if (!c.locked) continue;
    c.locked = false;
    c.lockBroken = true;
    lockedW -= c.minW;
  }

  let free = budget - uncontrolled - lockedW;
  let inForce = uncontrolled;
  for (const c of cands) inForce += c.inForceW;

  const tryAdmit = (c: Cand): void => {
    if (c.locked) {
      c.admitted = true;
    } else if (c.offLockUntil > nowMs) {
      c.heldCode = 'min_off_time';
    } else if (c.minW <= free + (c.wPerA === undefined ? tol : 1e-6)) {
      c.admitted = true;
      free -= c.minW;
    } else {
      c.heldCode = c.lockBroken ? 'overrun' : 'over_budget';
    }
    if (c.admitted) {
      c.allocA = c.minA;
      c.allocW = c.minW;
    }
  };

  // Levels: runs of equal priority in scheduling order.
  const levels: Cand[][] = [];
  for (const c of cands) {
    const last = levels[levels.length - 1];
    if (last !== undefined && last[0]!.prio === c.prio) last.push(c);
    else levels.push([c]);
  }
  const lockedIn = (level: readonly Cand[]): number => level.reduce((sum, c) => sum + (c.locked ? c.minW : 0), 0);
  const minimumFirst = config.sharing === 'minimum_first';
  if (minimumFirst) {
    for (const c of cands) tryAdmit(c);
  }
  let starved = false;
  for (const level of levels) {
    // A level short of its maximum (someone held or shared down) leaves nothing to the levels below
    // it, not even rounding crumbs: only reserved minimums (min on-time) stay below.
    if (starved) free = Math.min(free, 0);
    const leftW = free + lockedIn(level) + (minimumFirst ? level.reduce((sum, c) => sum + (c.admitted && !c.locked ? c.minW : 0), 0) : 0);
    for (const c of level) {
      c.levelLeftW = leftW;
      if (!minimumFirst) tryAdmit(c);
    }
    free -= waterFill(
      level.filter((c) => c.admitted),
      free,
    );
    for (const c of level) {
      const short = c.admitted ? c.wPerA !== undefined && c.allocA < c.maxA - STEP_A : c.heldCode !== 'min_off_time';
      if (short) starved = true;
    }
  }

  // Decisions, in scheduling order.
  const decisions: Decision[] = [];
  let plannedW = 0;
  let nextReview = Number.POSITIVE_INFINITY;
  /** Some session earlier in scheduling order got less than its maximum. */
  let shortAbove = false;
  for (const x of all) {
    const d: Decision = {
      key: x.s.key,
      moduleId: x.s.moduleId,
      connectorId: x.s.connectorId,
      decision: 'leave',
      reason: '',
      reasonCode: 'no_session',
      expectedW: 0,
      demandW: 0,
      priority: x.prio,
    };
    if (isLeave(x)) {
      d.reason = x.reason;
      d.reasonCode = x.code;
      d.expectedW = x.w;
      d.demandW = x.w;
    } else {
      let review: number | undefined;
      d.demandW = x.wPerA !== undefined ? x.maxA * x.wPerA : x.minW;
      if (x.admitted) {
        d.decision = 'charge';
        d.expectedW = x.allocW;
        if (x.wPerA !== undefined) {
          d.currentA = x.allocA;
          const atMax = x.allocA >= x.maxA - 1e-9;
          d.reasonCode = atMax ? 'fits' : 'share';
          d.reason = `${amps(x.allocA)}${atMax ? ' (its maximum)' : ''}: priority ${x.prio}, ${kw(x.levelLeftW)} left after higher priorities`;
        } else {
          d.reasonCode = 'fits';
          d.reason = `priority ${x.prio} fits: ${Math.round(x.minW)} W, ${kw(x.levelLeftW)} left after higher priorities`;
        }
        if (x.locked && shortAbove && x.allocA <= x.minA) {
          d.reasonCode = 'min_on_time';
          d.reason = `${x.wPerA !== undefined ? amps(x.allocA) : `${Math.round(x.minW)} W`}: min on-time, ${secondsLeft(x.onLockUntil, nowMs)} s left`;
        }
        if (x.locked) review = x.onLockUntil;
        if (x.observeAt !== undefined) review = Math.min(review ?? Number.POSITIVE_INFINITY, x.observeAt);
        if (x.wPerA !== undefined && x.allocA < x.maxA - STEP_A) shortAbove = true;
      } else {
        shortAbove = true;
        d.decision = x.holdKind;
        d.reasonCode = x.heldCode ?? 'over_budget';
        if (x.wPerA !== undefined) d.currentA = 0;
        const held = x.wPerA !== undefined ? 'held at 0 A' : 'paused';
        const needs = x.wPerA !== undefined ? `${amps(x.minA)} (${kw(x.minW)})` : kw(x.minW);
        if (d.reasonCode === 'min_off_time') {
          d.reason = `${held}: min off-time, ${secondsLeft(x.offLockUntil, nowMs)} s left`;
          review = x.offLockUntil;
        } else if (d.reasonCode === 'overrun') {
          d.reason = `${held}: the budget (${kw(budget)}) is below the minimums of the running sessions; lowest priorities first`;
        } else {
          d.reason = `${held}: priority ${x.prio} needs ${needs}, ${kw(x.levelLeftW)} left after higher priorities`;
        }
      }
      if (review !== undefined && Number.isFinite(review) && review > nowMs) {
        d.nextReviewAtMs = review;
        if (review < nextReview) nextReview = review;
      }
    }
    plannedW += d.expectedW;
    decisions.push(d);
  }

  const result: ScheduleResult = { decisions, plannedW, uncontrolledW: uncontrolled, urgentDecrease: inForce > budget + tol };
  if (Number.isFinite(nextReview)) result.nextReviewAtMs = nextReview;
  return result;
}
