// The priority scheduler: snapshot + config + now -> one decision per connector. Pure (no I/O, no
// clock) so that the same inputs always give the same decisions, whatever the input order.
import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN } from '../priorities/model.js';
import { foreignPauseCode } from './pause-reasons.js';
import { isLeftAlone, leftAlone, measuredDrawW } from './session-state.js';
import {
  FALLBACK_CURRENT_A,
  type Decision,
  type DecisionKind,
  type ReasonCode,
  type ScheduleResult,
  type SchedulerConfig,
  type SessionSnapshot,
  type SiteSnapshot,
} from './model.js';

/** A reservation ends once the meter shows this share of it; cars rarely draw their nominal power exactly. */
export const RESERVATION_SHOWN_RATIO = 0.9;

const NONE = Number.NEGATIVE_INFINITY;

export function clampPriority(priority: number): number {
  if (!Number.isFinite(priority)) return PRIORITY_DEFAULT;
  return Math.max(PRIORITY_MIN, Math.min(PRIORITY_MAX, Math.trunc(priority)));
}

function arrivalOf(s: SessionSnapshot): number {
  // NaN would make the comparator inconsistent and the order input-dependent.
  return Number.isFinite(s.arrivalMs) ? s.arrivalMs : Number.MAX_VALUE;
}

function compareRest(aArrival: number, bArrival: number, a: SessionSnapshot, b: SessionSnapshot): number {
  if (aArrival !== bArrival) return aArrival - bArrival;
  // Code-unit comparison, not localeCompare: the order must not depend on the host's locale.
  if (a.moduleId !== b.moduleId) return a.moduleId < b.moduleId ? -1 : 1;
  if (a.connectorId !== b.connectorId) return a.connectorId - b.connectorId;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return 0;
}

/** Scheduling order: priority desc, arrival asc, module_id, connector_id. */
export function compareSessions(a: SessionSnapshot, b: SessionSnapshot): number {
  const pa = clampPriority(a.priority);
  const pb = clampPriority(b.priority);
  if (pa !== pb) return pb - pa;
  return compareRest(arrivalOf(a), arrivalOf(b), a, b);
}

/**
 * The sessions in scheduling order (compareSessions), with each key computed once rather than per
 * comparison: the sort was a fifth of allocate()'s time for 1000 sessions.
 */
export function sortSessions(sessions: readonly SessionSnapshot[]): SessionSnapshot[] {
  const keyed = sessions.map((s) => ({ s, p: clampPriority(s.priority), t: arrivalOf(s) }));
  keyed.sort((a, b) => (a.p !== b.p ? b.p - a.p : compareRest(a.t, b.t, a.s, b.s)));
  return keyed.map((k) => k.s);
}

/** What the session would draw if allowed: min(limit, hardware max) x phases x voltage, capped by capW. */
export function nominalPowerW(s: SessionSnapshot, nominalVoltageV: number): number {
  // Unknown phase count: assume three, the larger draw, so the budget errs on the safe side.
  const phases = Number.isFinite(s.phases) && s.phases >= 1 ? Math.min(3, Math.round(s.phases)) : 3;
  let currentA = s.limitCurrentA ?? s.hwMaxCurrentA ?? FALLBACK_CURRENT_A;
  if (s.hwMaxCurrentA !== undefined) currentA = Math.min(currentA, s.hwMaxCurrentA);
  let w = Math.max(0, currentA) * phases * nominalVoltageV;
  if (s.capW !== undefined) w = Math.min(w, Math.max(0, s.capW));
  return Number.isFinite(w) ? w : 0;
}

interface Reservation {
  w: number;
  untilMs: number;
  /** 'grant': power we handed out; 'ramp': a car that restarted by itself, reserved at its rating. */
  kind: 'grant' | 'ramp';
}

/**
 * Power reserved for a session that has just been granted power or has just (re)started charging,
 * until the meter shows it or the reservation times out. Without it, a ramping car looks idle and its
 * headroom would be handed out a second time.
 */
