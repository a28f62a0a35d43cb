import type { Logger } from '../log/logger.js';
import {
  BehaviorSubject,
  EMPTY,
  Subject,
  asyncScheduler,
  merge,
  switchMap,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { CamelCased, EvseConfig, LimitsConfig } from '../config/types.js';
import type { EverestClient } from '../everest/client.js';
import type { HeartbeatMonitor } from '../everest/liveness.js';
import type { ConnectorDirectory } from '../priorities/resolve.js';
import type { PriorityStore } from '../priorities/store.js';
import { isFinal, type ActionOrigin, type ActionRecord, type ActionRequest } from './actions.js';
import { allocate } from './allocator.js';
import { Enforcer, type EnforcerConfig, type LimitsPort } from './enforcer.js';
import type { Lever } from './escalation.js';
import type { EvseView } from './evse-view.js';
import { SiteIngest } from './ingest.js';
import type { Decision, SchedulerConfig } from './model.js';
import { RecomputePacer, type RecomputeUrgency } from './recompute-pacer.js';
import { SnapshotBuilder } from './snapshot.js';

/** One entry of the configuration's `evses` list, as the site uses it. */
export type SiteEvseConfig = Pick<CamelCased<EvseConfig>, 'moduleId' | 'connectors' | 'phases' | 'maxCurrentA' | 'limitsModuleId'>;

/** The `limits` section as the site uses it: the fail-safe current resolved by the composition root. */
export type SiteLimitsConfig = Pick<CamelCased<LimitsConfig>, 'minCurrentA' | 'failsafeS' | 'refreshS'> & { failsafeCurrentA: number };

export interface SiteControllerOptions {
  client: EverestClient & LimitsPort;
  heartbeat: HeartbeatMonitor;
  store: PriorityStore;
  directory: ConnectorDirectory;
  evses: SiteEvseConfig[];
  maxPowerW: number;
  nominalVoltageV: number;
  scheduler: SchedulerConfig;
  enforcer: EnforcerConfig;
  limits: SiteLimitsConfig;
  logger: Logger;
  /** Coalescing window for bursts of meter-type changes; the first change of a burst is decided at once. */
  recomputeThrottleMs?: number;
  /** Most share of the event loop recomputes may take under a flood of changes (see RecomputePacer). */
  recomputeDuty?: number;
  /**
   * Measures what a recompute cost, ms: performance.now on real time; on an injected rxScheduler (a
   * virtual clock) its clock, on which a recompute costs nothing, unless a test injects its own.
   */
  recomputeCostClock?: () => number;
  rxScheduler?: SchedulerLike;
  /** Fires when the broker connection is back after a loss (every EVSE's state is then re-read). */
  reconnects$?: Observable<unknown>;
  /**
   * After such a reconnect, how long no session is started, resumed or raised while an EVSE with a
   * session is not heard yet (`everest.heartbeat_timeout_ms`: every live EVSE reports within it).
   */
  reportGraceMs?: number;
}

export type SiteEvent =
  | { type: 'session_state'; module_id: string; connector_id: number; state: string; previous: string; at: string }
  | {
      type: 'decision';
      module_id: string;
      connector_id: number;
      decision: Decision['decision'];
      reason: string;
      reason_code: string;
      /** Allocated A per phase; null where the EVSE has no limits module (or the plan leaves it alone). */
      current_a: number | null;
      at: string;
    }
  | { type: 'action'; action: ActionRecord; at: string }
  | { type: 'budget'; max_power_w: number; set_by: string; at: string }
  | { type: 'liveness'; module_id: string; status: string; at: string }
  /** An ISO 15118 session that failed (e2m/hlc_session_failed, release 2026.02): shown, not acted on. */
  | { type: 'hlc_session_failed'; module_id: string; uuid: string; reason: string; at: string }
  /** An EVSE ignores our holds: raised when a lever is given up (with the next one), cleared when the hold is no longer needed. */
  | { type: 'hold_alarm'; module_id: string; state: 'raised' | 'cleared'; failed: Lever; next: Lever | 'none'; failures: number; reason: string; at: string };

export interface SiteSummary {
  max_power_w: number;
  planned_w: number;
  measured_w: number;
  next_review_at?: string;
}

/**
 * The domain's moving parts for one site: folds each EVSE's streams into a view, recomputes the
 * schedule on every relevant change (and on a timer only when an on/off window expires), and hands
 * decisions to the enforcer.
 */
/**
 * The site room's three parts, wired: ingest (EVerest streams -> EVSE views), planning (the pure
 * allocator over a snapshot of views, priorities and what the enforcer did) and enforcement (one lane
 * per EVSE carrying limits and pause/resume). Recomputes on every relevant change, and on a timer
 * only when an on/off window or a reservation expires.
 */
export class SiteController {
  private readonly ingest: SiteIngest;
  private readonly eventSubject = new Subject<SiteEvent>();
  private readonly pacer: RecomputePacer;
  private readonly snapshots: SnapshotBuilder;
  private readonly budget: BehaviorSubject<number>;
  /** Latest decision per EVSE (an EvseManager runs one session at a time). */
  private readonly decisions = new Map<string, Decision>();
  /** The budget of the last plan. */
  private plannedForW = Number.NaN;
  private readonly subscriptions: Subscription[] = [];
  private readonly reviewAt = new BehaviorSubject<number | undefined>(undefined);
  private readonly rx: SchedulerLike;
  private readonly log: Logger;
  private plannedW = 0;
  /** limits_module_id -> module_id of the EVSE it limits. */
  private readonly evseOfLimitsModule: ReadonlyMap<string, string>;
  /** Seconds the site spent above budget + tolerance while an EVSE that ignores our holds drew power, per EVSE. */
  private readonly overBudgetS = new Map<string, number>();
  private overBudgetCheckedAtMs: number | undefined;
  /** Until when increases wait for every EVSE to report after our reconnect (SiteSnapshot.reportGraceUntilMs). */
  private reportGraceUntilMs: number | undefined;
  /** The fail-safe of our limit messages, as the allocator reserves it for an EVSE it cannot hear. */
  private readonly failsafe: { currentA: number; afterSilenceMs: number };
  readonly enforcer: Enforcer;

  /** Every EVSE view after each change. */
  readonly views$: Observable<EvseView>;
  /** Session state changes, decisions, actions and budget changes, for SSE, webhooks and MQTT. */
  readonly events$: Observable<SiteEvent> = this.eventSubject.asObservable();
  /** Fires after every recomputation (for the MQTT state topics and tests). */
  readonly recomputed$ = new Subject<number>();

  constructor(private readonly options: SiteControllerOptions) {
    this.rx = options.rxScheduler ?? asyncScheduler;
    this.log = options.logger;
    this.pacer = new RecomputePacer({
      run: () => this.recompute(),
      scheduler: this.rx,
      ...(options.recomputeDuty !== undefined ? { duty: options.recomputeDuty } : {}),
      ...(options.recomputeThrottleMs !== undefined ? { routineIntervalMs: options.recomputeThrottleMs } : {}),
      ...(options.recomputeCostClock ? { costClock: options.recomputeCostClock } : options.rxScheduler ? { costClock: () => this.rx.now() } : {}),
    });
    this.snapshots = new SnapshotBuilder(options.evses);
    const { failsafeS, refreshS, failsafeCurrentA } = options.limits;
    this.failsafe = { currentA: failsafeCurrentA, afterSilenceMs: Math.max(0, failsafeS - refreshS) * 1000 };
    this.budget = new BehaviorSubject(options.maxPowerW);
    this.ingest = new SiteIngest({
      client: options.client,
      heartbeat: options.heartbeat,
      directory: options.directory,
      evses: options.evses,
      exclusive: (id, request) => this.enforcer.exclusive(id, request),
      now: () => this.rx.now(),
      logger: options.logger,
      scheduler: this.rx,
      ...(options.reconnects$ ? { reconnects$: options.reconnects$ } : {}),
    });
    this.views$ = this.ingest.views$;
    const limitsModules = new Map(options.evses.flatMap((e) => (e.limitsModuleId !== undefined ? [[e.moduleId, e.limitsModuleId] as const] : [])));
    this.evseOfLimitsModule = new Map([...limitsModules].map(([evse, limits]) => [limits, evse]));
    this.enforcer = new Enforcer({
      port: options.client,
      config: options.enforcer,
      views$: this.views$,
      view: (id) => this.ingest.view(id),
      isCommandable: (id) => options.heartbeat.isCommandable(id),
      logger: options.logger.child({ component: 'enforcer' }),
      scheduler: this.rx,
      holds: options.store,
      interruptions: options.store,
      doubt: (id) => this.ingest.doubt(id),
      ...(limitsModules.size > 0
        ? {
            limits: {
              port: options.client,
              modules: limitsModules,
              failsafeS: options.limits.failsafeS,
              refreshS: options.limits.refreshS,
              failsafeCurrentA: options.limits.failsafeCurrentA,
            },
          }
        : {}),
    });
  }

  start(): void {
    const { heartbeat, store } = this.options;
    // Before the first view: a car we paused before a restart is ours until EVerest says otherwise.
    this.enforcer.restoreHolds((id) => this.ingest.view(id) !== undefined);
    this.enforcer.restoreInterruptions((id) => this.ingest.view(id) !== undefined);
    this.subscriptions.push(
      this.enforcer.alarms$.subscribe((a) =>
        this.emit({ type: 'hold_alarm', module_id: a.moduleId, state: a.state, failed: a.failed, next: a.next, failures: a.failures, reason: a.reason, at: new Date(a.atMs).toISOString() }),
      ),
      this.ingest.stateChanges$.subscribe((c) =>
        this.emit({ type: 'session_state', module_id: c.moduleId, connector_id: c.connectorId, state: c.state, previous: c.previous, at: this.iso() }),
      ),
      this.ingest.sessionFinished$.subscribe(({ moduleId, connectorId }) => this.onSessionFinished(moduleId, connectorId)),
      // Events a person or a car caused (priority, budget, session events, finished commands, liveness)
      // are decided at once when the pacer's budget allows; meter-type updates are coalesced. Under a
      // flood both are bounded to a share of the loop (RecomputePacer).
      this.ingest.changes$.subscribe((c) => this.requestRecompute(c)),
    );
    // Before the ingest's own reaction to a reconnect: the first plan after it already waits.
    const { reconnects$, reportGraceMs } = this.options;
    if (reconnects$ && reportGraceMs !== undefined && reportGraceMs > 0) {
      this.subscriptions.push(
        reconnects$.subscribe(() => {
          this.reportGraceUntilMs = this.rx.now() + reportGraceMs;
          this.requestRecompute();
        }),
      );
    }
    this.subscriptions.push(...this.ingest.start());
    // An ISO 15118 failure is news for operators (SSE, webhooks, metrics), not an input to the plan.
    // One subscription for all EVSEs (a Subject and subscriber per EVSE cost memory at 1000 EVSEs).
    this.subscriptions.push(
      this.options.client.onEvery('hlc_session_failed').subscribe(({ moduleId, value: { uuid, reason } }) => {
        if (this.ingest.view(moduleId) !== undefined) this.emit({ type: 'hlc_session_failed', module_id: moduleId, uuid, reason, at: this.iso() });
      }),
    );
    this.subscriptions.push(
      heartbeat.events$.subscribe((event) => {
        // The monitor also watches the limits modules (external_energy_limits_consumer_API): their
        // liveness is reported like an EVSE's, but they have no enforcer lane of their own; after a
        // restart their schedule is gone, so the limit in force goes out again.
        const limitedEvse = this.evseOfLimitsModule.get(event.moduleId);
        const isEvse = this.ingest.view(event.moduleId) !== undefined;
        if (event.type === 'restart' && limitedEvse !== undefined) this.enforcer.onLimitsModuleRestart(limitedEvse);
        if (event.type === 'restart' && isEvse) this.enforcer.onEverestRestart(event.moduleId);
        if (event.type === 'online' || event.type === 'stale') {
          this.emit({ type: 'liveness', module_id: event.moduleId, status: event.type, at: this.iso() });
          if (isEvse) this.enforcer.poke(event.moduleId);
        }
      }),
      this.enforcer.actions$.subscribe((action) => this.onAction(action)),
      merge(store.changes$, this.budget).subscribe(() => this.requestRecompute()),
      // A timer only for the next expiring on/off window or reservation, never a polling loop.
      this.reviewAt
        .pipe(switchMap((at) => (at === undefined ? EMPTY : timer(Math.max(0, at - this.rx.now()), this.rx))))
        .subscribe(() => this.requestRecompute()),
    );
  }

  stop(): void {
    // Before the subscriptions go: every EVSE under current control falls back to the safe current now,
    // not at its fail-safe time.
    this.enforcer.sendFailsafe();
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.length = 0;
    this.pacer.dispose();
    this.enforcer.dispose();
    this.ingest.stop();
    this.eventSubject.complete();
    this.recomputed$.complete();
  }

  get maxPowerW(): number {
    return this.budget.value;
  }

  setBudget(maxPowerW: number, setBy: string): void {
    if (!Number.isFinite(maxPowerW) || maxPowerW < 0) throw new RangeError(`max_power_w must be a number >= 0, got ${maxPowerW}`);
    this.log.info({ maxPowerW, setBy }, 'site budget changed');
    this.budget.next(maxPowerW);
    this.emit({ type: 'budget', max_power_w: maxPowerW, set_by: setBy, at: this.iso() });
  }

  view(moduleId: string): EvseView | undefined {
    return this.ingest.view(moduleId);
  }

  allViews(): EvseView[] {
    return [...this.ingest.all()];
  }

  decisionFor(moduleId: string): Decision | undefined {
    return this.decisions.get(moduleId);
  }

  /** Seconds over budget + tolerance while each EVSE ignored our holds (from its first failed hold; EVSEs that ever did). */
  overBudgetSeconds(): Iterable<readonly [string, number]> {
    return this.overBudgetS.entries();
  }

  /** The current the plan allocates to each EVSE under current control, A per phase. */
  *allocations(): Iterable<readonly [string, number]> {
    for (const [moduleId, decision] of this.decisions) if (decision.currentA !== undefined) yield [moduleId, decision.currentA];
  }

  summary(): SiteSummary {
    let measured = 0;
    for (const v of this.ingest.all()) measured += v.powerW;
    const next = this.reviewAt.value;
    return {
      max_power_w: this.budget.value,
      planned_w: Math.round(this.plannedW),
      measured_w: Math.round(measured),
      ...(next !== undefined ? { next_review_at: new Date(next).toISOString() } : {}),
    };
  }

  requestAction(moduleId: string, req: ActionRequest, origin: ActionOrigin): ActionRecord {
    return this.enforcer.request(moduleId, req, origin);
  }

  /** Recomputes now, or as soon as the pacer allows; a request made while one runs is served after it. */
  private requestRecompute(urgency: RecomputeUrgency = 'decide'): void {
    this.pacer.request(urgency);
  }

  /** Recomputes so far and the smoothed cost of one, ms (metrics, benchmarks). */
  recomputeStats(): { count: number; costMs: number } {
    return { count: this.pacer.count, costMs: this.pacer.recomputeCostMs };
  }

  private onSessionFinished(moduleId: string, connectorId: number): void {
    this.enforcer.onSessionFinished(moduleId);
    this.options.store.clearSessionScoped(moduleId, connectorId).catch((err: Error) => {
      // The priority stays until the next SessionFinished or a person deletes it; say so loudly.
      this.log.error({ moduleId, connectorId, err: err.message }, 'could not clear session-scoped priority');
    });
  }

  private onAction(action: ActionRecord): void {
    this.emit({ type: 'action', action, at: this.iso() });
    // A finished command frees the lane and may have changed what the EVSE draws.
    if (isFinal(action.status)) this.requestRecompute();
  }

  /**
   * Since the last recompute: if the site drew more than budget + tolerance while an EVSE that ignores
   * our holds (a failed hold, or a raised alarm) was drawing, that time is counted against each such EVSE.
   */
  private countOverBudget(now: number): void {
    const since = this.overBudgetCheckedAtMs;
    this.overBudgetCheckedAtMs = now;
    if (since === undefined || now <= since) return;
    let measured = 0;
    const culprits: string[] = [];
    for (const v of this.ingest.all()) {
      measured += v.powerW;
      if (v.powerW > 0 && this.enforcer.ignoring(v.moduleId)) culprits.push(v.moduleId);
    }
    if (culprits.length === 0 || measured <= this.budget.value + this.options.scheduler.overrunToleranceW) return;
    for (const id of culprits) this.overBudgetS.set(id, (this.overBudgetS.get(id) ?? 0) + (now - since) / 1000);
  }

  private recompute(): void {
    const now = this.rx.now();
    this.countOverBudget(now);
    const snapshot = this.snapshots.build({
      views: this.ingest.all(),
      priorityOf: (id, connector) => this.options.store.get(id, connector)?.priority ?? 0,
      holdOf: (id) => this.enforcer.hold(id),
      limitOf: (id) => this.enforcer.limitInForce(id),
      minCurrentA: this.options.limits.minCurrentA,
      failsafe: this.failsafe,
      isOnline: (id) => this.options.heartbeat.isCommandable(id),
      busy: (id) => this.enforcer.busy(id),
      maxPowerW: this.budget.value,
      nominalVoltageV: this.options.nominalVoltageV,
    });
    const graceUntil = this.reportGraceUntilMs;
    const result = allocate(graceUntil !== undefined && graceUntil > now ? { ...snapshot, reportGraceUntilMs: graceUntil } : snapshot, this.options.scheduler, now);
    if (this.log.isLevelEnabled('trace')) this.log.trace({ snapshot, decisions: result.decisions }, 'recomputed');
    this.plannedW = result.plannedW;
    const seen = new Set<string>();
    // Reasons name the budget: after a budget change a reworded reason is news even when the decision is not.
    const budgetMoved = this.plannedForW !== snapshot.maxPowerW;
    this.plannedForW = snapshot.maxPowerW;
    for (const decision of result.decisions) {
      seen.add(decision.moduleId);
      const previous = this.decisions.get(decision.moduleId);
      this.decisions.set(decision.moduleId, decision);
      const reworded = budgetMoved && previous?.reason !== decision.reason;
      if (!previous || reworded || previous.decision !== decision.decision || previous.reasonCode !== decision.reasonCode || currentMoved(previous.currentA, decision.currentA)) {
        this.log.info({ moduleId: decision.moduleId, decision: decision.decision, currentA: decision.currentA, reason: decision.reason }, 'decision');
        this.emit({
          type: 'decision',
          module_id: decision.moduleId,
          connector_id: decision.connectorId,
          decision: decision.decision,
          reason: decision.reason,
          reason_code: decision.reasonCode,
          current_a: decision.currentA ?? null,
          at: this.iso(),
        });
      }
      const id = decision.moduleId;
      if (this.enforcer.hasLimits(id)) {
        // Current control holds and releases through the limit alone: no pause/resume from the plan.
        this.enforcer.setDesired(id, 'leave');
        if (decision.currentA !== undefined && !this.enforcer.manualHold(id)) this.enforcer.setLimit(id, decision.currentA, this.snapshots.minCurrentA(id), result.urgentDecrease ?? false, provisionalOf(decision));
      } else if (!this.enforcer.manualHold(id)) this.enforcer.setDesired(id, decision.decision, decision.demandW);
    }
    // EVSEs with no session get no decision, but still need old claims released (start-up reconcile).
    for (const moduleId of this.ingest.moduleIds()) {
      if (seen.has(moduleId)) continue;
      this.decisions.delete(moduleId);
      this.enforcer.setDesired(moduleId, 'leave');
    }
    if (this.reviewAt.value !== result.nextReviewAtMs) this.reviewAt.next(result.nextReviewAtMs);
    this.recomputed$.next(now);
  }

  private emit(event: SiteEvent): void {
    this.eventSubject.next(event);
  }

  private iso(): string {
    return new Date(this.rx.now()).toISOString();
  }
}

/** A decision event for a current change only when it is one a person would notice (same step as the wire). */
function currentMoved(before: number | undefined, after: number | undefined): boolean {
  if (before === undefined || after === undefined) return before !== after;
  return Math.abs(after - before) >= 1 || (before === 0) !== (after === 0);
}

/** Whether a decision admits a session provisionally (`leftover`), normally, or does not say (an increase awaiting released power). */
function provisionalOf(decision: Decision): boolean | undefined {
  if (decision.reasonCode === 'awaiting_release') return undefined;
  return decision.reasonCode === 'leftover';
}
