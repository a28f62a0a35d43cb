import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import {
  Observable,
  Subject,
  asyncScheduler,
  defaultIfEmpty,
  filter,
  from,
  map,
  of,
  race,
  switchMap,
  take,
  timeout,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { CamelCased, EnforcerConfig as EnforcerSection } from '../config/types.js';
import type { EverestClient } from '../everest/client.js';
import { RequestPublishError, RequestTimeoutError } from '../everest/errors.js';
import type { EnableState } from '../everest/payloads.js';
import { externalLimitsMessage, failsafeLimitsMessage, type ExternalLimits } from '../everest/external-limits.js';
import { isFinal, type ActionOrigin, type ActionRecord, type ActionRequest, type ActionStatus, type ActionType } from './actions.js';
import { limitVerdict, type SentLimit } from './calm.js';
import type { HoldRecord } from '../priorities/holds.js';
import type { InterruptionRecord } from '../priorities/interruptions.js';
import { NO_ESCALATION, ladder, onHoldFailed, type Escalation, type HoldAlarm, type Lever } from './escalation.js';
import type { EvseView } from './evse-view.js';
import { HoldBook, reconcileHold, type HoldLedger } from './holds.js';
import { InterruptionBook, reconcileInterruptions, type InterruptionLedger } from './interruptions.js';
import type { DecisionKind } from './model.js';
import { resumable } from './pause-reasons.js';

/** The slice of the EVerest client the enforcer needs. */
export type CommandPort = Pick<EverestClient, 'request'>;

/** The slice of the EVerest client that carries current limits (EverestClient satisfies it). */
export interface LimitsPort {
  setExternalLimits(limitsModuleId: string, limits: ExternalLimits): void;
}

export interface LimitsOptions {
  port: LimitsPort;
  /** module_id -> limits_module_id, for the EVSEs under current control. */
  modules: ReadonlyMap<string, string>;
  /** Seconds after each message at which its fail-safe entry takes over. */
  failsafeS: number;
  /** An unchanged limit is re-sent this often (well before failsafeS). */
  refreshS: number;
  failsafeCurrentA: number;
}

/** One limit message, for metrics and logs. `why`: a new plan, a refresh, a resend after a restart, the fail-safe at shutdown. */
export interface LimitSent {
  moduleId: string;
  limitsModuleId: string;
  currentA: number;
  why: 'plan' | 'refresh' | 'restart' | 'failsafe';
  atMs: number;
}

/**
 * What we did to an EVSE on the scheduler's behalf: the one owner of "paused by us" (the scheduler's
 * hysteresis relies on it). For an on/off EVSE it changes when a pause/disable or resume/enable goes
 * out (intent counts from sending); for an EVSE under current control when a limit below the minimum
 * (a hold) or back above it goes out.
 */
export interface OurHold {
  pausedByUs: boolean;
  /** When we last paused or held it. */
  lastOffMs?: number;
  /** How often in this session we paused or held it while it was charging (the allocator's protection counts them). */
  interruptions?: number;
  /**
   * Started on power a held higher session could not use (a `leftover` decision) and not admitted
   * normally since: its hold is a yield, not an interruption.
   */
  provisional?: boolean;
  /** How often in this session a provisional start ended in such a yield. */
  provisionalYields?: number;
  /** Power handed to a car about to (re)start, reserved until its meter shows it. */
  grant?: { atMs: number; w: number };
}

/** The `enforcer` section of the configuration, plus what the composition root derives from it. */
export type EnforcerConfig = Omit<CamelCased<EnforcerSection>, 'escalateAfterFailures'> & {
  /** After a rejection the same command is not derived again for this long (no hammering). */
  rejectCooldownMs: number;
  /** Failed holds on one lever before the next is tried (see escalation.ts); default 2. */
  escalateAfterFailures?: number;
};

export interface EnforcerOptions {
  port: CommandPort;
  config: EnforcerConfig;
  views$: Observable<EvseView>;
  view: (moduleId: string) => EvseView | undefined;
  isCommandable: (moduleId: string) => boolean;
  logger: Logger;
  scheduler?: SchedulerLike;
  /** Current control through external limits modules; absent: every EVSE is on/off only. */
  limits?: LimitsOptions;
  /** Where holds are kept across restarts; absent: in memory only. */
  holds?: HoldLedger;
  /** Where each session's interruption count is kept across restarts; absent: in memory only. */
  interruptions?: InterruptionLedger;
  /** Doubt an EVSE's state: the next session_info is taken as the truth (an event may be lost). */
  doubt?: (moduleId: string) => void;
}

/** The limit side of a lane (EVSEs with a limits module). */
interface LimitLane {
  limitsModuleId: string;
  minA: number;
  plannedA?: number;
  /** The limits in force exceed the budget: even a small decrease goes at once. */
  urgent: boolean;
  /** The limit in force: what we last sent. */
  sent?: SentLimit;
  /** When the limit was last raised (refreshes and decreases do not move it). */
  raisedAtMs?: number;
  timer?: Subscription;
  /** The planned limit is a provisional (`leftover`) admission: a start on it is provisional. */
  leftover?: boolean;
  /** A new limit not yet confirmed by an enforced_limits that arrived after it: no increase goes out meanwhile. */
  pending?: { currentA: number; sentAtMs: number; timer: Subscription };
}

/** Our own enable_disable entry in EVerest's per-source table, as far as we know it. */
type Claim = 'unknown' | 'none' | 'disable' | 'enable';

interface Lane {
  moduleId: string;
  desired?: DecisionKind;
  queue: ActionRecord[];
  inFlight?: ActionRecord;
  /** Read-only requests (get_evse) waiting for the lane; they take turns with commands. */
  queries: Array<() => void>;
  queryInFlight: boolean;
  work?: Subscription;
  claim: Claim;
  /** A person's explicit pause or block: the scheduler's wishes wait until it is lifted. */
  manual?: 'pause' | 'disable';
  cooldown?: { type: ActionType; untilMs: number };
  last?: ActionRecord;
  hold: OurHold;
  /** Power the scheduler's last 'charge' wish counts for this EVSE (becomes the grant when a resume goes out). */
  desiredW: number;
  limit?: LimitLane;
  /** The hold as written to the store; `restored` until EVerest's reported state confirmed it after a restart. */
  stored?: HoldRecord;
  restored?: boolean;
  /** The session's interruption count as written to the store; `countRestored` until EVerest's state confirmed it after a restart. */
  counted?: InterruptionRecord;
  countRestored?: boolean;
  escalation: Escalation;
}

const NO_HOLD: Readonly<OurHold> = Object.freeze({ pausedByUs: false });

/** What a hold ending keeps for the rest of the session: when it began, and how often we interrupted. */
function kept(hold: Readonly<OurHold>): Pick<OurHold, 'lastOffMs' | 'interruptions' | 'provisionalYields'> {
  return { ...(hold.lastOffMs !== undefined ? { lastOffMs: hold.lastOffMs } : {}), ...counts(hold.interruptions, hold.provisionalYields) };
}

/** A session's counts as OurHold carries them (absent = 0). */
function counts(interruptions: number | undefined, provisionalYields: number | undefined): Pick<OurHold, 'interruptions' | 'provisionalYields'> {
  return { ...(interruptions ? { interruptions } : {}), ...(provisionalYields ? { provisionalYields } : {}) };
}

class ActionRejected extends Error {}
/** A pause, resume or stop answered `false`: the EVSE's state may say otherwise (a lost event, a retry of a done command). */
class AnsweredFalse extends ActionRejected {}
class ConfirmTimeout extends Error {}

const FINISHED_STATES = new Set(['Finished', 'FinishedEVSE', 'FinishedEV', 'Unplugged']);

/** enforced_limits above our limit by more than this means EVerest did not take it (rounding aside). */
const LIMIT_TOLERANCE_A = 0.1;

/**
 * Turns wishes (scheduler decisions, API actions) into EVerest commands with one command in flight
 * per EVSE: the next goes out only after the reply AND the confirming state change (or a timeout).
 */
export class Enforcer {
  private readonly lanes = new Map<string, Lane>();
  private readonly actions = new Map<string, ActionRecord>();
  private readonly actionSubject = new Subject<ActionRecord>();
  private readonly limitSubject = new Subject<LimitSent>();
  private readonly alarmSubject = new Subject<HoldAlarm>();
  private readonly book: HoldBook;
  private readonly countBook: InterruptionBook;
  private readonly scheduler: SchedulerLike;
  private readonly viewSub: Subscription;
  private readonly log: Logger;
  private disposed = false;
  /** Set once the fail-safe went out at shutdown: no limit may follow it. */
  private failsafeSent = false;

  /** Every status change of every action. */
  readonly actions$ = this.actionSubject.asObservable();
  /** Every limit message sent. */
  readonly limits$ = this.limitSubject.asObservable();
  /** An EVSE ignores our holds (raised, with the next lever) or holds again (cleared). */
  readonly alarms$ = this.alarmSubject.asObservable();

  constructor(private readonly options: EnforcerOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.log = options.logger;
    this.book = new HoldBook(options.holds, options.logger);
    this.countBook = new InterruptionBook(options.interruptions, options.logger);
    this.viewSub = options.views$.subscribe((view) => this.onView(view));
  }

  /**
   * The holds written before a restart (SIGTERM or kill -9): each counts as ours until EVerest's
   * reported state confirms or contradicts it (see reconcileHold). Call before the first view.
   */
  restoreHolds(known: (moduleId: string) => boolean): void {
    for (const stored of this.book.restored()) {
      if (!known(stored.module_id)) {
        this.log.warn({ moduleId: stored.module_id, kind: stored.kind }, 'hold for an EVSE no longer configured: dropped');
        this.book.forget(stored.module_id);
        continue;
      }
      const lane = this.lane(stored.module_id);
      const since = Date.parse(stored.since);
      lane.hold = { pausedByUs: true, lastOffMs: Math.min(since, this.scheduler.now()) };
      lane.stored = stored;
      lane.restored = true;
      if (stored.origin === 'manual' && stored.kind !== 'limit') lane.manual = stored.kind;
      // Our Disable entry is still in EVerest's table (unless EVerest restarted too: reconcile finds out).
      if (stored.kind === 'disable') lane.claim = 'disable';
      this.log.info({ moduleId: stored.module_id, kind: stored.kind, origin: stored.origin, since: stored.since }, 'hold from before the restart: ours until EVerest says otherwise');
    }
  }

  /**
   * Each session's interruption count written before a restart: applied once EVerest reports the same
   * session (see reconcileInterruptions), so a car we already bounced keeps its protection. Call before
   * the first view.
   */
  restoreInterruptions(known: (moduleId: string) => boolean): void {
    for (const stored of this.countBook.restored()) {
      if (!known(stored.module_id)) {
        this.log.warn({ moduleId: stored.module_id }, 'interruption count for an EVSE no longer configured: dropped');
        this.countBook.forget(stored.module_id);
        continue;
      }
      const lane = this.lane(stored.module_id);
      lane.counted = stored;
      lane.countRestored = true;
    }
  }

  /** Whether this EVSE ignored our holds past the ladder's first lever (an alarm is raised). */
  alarmed(moduleId: string): boolean {
    return this.lanes.get(moduleId)?.escalation.alarmed ?? false;
  }

  /** Whether this EVSE is ignoring our holds right now: a failed hold not yet made good, or a raised alarm. */
  ignoring(moduleId: string): boolean {
    const esc = this.lanes.get(moduleId)?.escalation;
    return esc !== undefined && (esc.alarmed || esc.failures > 0);
  }

  /** Records what the scheduler wants for an EVSE; commands follow when the lane is free. */
  setDesired(moduleId: string, desired: DecisionKind, demandW = 0): void {
    const lane = this.lane(moduleId);
    lane.desiredW = demandW;
    if (lane.desired === desired) return;
    lane.desired = desired;
    // The hold is wanted no more: the ladder starts again from its first lever next time.
    if (desired === 'charge' || desired === 'leave') this.resetEscalation(lane, 'hold no longer wanted');
    this.pump(lane);
  }

  /**
   * Records the current the allocator planned for an EVSE under current control (0 = hold). The
   * message goes out when it is worth one (see calm.ts), and the limit in force is refreshed before
   * its fail-safe entry would take over.
   */
  setLimit(moduleId: string, plannedA: number, minA: number, urgent: boolean, leftover?: boolean): void {
    const lane = this.lane(moduleId);
    const limit = lane.limit;
    if (!limit) throw new Error(`${moduleId} has no limits module`);
    limit.plannedA = plannedA;
    limit.minA = minA;
    limit.urgent = urgent;
    limit.leftover = leftover === true && plannedA >= minA;
    // Provisional only while no plan admits it normally (undefined: the plan does not say, e.g. an
    // increase waiting for power to be released); a car not yet charging (no hold of ours to end)
    // starts provisionally on a leftover decision.
    if (plannedA >= minA && leftover === false && lane.hold.provisional) {
      const { provisional: _, ...rest } = lane.hold;
      lane.hold = rest;
    } else if (limit.leftover && !lane.hold.pausedByUs && !lane.hold.provisional && this.options.view(moduleId)?.state !== 'Charging') {
      lane.hold = { ...lane.hold, provisional: true };
    }
    if (plannedA >= minA) this.resetEscalation(lane, 'hold no longer wanted');
    // Limits first (a decrease goes even while a command is in flight), then any command the ladder wants.
    this.pumpLimit(lane);
    this.pump(lane);
  }

  /** Whether this EVSE is under current control. */
  hasLimits(moduleId: string): boolean {
    return this.options.limits?.modules.has(moduleId) ?? false;
  }

  /** The limit in force (last sent) and when it was last raised; undefined before the first. */
  limitInForce(moduleId: string): { currentA: number; raisedAtMs: number; sentAtMs: number } | undefined {
    const limit = this.lanes.get(moduleId)?.limit;
    if (!limit?.sent) return undefined;
    return { currentA: limit.sent.currentA, raisedAtMs: limit.raisedAtMs ?? limit.sent.atMs, sentAtMs: limit.sent.atMs };
  }

  /** What we did to this EVSE on the scheduler's behalf (see OurHold). */
  hold(moduleId: string): Readonly<OurHold> {
    return this.lanes.get(moduleId)?.hold ?? NO_HOLD;
  }

  /** The session ended: a hold or grant of ours is over (a limit stays in force in EVerest until replaced). */
  onSessionFinished(moduleId: string): void {
    const lane = this.lanes.get(moduleId);
    if (!lane) return;
    lane.hold = { pausedByUs: false };
    // A Disable outlives the session (EVerest keeps our entry): its record goes when it is released.
    if (lane.stored && lane.stored.kind !== 'disable') this.forgetHold(lane);
    this.forgetCount(lane);
    this.resetEscalation(lane, 'session ended');
  }

  /** A clean shutdown: every EVSE under current control gets the fail-safe current at once. */
  sendFailsafe(): void {
    const opts = this.options.limits;
    if (!opts) return;
    this.failsafeSent = true;
    const now = this.scheduler.now();
    for (const [moduleId, limitsModuleId] of opts.modules) {
      opts.port.setExternalLimits(limitsModuleId, failsafeLimitsMessage(now, opts.failsafeCurrentA));
      this.limitSubject.next({ moduleId, limitsModuleId, currentA: opts.failsafeCurrentA, why: 'failsafe', atMs: now });
      const limit = this.lanes.get(moduleId)?.limit;
      limit?.timer?.unsubscribe();
      limit?.pending?.timer.unsubscribe();
      if (limit) {
        limit.timer = undefined;
        limit.pending = undefined;
      }
    }
  }

  /** A person's (API/MQTT) action: queued behind whatever is in flight for that EVSE. */
  request(moduleId: string, req: ActionRequest, origin: ActionOrigin): ActionRecord {
    const lane = this.lane(moduleId);
    const record = this.newRecord(moduleId, req.type, origin, req.connector_id, req.reason);
    lane.queue.push(record);
    this.pump(lane);
    return record;
  }

  action(id: string): ActionRecord | undefined {
    return this.actions.get(id);
  }

  lastAction(moduleId: string): ActionRecord | undefined {
    return this.lanes.get(moduleId)?.last;
  }

  busy(moduleId: string): boolean {
    return this.lanes.get(moduleId)?.inFlight !== undefined;
  }

  /**
   * Runs a read-only request in the EVSE's lane, so even a query never overlaps a command: the
   * charger sees one request at a time. Cold, like the request it wraps.
   */
  exclusive<T>(moduleId: string, request: () => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      const lane = this.lane(moduleId);
      let inner: Subscription | undefined;
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        if (inner) {
          lane.queryInFlight = false;
          this.pump(lane);
        }
      };
      const start = () => {
        if (done) return;
        lane.queryInFlight = true;
        inner = request().subscribe({
          next: (v) => subscriber.next(v),
          error: (e: unknown) => {
            release();
            subscriber.error(e);
          },
          complete: () => {
            release();
            subscriber.complete();
          },
        });
      };
      lane.queries.push(start);
      this.pump(lane);
      return () => {
        inner?.unsubscribe();
        const i = lane.queries.indexOf(start);
        if (i >= 0) lane.queries.splice(i, 1);
        release();
      };
    });
  }

  manualHold(moduleId: string): 'pause' | 'disable' | undefined {
    return this.lanes.get(moduleId)?.manual;
  }

  /** EVerest restarted: its enable table starts empty, so our claim is gone, and so is our limit schedule. */
  onEverestRestart(moduleId: string): void {
    const lane = this.lane(moduleId);
    lane.claim = lane.manual === 'disable' ? 'unknown' : 'none';
    this.pump(lane);
    this.onLimitsModuleRestart(moduleId);
  }

  /** The limits module of this EVSE restarted: its schedule is gone, so the limit goes out again now. */
  onLimitsModuleRestart(moduleId: string): void {
    const limit = this.lanes.get(moduleId)?.limit;
    if (!limit?.sent || this.disposed || this.failsafeSent) return;
    this.sendLimit(moduleId, limit, limit.sent.currentA, 'restart');
    this.pumpLimit(this.lane(moduleId));
  }

  /** Re-evaluate a lane (liveness changed, cooldown over). */
  poke(moduleId: string): void {
    const lane = this.lanes.get(moduleId);
    if (lane) this.pump(lane);
  }

  dispose(): void {
    this.disposed = true;
    this.viewSub.unsubscribe();
    for (const lane of this.lanes.values()) {
      lane.work?.unsubscribe();
      lane.limit?.timer?.unsubscribe();
      lane.limit?.pending?.timer.unsubscribe();
    }
    this.actionSubject.complete();
    this.limitSubject.complete();
    this.alarmSubject.complete();
  }

  private lane(moduleId: string): Lane {
    let lane = this.lanes.get(moduleId);
    if (!lane) {
      lane = { moduleId, queue: [], queries: [], queryInFlight: false, claim: 'unknown', hold: { pausedByUs: false }, desiredW: 0, escalation: { ...NO_ESCALATION } };
      const limitsModuleId = this.options.limits?.modules.get(moduleId);
      if (limitsModuleId !== undefined) lane.limit = { limitsModuleId, minA: 0, urgent: false };
      this.lanes.set(moduleId, lane);
    }
    return lane;
  }

  private onView(view: EvseView): void {
    const lane = this.lanes.get(view.moduleId);
    if (!lane) return;
    if (lane.restored && lane.stored) this.reconcile(lane, lane.stored, view);
    if (lane.counted) this.reconcileCount(lane, lane.counted, view);
    if (lane.limit?.pending) this.confirmLimit(lane, lane.limit, lane.limit.pending, view);
    if (lane.manual === 'pause' && !view.session) lane.manual = undefined;
    if (!lane.inFlight && !lane.queryInFlight) this.pump(lane);
  }

  /** A hold read back after a restart, judged once EVerest has reported the EVSE's state. */
  private reconcile(lane: Lane, stored: HoldRecord, view: EvseView): void {
    const verdict = reconcileHold(stored, view);
    if (verdict === 'wait') return;
    lane.restored = false;
    if (verdict === 'keep') {
      this.log.info({ moduleId: lane.moduleId, kind: stored.kind, state: view.state }, 'hold from before the restart confirmed by EVerest: still ours');
      return;
    }
    this.log.info({ moduleId: lane.moduleId, kind: stored.kind, state: view.state }, 'hold from before the restart no longer reported by EVerest: dropped');
    // The hold is over, not the session: its count stays (reconcileCount judges that).
    lane.hold = { pausedByUs: false, ...counts(lane.hold.interruptions, lane.hold.provisionalYields) };
    if (lane.manual === stored.kind) lane.manual = undefined;
    if (stored.kind === 'disable' && lane.claim === 'disable') lane.claim = 'unknown';
    this.forgetHold(lane);
  }

  /**
   * The session's count against the EVSE's state: one read back after a restart is applied when it is
   * the same session; a count whose session is over or replaced (a SessionFinished lost) goes, in memory too.
   */
  private reconcileCount(lane: Lane, counted: InterruptionRecord, view: EvseView): void {
    const verdict = reconcileInterruptions(counted, view);
    if (verdict === 'wait') return;
    const restored = lane.countRestored === true;
    if (verdict === 'keep') {
      if (!restored) return;
      lane.countRestored = false;
      lane.hold = { ...lane.hold, ...counts(counted.interruptions, counted.provisional_yields) };
      this.log.info({ moduleId: lane.moduleId, interruptions: counted.interruptions, provisionalYields: counted.provisional_yields, state: view.state }, 'interruption count from before the restart applied: same session');
      return;
    }
    if (restored) this.log.info({ moduleId: lane.moduleId, state: view.state }, 'interruption count from before the restart dropped: that session is over');
    const { interruptions: _i, provisionalYields: _y, ...rest } = lane.hold;
    lane.hold = rest;
    this.forgetCount(lane);
  }

  private forgetCount(lane: Lane): void {
    if (!lane.counted) return;
    lane.counted = undefined;
    lane.countRestored = false;
    this.countBook.forget(lane.moduleId);
  }

  /** Writes a hold that starts now; resolves once it is on disk (the command that starts it waits for that). */
  private startHold(lane: Lane, kind: 'pause' | 'disable' | 'limit', manual: boolean): Promise<void> {
    const { hold, written } = this.book.record(lane.moduleId, kind, manual, this.options.view(lane.moduleId)?.session?.uuid, this.scheduler.now());
    lane.stored = hold;
    lane.restored = false;
    return written;
  }

  private forgetHold(lane: Lane): void {
    if (!lane.stored) return;
    lane.stored = undefined;
    lane.restored = false;
    this.book.forget(lane.moduleId);
  }

  private levers(lane: Lane): readonly Lever[] {
    return ladder(lane.limit !== undefined);
  }

  private lever(lane: Lane): Lever {
    return this.levers(lane)[lane.escalation.rung] ?? 'pause';
  }

  /** A hold the scheduler asked for did not take: count it, and take the next lever after enough of them. */
  private holdFailed(lane: Lane, why: string): void {
    const { esc, alarm } = onHoldFailed(lane.escalation, this.levers(lane), this.options.config.escalateAfterFailures ?? 2, lane.moduleId, why, this.scheduler.now());
    lane.escalation = esc;
    if (!alarm) return;
    this.log.warn({ moduleId: lane.moduleId, failed: alarm.failed, next: alarm.next, failures: alarm.failures, alarm: 'hold_ignored' }, `EVSE ignores our hold: ${alarm.reason}`);
    this.alarmSubject.next(alarm);
    // The next lever is a different command: no cooldown of the old one stands in its way.
    lane.cooldown = undefined;
  }

  private resetEscalation(lane: Lane, why: string): void {
    const was = lane.escalation;
    if (was.rung === 0 && was.failures === 0 && !was.alarmed) return;
    lane.escalation = { ...NO_ESCALATION };
    if (!was.alarmed) return;
    const failed = this.levers(lane)[was.rung] ?? 'pause';
    this.log.info({ moduleId: lane.moduleId, lever: failed, alarm: 'hold_ignored' }, `hold alarm cleared: ${why}`);
    this.alarmSubject.next({ moduleId: lane.moduleId, state: 'cleared', failed, next: 'none', failures: 0, reason: why, atMs: this.scheduler.now() });
  }

  /**
   * The limit side of a lane: sends the planned limit when it is worth a message, re-sends the one in
   * force before its fail-safe entry would apply, and keeps one timer for whichever comes first. An
   * increase waits while a command is in flight for this EVSE; a decrease never waits.
   */
  private pumpLimit(lane: Lane): void {
    const limit = lane.limit;
    const opts = this.options.limits;
    if (!limit || !opts || this.disposed || this.failsafeSent) return;
    limit.timer?.unsubscribe();
    limit.timer = undefined;
    const now = this.scheduler.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    if (limit.plannedA !== undefined) {
      const verdict = limitVerdict(limit.sent, limit.plannedA, limit.minA, now, limit.urgent);
      const increase = limit.sent === undefined || limit.plannedA > limit.sent.currentA;
      // One limit in flight per EVSE: an increase waits for the last one's confirmation; a decrease never waits.
      if (verdict.send && !(increase && (lane.inFlight || limit.pending))) this.sendLimit(lane.moduleId, limit, limit.plannedA, 'plan');
      else if (!verdict.send && verdict.retryAtMs !== undefined) wakeAt = verdict.retryAtMs;
    }
    if (limit.sent) {
      const refreshAt = limit.sent.atMs + opts.refreshS * 1000;
      if (now >= refreshAt) this.sendLimit(lane.moduleId, limit, limit.sent.currentA, 'refresh');
      wakeAt = Math.min(wakeAt, limit.sent.atMs + opts.refreshS * 1000);
    }
    if (Number.isFinite(wakeAt)) limit.timer = this.scheduler.schedule(() => this.pumpLimit(lane), Math.max(0, wakeAt - now));
  }

  private sendLimit(moduleId: string, limit: LimitLane, currentA: number, why: LimitSent['why']): void {
    const opts = this.options.limits!;
    const now = this.scheduler.now();
    opts.port.setExternalLimits(
      limit.limitsModuleId,
      externalLimitsMessage({ currentA, now, failsafeS: opts.failsafeS, failsafeCurrentA: opts.failsafeCurrentA }),
    );
    const lane = this.lane(moduleId);
    // Before the first message of this run, a hold restored from the store says whether the car is held.
    const wasHeld = limit.sent === undefined ? lane.hold.pausedByUs : limit.sent.currentA < limit.minA;
    const held = currentA < limit.minA;
    // A raised limit takes a moment to show in the car's draw; a lowered one shows at once.
    if (limit.sent === undefined || currentA > limit.sent.currentA) limit.raisedAtMs = now;
    if (held && !wasHeld) {
      lane.hold = { pausedByUs: true, lastOffMs: now, ...this.interrupting(lane) };
      // Not written ahead: a decrease the budget needs goes at once. A crash in between leaves a car
      // at 0 A that we do not know as ours; the fail-safe entry releases it after failsafe_s.
      void this.startHold(lane, 'limit', false);
      this.writeCount(lane);
    } else if (held && lane.stored?.kind !== 'limit') {
      void this.startHold(lane, 'limit', false);
    } else if (!held && wasHeld) {
      lane.hold = { pausedByUs: false, ...kept(lane.hold), ...(limit.leftover ? { provisional: true } : {}), grant: { atMs: now, w: lane.desiredW } };
      this.forgetHold(lane);
    }
    limit.sent = { currentA, atMs: now };
    // A new limit waits for its confirmation; so does each refresh of a hold nobody confirmed yet, so an
    // EVSE that keeps ignoring a hold keeps counting on the ladder.
    if (why === 'plan' || why === 'restart' || (why === 'refresh' && currentA < limit.minA && !limit.pending)) this.awaitEnforced(lane, limit, currentA, now);
    if (why !== 'refresh') this.log.info({ moduleId, limitsModuleId: limit.limitsModuleId, currentA, why }, 'limit sent');
    this.limitSubject.next({ moduleId, limitsModuleId: limit.limitsModuleId, currentA, why, atMs: now });
  }

  /** A new limit is in flight until an enforced_limits that arrived after it shows EVerest keeps the car at or below it. */
  private awaitEnforced(lane: Lane, limit: LimitLane, currentA: number, now: number): void {
    limit.pending?.timer.unsubscribe();
    const timer = this.scheduler.schedule(() => this.limitUnconfirmed(lane, limit), this.options.config.confirmTimeoutMs);
    limit.pending = { currentA, sentAtMs: now, timer };
  }

  private confirmLimit(lane: Lane, limit: LimitLane, pending: NonNullable<LimitLane['pending']>, view: EvseView): void {
    const enforced = view.enforcedCurrent;
    if (!enforced || (view.enforcedAtMs ?? Number.NEGATIVE_INFINITY) < pending.sentAtMs) return;
    // EVerest may enforce less than our limit (a fuse, another node), never more: more means it ignored it.
    if (enforced.maxCurrentA > pending.currentA + LIMIT_TOLERANCE_A) return;
    pending.timer.unsubscribe();
    limit.pending = undefined;
    if (pending.currentA < limit.minA && lane.escalation.rung === 0) lane.escalation = { ...lane.escalation, failures: 0 };
  }

  private limitUnconfirmed(lane: Lane, limit: LimitLane): void {
    const pending = limit.pending;
    if (!pending || this.disposed) return;
    limit.pending = undefined;
    const view = this.options.view(lane.moduleId);
    const why = `limit ${pending.currentA} A not confirmed by enforced_limits within ${this.options.config.confirmTimeoutMs} ms (enforced: ${view?.enforcedCurrent?.maxCurrentA ?? 'none'})`;
    this.log.warn({ moduleId: lane.moduleId, limitsModuleId: limit.limitsModuleId, currentA: pending.currentA }, why);
    // A hold that EVerest does not enforce counts on the escalation ladder (limit -> pause -> disable).
    if (pending.currentA < limit.minA) this.holdFailed(lane, why);
    this.pump(lane);
  }

  private pump(lane: Lane): void {
    if (lane.limit && !lane.inFlight) this.pumpLimit(lane);
    if (this.disposed || lane.inFlight || lane.queryInFlight) return;
    if (!this.options.isCommandable(lane.moduleId)) return;
    const query = lane.queries.shift();
    if (query) {
      query();
      return;
    }
    const next = lane.queue.shift() ?? this.derive(lane);
    if (next) this.run(lane, next);
  }

  /** The one command that moves the EVSE toward the scheduler's wish, if any. */
  private derive(lane: Lane): ActionRecord | undefined {
    const view = this.options.view(lane.moduleId);
    if (!view || !lane.desired || lane.manual) return undefined;
    const type = this.nextType(lane, view);
    if (!type) return undefined;
    if (lane.cooldown && lane.cooldown.type === type && this.scheduler.now() < lane.cooldown.untilMs) return undefined;
    return this.newRecord(lane.moduleId, type, lane.claim === 'unknown' ? 'reconcile' : 'scheduler', undefined, undefined);
  }

  private nextType(lane: Lane, view: EvseView): ActionType | undefined {
    if (lane.desired === 'hold_disabled') return lane.claim === 'disable' ? undefined : 'disable';
    // The EVSE ignored pause_charging (or, under current control, our limit): the ladder's next lever.
    const limit = lane.limit;
    const heldByLimit = limit?.plannedA !== undefined && limit.plannedA < limit.minA;
    const lever = this.lever(lane);
    if ((lane.desired === 'pause' || heldByLimit) && lever === 'disable' && view.session) return lane.claim === 'disable' ? undefined : 'disable';
    // Any earlier claim of ours (from a previous run, or a hold that is over) is released first,
    // with Unassigned: a blind Enable would override other sources' decisions.
    if (lane.claim === 'unknown' || lane.claim === 'disable') return 'release';
    if (lane.desired === 'pause' && view.state === 'Charging') return 'pause';
    if (limit) {
      if (heldByLimit && lever === 'pause' && view.state === 'Charging') return 'pause';
      // A car the ladder paused under current control is resumed by us once the limit lets it charge.
      if (!heldByLimit && lane.stored?.kind === 'pause' && view.state === 'ChargingPausedEVSE' && resumable(view.pauseReasons)) return 'resume';
    }
    // A pause EVerest holds by itself (NoEnergy, Error) ends by itself; resume_charging would not end it.
    if (lane.desired === 'charge' && view.state === 'ChargingPausedEVSE' && resumable(view.pauseReasons)) return 'resume';
    return undefined;
  }

  private newRecord(moduleId: string, type: ActionType, origin: ActionOrigin, connectorId: number | undefined, reason: string | undefined): ActionRecord {
    const now = new Date(this.scheduler.now()).toISOString();
    const view = this.options.view(moduleId);
    const record: ActionRecord = {
      id: randomUUID(),
      module_id: moduleId,
      connector_id: connectorId ?? view?.connectorId ?? 1,
      type,
      origin,
      ...(reason !== undefined ? { reason } : {}),
      status: 'requested',
      attempts: 0,
      requested_at: now,
      updated_at: now,
    };
    this.actions.set(record.id, record);
    this.trimHistory();
    this.emit(record);
    return record;
  }

  private run(lane: Lane, record: ActionRecord): void {
    lane.inFlight = record;
    lane.last = record;
    if (record.origin === 'api' || record.origin === 'mqtt') this.applyManual(lane, record.type);
    const written = this.noteHold(lane, record);
    // A hold is on disk before the command that starts it reaches EVerest: a car we paused is never
    // one we forget after a crash. The lane stays busy meanwhile (one fsync, a few ms).
    if (written) lane.work = from(written).subscribe(() => this.attempt(lane, record));
    else this.attempt(lane, record);
  }

  /** Our intent counts from the moment a command goes out (the scheduler's hysteresis relies on it). */
  private noteHold(lane: Lane, record: ActionRecord): Promise<void> | undefined {
    const now = this.scheduler.now();
    if (record.type === 'pause' || record.type === 'disable') {
      // A person's pause is not one of ours: it does not count towards protection.
      lane.hold = { pausedByUs: true, lastOffMs: now, ...this.interrupting(lane, record.origin === 'scheduler') };
      const written = this.options.holds ? this.startHold(lane, record.type, record.origin === 'api' || record.origin === 'mqtt') : undefined;
      this.writeCount(lane);
      return written;
    }
    // A start-up release of our enable_disable entry ends a Disable of ours, not a pause.
    if (record.type === 'release' && record.origin === 'reconcile' && lane.stored !== undefined && lane.stored.kind !== 'disable') return undefined;
    if (record.type === 'resume' || record.type === 'enable' || record.type === 'release') {
      this.forgetHold(lane);
      // Power handed to a car about to start is reserved until its meter shows it; a start-up release
      // of an old claim hands out nothing.
      const granting = record.origin !== 'reconcile' && lane.desired === 'charge' && lane.desiredW > 0 && this.options.view(lane.moduleId)?.state !== 'Charging';
      lane.hold = { pausedByUs: false, ...kept(lane.hold), ...(granting ? { grant: { atMs: now, w: lane.desiredW } } : {}) };
    }
    return undefined;
  }

  /**
   * A hold starting now: one interruption more if it is ours and cuts off a charging car; for a car
   * started provisionally, one yield more instead (it knew it ran on borrowed power).
   */
  private interrupting(lane: Lane, ours = true): Pick<OurHold, 'interruptions' | 'provisionalYields'> {
    const yielded = ours && lane.hold.provisional === true;
    const n = (lane.hold.interruptions ?? 0) + (ours && !yielded && this.options.view(lane.moduleId)?.state === 'Charging' ? 1 : 0);
    const y = (lane.hold.provisionalYields ?? 0) + (yielded ? 1 : 0);
    return counts(n, y);
  }

  /**
   * Writes the session's count when a hold changed it, not per plan: a restart must not hand this
   * session one more bounce. After the hold's own write, which a command may be waiting for.
   */
  private writeCount(lane: Lane): void {
    // A count read back but not yet confirmed by EVerest is not this session's yet: it lends nothing.
    const written = lane.countRestored ? undefined : lane.counted;
    const n = lane.hold.interruptions ?? 0;
    const y = lane.hold.provisionalYields ?? 0;
    if (n === (written?.interruptions ?? 0) && y === (written?.provisional_yields ?? 0)) return;
    lane.counted = this.countBook.record(lane.moduleId, { interruptions: n, provisionalYields: y }, this.options.view(lane.moduleId), written, this.scheduler.now());
    lane.countRestored = false;
  }

  private applyManual(lane: Lane, type: ActionType): void {
    if (type === 'pause') lane.manual = 'pause';
    else if (type === 'disable') lane.manual = 'disable';
    else if (type === 'resume' || type === 'release' || type === 'enable') lane.manual = undefined;
  }

  private attempt(lane: Lane, record: ActionRecord): void {
    if (record.attempts === 0) this.log.info({ moduleId: record.module_id, action: record.type, origin: record.origin }, 'sending command');
    this.update(record, 'in_flight', { attempts: record.attempts + 1 });
    lane.work = this.command(record)
      .pipe(switchMap((reply) => this.confirm(record, reply)))
      .subscribe({
        next: (reply) => this.finish(lane, record, 'completed', { reply, result: this.describeSuccess(record, reply) }),
        error: (err: Error) => this.onError(lane, record, err),
      });
  }

  private command(record: ActionRecord): Observable<boolean> {
    const { port, config } = this.options;
    const id = record.module_id;
    const enableDisable = (state: EnableState, connectorId: number) =>
      port.request(id, 'enable_disable', {
        connector_id: connectorId,
        source: { enable_source: config.enableSource, enable_state: state, enable_priority: config.enablePriority },
      });
    // Always a real connector: EVerest treats connector 0 as "whole EVSE" and a later request for it
    // while disabled can drop the EVSE back to idle regardless of the arbitration table.
    const claimConnector = record.connector_id;
    switch (record.type) {
      case 'pause':
        return port.request(id, 'pause_charging');
      case 'resume':
        return port.request(id, 'resume_charging');
      case 'disable':
        return enableDisable('Disable', claimConnector);
      case 'enable':
        return enableDisable('Enable', claimConnector);
      case 'release':
        return enableDisable('Unassigned', claimConnector);
      case 'stop':
        return port.request(id, 'stop_transaction', { reason: 'Remote' });
      case 'unlock':
        return port.request(id, 'force_unlock', record.connector_id);
    }
  }

  /**
   * A reply alone is not enough: pause/resume/stop are done when the EVSE's state shows it.
   * enable_disable replies with the effective state after arbitration, which is its confirmation.
   */
  private confirm(record: ActionRecord, reply: boolean): Observable<boolean> {
    const expectEnabled: Partial<Record<ActionType, boolean>> = { enable: true, disable: false };
    if (record.type === 'enable' || record.type === 'disable') {
      if (reply !== expectEnabled[record.type]) {
        throw new ActionRejected(
          record.type === 'disable' ? 'EVSE stays enabled: a higher-priority source holds it enabled' : 'EVSE stays disabled: a higher-priority source holds it disabled',
        );
      }
      return of(reply);
    }
    if (record.type === 'release' || record.type === 'unlock') {
      if (record.type === 'unlock' && !reply) throw new ActionRejected('EVSE refused force_unlock');
      return of(reply);
    }
    if (!reply) throw new AnsweredFalse(`EVSE answered false to ${record.type}`);
    const done = (v: EvseView): boolean => this.shows(record, v);
    const current = this.options.view(record.module_id);
    if (current && done(current)) return of(reply);
    return this.options.views$.pipe(
      filter((v) => v.moduleId === record.module_id && done(v)),
      take(1),
      map(() => reply),
      timeout({
        first: this.options.config.confirmTimeoutMs,
        scheduler: this.scheduler,
        with: () => {
          throw new ConfirmTimeout(`${record.type} answered true but the EVSE state did not follow within ${this.options.config.confirmTimeoutMs} ms`);
        },
      }),
    );
  }

  /** Whether the EVSE's state shows that a pause, resume or stop took effect. */
  private shows(record: ActionRecord, v: EvseView): boolean {
    if (!v.session) return true;
    if (record.type === 'pause') return v.state === 'ChargingPausedEVSE';
    if (record.type === 'resume') return v.state === 'Charging' || v.state === 'ChargingPausedEV';
    return FINISHED_STATES.has(v.state);
  }

  /**
   * A request that timed out may still have been carried out (a slow reply, a lost one): when the
   * EVSE's latest state already shows the effect, it is done, and sending it again would be a duplicate.
   */
  private alreadyShown(record: ActionRecord): boolean {
    if (record.type !== 'pause' && record.type !== 'resume' && record.type !== 'stop') return false;
    const view = this.options.view(record.module_id);
    return view !== undefined && this.shows(record, view);
  }

  private onError(lane: Lane, record: ActionRecord, err: Error): void {
    if (err instanceof AnsweredFalse) {
      // `false` to a pause the EVSE already carried out (its event lost, or a retry of a done command) is not a refusal.
      this.settleByRead(lane, record, err.message, () => this.finish(lane, record, 'rejected', { reply: false, result: err.message }));
      return;
    }
    if (err instanceof ActionRejected) {
      this.finish(lane, record, 'rejected', { reply: false, result: err.message });
      return;
    }
    if (err instanceof ConfirmTimeout) {
      this.settleByRead(lane, record, err.message, () => this.finish(lane, record, 'timed_out', { reply: true, result: err.message }));
      return;
    }
    if (err instanceof RequestTimeoutError) {
      if (this.alreadyShown(record)) {
        this.finish(lane, record, 'completed', { result: `no reply within the timeout, but the EVSE state shows it done (${err.message})` });
        return;
      }
      this.options.doubt?.(record.module_id);
      if (err.lateReply) {
        this.awaitPending(lane, record, err, err.lateReply);
        return;
      }
    }
    this.retryOrGiveUp(lane, record, err);
  }

  /**
   * No reply in time, but the request may still be pending in EVerest: nothing more goes to this EVSE
   * until its late reply comes, the EVSE's state shows the effect, or the client's late-reply window
   * closes. Only then may a retry go out, so a retry never reaches EVerest while the first is pending.
   */
  private awaitPending(lane: Lane, record: ActionRecord, err: RequestTimeoutError, lateReply: Observable<unknown>): void {
    const id = record.module_id;
    this.update(record, 'in_flight', { result: `${err.message}; waiting for a late reply or the EVSE state before any retry` });
    lane.work = race(
      lateReply.pipe(
        map((reply) => ({ kind: 'reply' as const, reply: reply === true })),
        defaultIfEmpty({ kind: 'expired' as const }),
      ),
      this.options.views$.pipe(
        filter((v) => v.moduleId === id && this.shows(record, v)),
        take(1),
        map(() => ({ kind: 'shown' as const })),
      ),
    )
      .pipe(switchMap((o) => (o.kind === 'reply' ? this.confirm(record, o.reply).pipe(map((reply) => ({ kind: 'confirmed' as const, reply }))) : of(o))))
      .subscribe({
        next: (o) => {
          if (o.kind === 'expired') this.retryOrGiveUp(lane, record, err);
          else if (o.kind === 'shown') this.finish(lane, record, 'completed', { result: `no reply within the timeout, but the EVSE state shows it done (${err.message})` });
          else this.finish(lane, record, 'completed', { reply: o.reply, result: `EVSE answered ${String(o.reply)} after the timeout` });
        },
        error: (e: Error) => this.onError(lane, record, e),
      });
  }

  /**
   * The outcome is uncertain: doubt the EVSE's state and take the next session_info as the truth (an
   * event may be lost). Done when that read shows the effect; otherwise `otherwise` decides.
   */
  private settleByRead(lane: Lane, record: ActionRecord, why: string, otherwise: () => void): void {
    const doubt = this.options.doubt;
    if (this.alreadyShown(record)) {
      this.finish(lane, record, 'completed', { result: `${why}, but the EVSE state shows it done` });
      return;
    }
    if (!doubt) {
      otherwise();
      return;
    }
    const id = record.module_id;
    const askedAt = this.scheduler.now();
    doubt(id);
    this.update(record, 'in_flight', { result: `${why}; re-reading the EVSE state before deciding` });
    lane.work = this.options.views$
      .pipe(
        filter((v) => v.moduleId === id && (this.shows(record, v) || (v.stateInDoubt !== true && (v.stateReadAtMs ?? Number.NEGATIVE_INFINITY) >= askedAt))),
        take(1),
        map((v) => this.shows(record, v)),
        timeout({ first: this.options.config.confirmTimeoutMs, scheduler: this.scheduler, with: () => of(false) }),
      )
      .subscribe((shown) => (shown ? this.finish(lane, record, 'completed', { result: `${why}, but the EVSE state shows it done` }) : otherwise()));
  }

  private retryOrGiveUp(lane: Lane, record: ActionRecord, err: Error): void {
    const retryable = err instanceof RequestTimeoutError || err instanceof RequestPublishError;
    const { maxRetries, retryBackoffMs } = this.options.config;
    if (retryable && record.attempts <= maxRetries && !this.disposed) {
      const delay = retryBackoffMs * 2 ** (record.attempts - 1);
      this.log.info({ moduleId: record.module_id, action: record.type, attempt: record.attempts, delay, err: err.message }, 'retrying command');
      this.update(record, 'in_flight', { result: `retrying after: ${err.message}` });
      // The lane stays busy during the backoff: nothing else goes to this EVSE meanwhile.
      lane.work = this.scheduler.schedule(() => {
        if (this.alreadyShown(record)) this.finish(lane, record, 'completed', { result: `the EVSE state shows it done after: ${err.message}` });
        else if (this.options.isCommandable(record.module_id)) this.attempt(lane, record);
        else this.finish(lane, record, 'failed', { result: `EVSE heartbeat not current; gave up after: ${err.message}` });
      }, delay);
      return;
    }
    this.finish(lane, record, err instanceof RequestTimeoutError ? 'timed_out' : 'failed', { result: err.message });
  }

  private finish(lane: Lane, record: ActionRecord, status: ActionStatus, extra: { reply?: boolean; result?: string }): void {
    lane.work?.unsubscribe();
    lane.work = undefined;
    lane.inFlight = undefined;
    if (status === 'completed') {
      this.log.info({ moduleId: record.module_id, action: record.type, origin: record.origin, result: extra.result }, 'action completed');
      if (record.type === 'disable') lane.claim = 'disable';
      else if (record.type === 'enable') lane.claim = 'enable';
      else if (record.type === 'release') lane.claim = 'none';
      lane.cooldown = undefined;
    } else {
      lane.cooldown = { type: record.type, untilMs: this.scheduler.now() + this.options.config.rejectCooldownMs };
      // Let the cooldown expire into a fresh evaluation rather than waiting for the next change.
      this.scheduler.schedule(() => this.pump(lane), this.options.config.rejectCooldownMs);
      this.log.warn({ moduleId: record.module_id, action: record.type, status, result: extra.result }, 'action did not complete');
    }
    this.afterHoldCommand(lane, record, status, extra.result ?? status);
    this.update(record, status, extra);
    this.pump(lane);
  }

  /** What a finished command means for our hold: the ladder's count, and a resume that did not take. */
  private afterHoldCommand(lane: Lane, record: ActionRecord, status: ActionStatus, result: string): void {
    const scheduled = record.origin === 'scheduler';
    if (scheduled && (record.type === 'pause' || (record.type === 'disable' && lane.escalation.rung > 0))) {
      if (status === 'completed') lane.escalation = { ...lane.escalation, failures: 0 };
      else this.holdFailed(lane, `${record.type} ${status}: ${result}`);
    }
    // The car is still paused after a resume that failed: it is still ours (else it would look paused by someone else, for good).
    if (record.type === 'resume' && status !== 'completed' && !lane.hold.pausedByUs && this.options.view(lane.moduleId)?.state === 'ChargingPausedEVSE') {
      lane.hold = { pausedByUs: true, lastOffMs: lane.hold.lastOffMs ?? this.scheduler.now(), ...counts(lane.hold.interruptions, lane.hold.provisionalYields) };
      void this.startHold(lane, 'pause', lane.manual === 'pause');
    }
  }

  private describeSuccess(record: ActionRecord, reply: boolean): string {
    if (record.type === 'release') return reply ? 'released; EVSE enabled' : 'released; EVSE still disabled by another source';
    return `EVSE answered ${String(reply)}`;
  }

  private update(record: ActionRecord, status: ActionStatus, extra: Partial<ActionRecord>): void {
    Object.assign(record, extra, { status, updated_at: new Date(this.scheduler.now()).toISOString() });
    this.emit(record);
  }

  private emit(record: ActionRecord): void {
    this.actionSubject.next({ ...record });
  }

  /** Keep a bounded history so a long-running process does not grow without limit. */
  private trimHistory(): void {
    const max = 10_000;
    if (this.actions.size <= max) return;
    for (const [id, rec] of this.actions) {
      if (this.actions.size <= max) break;
      if (isFinal(rec.status)) this.actions.delete(id);
    }
  }
}