function reservationOf(
  s: SessionSnapshot,
  nominalW: number,
  measured: number | undefined,
  config: SchedulerConfig,
  nowMs: number,
): Reservation | undefined {
  const timeoutMs = config.reservationTimeoutS * 1000;
  let w: number;
  let untilMs: number;
  let kind: Reservation['kind'];
  if (s.grantedAtMs !== undefined && s.grantedW !== undefined && nowMs < s.grantedAtMs + timeoutMs) {
    w = Math.max(0, s.grantedW);
    untilMs = s.grantedAtMs + timeoutMs;
    kind = 'grant';
  } else if (s.evseState === 'Charging' && s.lastOnMs !== undefined && nowMs < s.lastOnMs + timeoutMs) {
    // A car that resumed by itself (after ChargingPausedEV) ramps like one we resumed.
    w = nominalW;
    untilMs = s.lastOnMs + timeoutMs;
    kind = 'ramp';
  } else {
    return undefined;
  }
  if (measured !== undefined && measured >= w * RESERVATION_SHOWN_RATIO) return undefined;
  return { w, untilMs, kind };
}

/**
 * Until when increases wait after our own reconnect: an EVSE heard late would otherwise see its power
 * handed on and taken back (a flap). Over as soon as every EVSE with a session has been heard.
 */
export function reportGraceUntil(site: SiteSnapshot, nowMs: number): number | undefined {
  const until = site.reportGraceUntilMs;
  if (until === undefined || until <= nowMs || site.sessions.every((s) => s.online)) return undefined;
  return until;
}

/** The reason of an increase that waits for the grace above. */
export const graceReason = (untilMs: number, nowMs: number): string =>
  `every EVSE has reported after the broker connection came back (${Math.ceil((untilMs - nowMs) / 1000)} s at most)`;

type HoldKind = 'pause' | 'hold_disabled';

/** One session as the on/off rules see it (shared with the current allocator). */
export interface Entry {
  s: SessionSnapshot;
  prio: number;
  arrival: number;
  leave: boolean;
  leaveCode: ReasonCode;
  /** leave: the uncontrolled draw counted; candidate: the draw counted if it charges. */
  expW: number;
  /** Candidate currently allowed to draw (charging or granted), as opposed to waiting. */
  isOn: boolean;
  /** Physical draw now; a session being paused still draws until EVerest confirms. */
  drawW: number;
  holdKind: HoldKind;
  onLockUntil: number;
  offLockUntil: number;
  reservationUntil: number;
  /** What counts toward an overrun: expW, except the meter for a car ramping by itself. */
  overrunW: number;
  /** Position in allocation order (candidates only). */
  ci: number;
}

function leaveEntry(s: SessionSnapshot, prio: number, code: ReasonCode, w: number): Entry {
  return {
    s,
    prio,
    arrival: arrivalOf(s),
    leave: true,
    leaveCode: code,
    expW: w,
    isOn: false,
    drawW: w,
    holdKind: 'pause',
    onLockUntil: NONE,
    offLockUntil: NONE,
    reservationUntil: NONE,
    overrunW: w,
    ci: -1,
  };
}

/**
 * What an on/off EVSE we cannot hear may draw: a car that was charging keeps charging (a pause of ours
 * may not have reached it), one about to start or with our resume on its way may start. Its power stays
 * reserved until we hear it again: at its rating (capped by what this car has shown it takes), or at
 * its last meter value if that is more; handed on, it would be taken back the moment the EVSE is heard
 * (a flap after a broker outage, when the heartbeats come back one by one). A car held by us, paused by
 * someone else or by itself counts as when heard.
 */
function offlineDrawW(s: SessionSnapshot, nominalW: number, measured: number | undefined): number {
  const state = s.evseState;
  if (isLeftAlone(state)) return leftAlone(state, measured).w;
  const resuming = (state === 'ChargingPausedEVSE' || state === 'Disabled') && !s.pausedByUs && (s.grantedAtMs !== undefined || s.commandInFlight);
  const mayDraw = state === 'Charging' || resuming || (!s.pausedByUs && (state === 'Preparing' || state === 'WaitingForEnergy'));
  return mayDraw ? Math.max(measured ?? 0, nominalW) : 0;
}

export function classify(s: SessionSnapshot, voltageV: number, config: SchedulerConfig, nowMs: number): Entry {
  const prio = clampPriority(s.priority);
  const nominalW = nominalPowerW(s, voltageV);
  const measured = measuredDrawW(s.measuredPowerW);
  const state = s.evseState;

  if (!s.online) return leaveEntry(s, prio, 'offline', offlineDrawW(s, nominalW, measured));

  if (isLeftAlone(state)) {
    const { code, w } = leftAlone(state, measured);
    return leaveEntry(s, prio, code, w);
  }
  let isOn: boolean;
  switch (state) {
    case 'Disabled':
    case 'ChargingPausedEVSE': {
      if (s.pausedByUs) {
        isOn = false;
        break;
      }
      // Not paused by us: either our resume/enable is on its way (granted or in flight), or another
      // party (user pause, EVerest's own energy management, OCPP) stopped it and we keep out.
      const granted = s.commandInFlight || reservationOf(s, nominalW, measured, config, nowMs) !== undefined;
      if (!granted) return leaveEntry(s, prio, state === 'Disabled' ? 'disabled_by_others' : foreignPauseCode(s.pauseReasons), 0);
      isOn = true;
      break;
    }
    case 'Charging':
      isOn = !s.pausedByUs;
      break;
    case 'Preparing':
    case 'WaitingForEnergy':
      // Not drawing yet: only "on" once we granted it, so a newcomer never counts as an overrun that
      // would break another session's min on-time.
      isOn = !s.pausedByUs && reservationOf(s, nominalW, measured, config, nowMs) !== undefined;
      break;
    default: {
      // A state added upstream after this was written: keep out of it, but count what it draws.
      const _exhaustive: never = state;
      return leaveEntry(s, prio, 'unknown_state', measured ?? 0);
    }
  }

  const res = isOn ? reservationOf(s, nominalW, measured, config, nowMs) : undefined;
  let expW: number;
  if (res !== undefined) expW = Math.max(measured ?? 0, res.w);
  else if (state === 'Charging' && isOn) expW = measured ?? nominalW;
  // Being paused by us (still Charging): what letting it charge costs is what resuming would, not a
  // meter that may show a car that had only just started (else another car is started on its power).
  else expW = Math.max(measured ?? 0, nominalW);

  let onLockUntil = NONE;
  if (isOn) {
    const since = Math.max(s.lastOnMs ?? NONE, s.grantedAtMs ?? NONE);
    if (since !== NONE) onLockUntil = since + config.minOnTimeS * 1000;
  }
  let offLockUntil = NONE;
  // The off window protects a car that was charging; holding a newcomer before its first charge does
  // not arm it (else a brief hold while another session drains would lock the newcomer out).
  if (!isOn && s.pausedByUs && s.lastOffMs !== undefined && s.lastOnMs !== undefined) {
    offLockUntil = s.lastOffMs + config.minOffTimeS * 1000;
  }

  return {
    s,
    prio,
    arrival: arrivalOf(s),
    leave: false,
    leaveCode: 'no_session',
    expW,
    isOn,
    drawW: state === 'Charging' ? (measured ?? nominalW) : 0,
    // Only a hold we already have stays a disable: EVerest ends the session (Deauthorized,
    // SessionFinished) when an EVSE disabled mid-session is enabled again, so a session is paused.
    holdKind: state === 'Disabled' && s.pausedByUs ? 'hold_disabled' : 'pause',
    onLockUntil,
    offLockUntil,
    reservationUntil: res !== undefined ? res.untilMs : NONE,
    // A ramp reservation is sized from the EVSE's rating, which may exceed what the car can draw:
    // judged on it, a running car could be paused for power nobody draws.
    overrunW: res?.kind === 'ramp' && measured !== undefined ? measured : expW,
    ci: -1,
  };
}

/**
 * The power `schedule` counts for a session: for one it leaves alone, the uncontrolled draw; otherwise
 * what it draws (or would draw) while charging. Exposed so simulations and the API measure with the
 * scheduler's own yardstick.
 */
export function expectedDrawW(s: SessionSnapshot, nominalVoltageV: number, config: SchedulerConfig, nowMs: number): number {
  return classify(s, nominalVoltageV, config, nowMs).expW;
}

export function compareEntries(a: Entry, b: Entry): number {
  if (a.prio !== b.prio) return b.prio - a.prio;
  return compareRest(a.arrival, b.arrival, a.s, b.s);
}

const w = (x: number): string => `${Math.round(x)} W`;
const secondsLeft = (untilMs: number, nowMs: number): number => Math.ceil((untilMs - nowMs) / 1000);
const label = (e: Entry): string => `p${e.prio} ${e.s.key}`;

/** Index of the first element of ascending `xs` greater than `x`. */
function firstAbove(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// A plain literal, not a spread: V8 takes a slow generic path for `{ ...base, more }`, which made this
// object the dominant cost of a 1000-session run.
function makeDecision(e: Entry, decision: DecisionKind, reason: string, reasonCode: ReasonCode, expectedW: number): Decision {
  return {
    key: e.s.key,
    moduleId: e.s.moduleId,
    connectorId: e.s.connectorId,
    decision,
    reason,
    reasonCode,
    expectedW,
    demandW: e.expW,
    priority: e.prio,
  };
}

function leaveReason(e: Entry): string {
  return leaveReasonFor(e.s, e.leaveCode, e.expW);
}

/** Why the plan leaves a session alone, for operators. */
export function leaveReasonFor(s: SessionSnapshot, code: ReasonCode, countedW: number): string {
  switch (code) {
    case 'offline':
      return `offline (stale heartbeat): left alone, counted at ${w(countedW)}`;
    case 'paused_by_ev':
      return 'paused by the car: its power is free for others';
    case 'paused_by_others':
      return s.pauseReasons?.includes('UserPause') ? 'paused on the EVSE side by a person (UserPause): left alone' : 'paused on the EVSE side by someone else: left alone';
    case 'paused_no_energy':
      return "paused by EVerest's energy manager (NoEnergy): it resumes by itself once 6 A are available";
    case 'paused_fault':
      return 'paused by a fault on the EVSE (Error): left alone';
    case 'disabled_by_others':
      return 'disabled by another source: left alone';
    case 'not_ready':
      return `${s.evseState}: not ready to charge yet`;
    case 'unknown_state':
      return `state unknown: left alone, counted at ${w(countedW)}`;
    default:
      return `${s.evseState}: no session`;
  }
}

/**
 * Decide which sessions charge.
 *
 * Power is handed out in scheduling order, except that within one priority what already runs goes
 * before what waits (no preemption among equals). Decisions are returned in scheduling order.
 *
 * 1. Overrun: if what is on (plus uncontrolled draw) exceeds budget + tolerance, pause the lowest
 *    priorities first until under budget, regardless of min on-time.
 * 2. Plan without windows (U): the greedy in allocation order, as if every window had expired. A
 *    session already on keeps its power within the tolerance when only meter drift above its rating
 *    would push it out (deadband), unless new power was handed out before it in this round; a
 *    waiting one must fit the budget itself.
 * 3. Plan with windows (C): sessions inside their min on-time keep their power; the rest is handed
 *    out by the same greedy, except that a waiting session starts only if U starts it too and its
 *    min off-time is over. Starting one U would stop means stopping it again when the window ends
 *    (a flap); its power stays free for the higher priority that waits for the window instead.
 *    Running sessions U keeps are committed with the locked ones, so a higher priority waits for the
 *    window of the session it will replace rather than pausing another and swapping back later.
 * 4. Break before make: a waiting session planned on starts only if the power still flowing from
 *    sessions being paused leaves room for it; otherwise it waits for them (event-driven).
 */
export function schedule(site: SiteSnapshot, config: SchedulerConfig, nowMs: number): ScheduleResult {
  const budget = Number.isFinite(site.maxPowerW) ? Math.max(0, site.maxPowerW) : 0;
  const tol = Math.max(0, config.overrunToleranceW);
  const voltage = site.nominalVoltageV;

  const entries = site.sessions.map((s) => classify(s, voltage, config, nowMs));
  entries.sort(compareEntries);

  let uncontrolled = 0;
  const ordered: Entry[] = [];
  for (const e of entries) {
    if (e.leave) uncontrolled += e.expW;
    else ordered.push(e);
  }
  const n = ordered.length;
  // Allocation follows the scheduling order itself (priority, then arrival): when a priority is
  // deleted or lowered, the earlier arrival it overtook gets its place back once windows allow.
  const cands: Entry[] = ordered;
  for (let i = 0; i < n; i++) cands[i]!.ci = i;

  // 1. Overrun, judged on what the meters show where there is a meter: a reservation for a ramping car is a planning
  //    figure, and pausing a running car because of it would be a pause for power nobody draws.
  const overrunW = (c: Entry): number => c.overrunW;
  const shed = new Uint8Array(n);
  let onSum = uncontrolled;
  for (const c of cands) if (c.isOn) onSum += overrunW(c);
  const onSumBefore = onSum;
  if (onSum > budget + tol) {
    const shedOrder: number[] = [];
    for (let i = n - 1; i >= 0 && onSum > budget; i--) {
      const c = cands[i]!;
      if (!c.isOn) continue;
      shed[i] = 1;
      onSum -= overrunW(c);
      shedOrder.push(i);
    }
    // Lowest-first can overshoot (a small car, then a big one): give back what still fits, highest first.
    for (let k = shedOrder.length - 1; k >= 0; k--) {
      const i = shedOrder[k]!;
      const c = cands[i]!;
      if (onSum + overrunW(c) <= budget) {
        shed[i] = 0;
        onSum += overrunW(c);
      }
    }
  }

  // Everything is planned within budget + tolerance, the same line the overrun rule draws: ratings
  // are rounded figures (16 A x 3 x 230 V = 11 040 W for an 11 kW car), and a strict fit would keep
  // the second car of a 22 kW site waiting forever for 40 W. Above that line step 1 sheds at once.
  const fits = (c: Entry, rem: number): boolean => c.expW <= rem + tol;

  // 2. Without windows (U).
  const planU = new Uint8Array(n);
  const remU = new Float64Array(n);
  {
    let rem = budget - uncontrolled;
    for (let i = 0; i < n; i++) {
      const c = cands[i]!;
      remU[i] = rem;
      if (shed[i]) continue;
      if (fits(c, rem)) {
        planU[i] = 1;
        rem -= c.expW;
      }
    }
  }

  // 3. With windows (C).
  const planC = new Uint8Array(n);
  const remC = new Float64Array(n);
  {
    let rem = budget - uncontrolled;
    // Running sessions inside their min on-time, and those U keeps, are committed first: a higher
    // priority then waits for the window of the session U would replace, instead of pausing another
    // running one now and swapping back when that window ends (a flap).
    for (let i = 0; i < n; i++) {
      const c = cands[i]!;
      if (c.isOn && !shed[i] && (c.onLockUntil > nowMs || planU[i] === 1)) {
        planC[i] = 1;
        rem -= c.expW;
      }
    }
    for (let i = 0; i < n; i++) {
      const c = cands[i]!;
      if (shed[i] || planC[i]) continue;
      remC[i] = rem;
      const on = c.isOn ? fits(c, rem) : planU[i] === 1 && c.offLockUntil <= nowMs && fits(c, rem);
      if (on) {
        planC[i] = 1;
        rem -= c.expW;
      }
    }
  }

  let earliestLock = Number.POSITIVE_INFINITY;
  let earliestReservation = Number.POSITIVE_INFINITY;
  let plansDiffer = false;
  let firstTurnOn = n;
  let committed = uncontrolled;
  let drainingW = 0;
  for (let i = 0; i < n; i++) {
    const c = cands[i]!;
    if (c.onLockUntil > nowMs && c.onLockUntil < earliestLock) earliestLock = c.onLockUntil;
    if (c.offLockUntil > nowMs && c.offLockUntil < earliestLock) earliestLock = c.offLockUntil;
    if (c.reservationUntil > nowMs && c.reservationUntil < earliestReservation) earliestReservation = c.reservationUntil;
    if (planC[i] !== planU[i]) plansDiffer = true;
    if (planC[i]) {
      if (c.isOn) committed += c.expW;
      else if (i < firstTurnOn) firstTurnOn = i;
    } else {
      drainingW += c.drawW;
    }
  }
  committed += drainingW;

  // 4. Break before make; after our reconnect, nobody starts before every EVSE has reported.
  const grace = reportGraceUntil(site, nowMs);
  const awaiting = new Uint8Array(n);
  for (let i = firstTurnOn; i < n; i++) {
    const c = cands[i]!;
    if (!planC[i] || c.isOn) continue;
    if (grace === undefined && committed + c.expW <= budget + tol) committed += c.expW;
    else awaiting[i] = 1;
  }

  // Reasons name the sessions holding the power; the first three planned-on sessions are enough for that.
  const firstOn: number[] = [];
  for (let i = 0; i < n && firstOn.length < 3; i++) if (planC[i]) firstOn.push(i);
  const lockedOn: number[] = [];
  for (let i = 0; i < n; i++) if (!shed[i] && cands[i]!.onLockUntil > nowMs) lockedOn.push(i);
  // Planned-on sessions ahead of each one in allocation order, for "+N more" in reasons.
  const onAhead = new Uint32Array(n);
  for (let i = 0, k = 0; i < n; i++) {
    onAhead[i] = k;
    if (planC[i]) k++;
  }

  const decisions: Decision[] = [];
  let plannedW = 0;
  let nextReview = Number.POSITIVE_INFINITY;
  for (const e of entries) {
    if (e.leave) {
      decisions.push(makeDecision(e, 'leave', leaveReason(e), e.leaveCode, e.expW));
      plannedW += e.expW;
      continue;
    }
    const i = e.ci;
    let decision: DecisionKind;
    let code: ReasonCode;
    let reason: string;
    let expectedW = 0;
    let review: number | undefined;

    if (shed[i]) {
      decision = e.holdKind;
      code = 'overrun';
      reason = `overrun: ${w(onSumBefore)} on a ${w(budget)} budget (tolerance ${w(tol)}); pausing lowest priorities first`;
    } else if (planC[i] && awaiting[i]) {
      decision = e.holdKind;
      code = 'awaiting_release';
      if (grace !== undefined) {
        reason = `priority ${e.prio} fits (${w(e.expW)}) once ${graceReason(grace, nowMs)}`;
        review = grace;
      } else reason = `priority ${e.prio} fits (${w(e.expW)}) once ${w(drainingW)} still drawn by sessions being paused stops`;
    } else if (planC[i]) {
      decision = 'charge';
      expectedW = e.expW;
      if (!planU[i] && e.onLockUntil > nowMs) {
        code = 'min_on_time';
        reason = `min on-time: ${secondsLeft(e.onLockUntil, nowMs)} s left`;
        review = e.onLockUntil;
      } else {
        code = 'fits';
        reason = `priority ${e.prio} fits: ${w(e.expW)} of ${w(budget)} budget`;
        if (!planU[i]) reason += ' until a higher priority can start';
      }
    } else {
      decision = e.holdKind;
      if (e.offLockUntil > nowMs && planU[i]) {
        code = 'min_off_time';
        reason = `min off-time: ${secondsLeft(e.offLockUntil, nowMs)} s left`;
        review = e.offLockUntil;
      } else {
        code = e.isOn && firstTurnOn < i ? 'preempted' : 'over_budget';
        const users: string[] = [];
        for (const j of firstOn) if (j < i) users.push(label(cands[j]!));
        if (onAhead[i]! > users.length) users.push(`+${onAhead[i]! - users.length} more`);
        const parts: string[] = [];
        if (users.length > 0) parts.push(`higher priorities (${users.join(', ')})`);
        if (uncontrolled > 0) parts.push(`${w(uncontrolled)} uncontrolled`);
        const after = firstAbove(lockedOn, i);
        const held = lockedOn.slice(after, after + 2).map((j) => `${label(cands[j]!)} in min on-time`);
        if (held.length > 0) parts.push(held.join(', '));
        const left = Math.max(0, planU[i] ? remC[i]! : remU[i]!);
        reason = `waiting: needs ${w(e.expW)}, ${w(left)} left of ${w(budget)} budget${parts.length > 0 ? ` used by ${parts.join('; ')}` : ''}`;
        if (e.offLockUntil > nowMs) reason += `; min off-time: ${secondsLeft(e.offLockUntil, nowMs)} s left`;
        if (planU[i]) {
          review = earliestLock;
        } else if (!e.isOn && e.expW <= remC[i]! && plansDiffer) {
          // Power is free right now only because a higher priority waits for a window to end.
          reason += `; free power kept for higher priorities until ${secondsLeft(earliestLock, nowMs)} s from now`;
          review = earliestLock;
        } else if (earliestReservation !== Number.POSITIVE_INFINITY) {
          review = earliestReservation;
        }
      }
    }
    if (review === undefined && plansDiffer && planC[i] !== planU[i]) review = earliestLock;

    const d = makeDecision(e, decision, reason, code, expectedW);
    if (review !== undefined && Number.isFinite(review)) {
      d.nextReviewAtMs = review;
      if (review < nextReview) nextReview = review;
    }
    decisions.push(d);
    plannedW += expectedW;
  }

  const result: ScheduleResult = { decisions, plannedW, uncontrolledW: uncontrolled };
  if (Number.isFinite(nextReview)) result.nextReviewAtMs = nextReview;
  return result;
}
