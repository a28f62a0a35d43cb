import type { Logger } from 'pino';
import {
  BehaviorSubject,
  EMPTY,
  Subject,
  asyncScheduler,
  catchError,
  map,
  merge,
  switchMap,
  throttleTime,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { CamelCased, EvseConfig } from '../config/types.js';
import type { EverestClient } from '../everest/client.js';
import type { HeartbeatMonitor } from '../everest/liveness.js';
import type { ConnectorDirectory } from '../priorities/resolve.js';
import type { PriorityStore } from '../priorities/store.js';
import { isFinal, type ActionOrigin, type ActionRecord, type ActionRequest } from './actions.js';
import { Enforcer, type EnforcerConfig } from './enforcer.js';
import { initialEvseView, reduceEvseView, type EvseInput, type EvseView } from './evse-view.js';
import type { Decision, SchedulerConfig } from './model.js';
import { schedule } from './scheduler.js';
import { buildSnapshot, type Grant, type OurIntent } from './snapshot.js';

/** One entry of the configuration's `evses` list, as the site uses it. */
export type SiteEvseConfig = Pick<CamelCased<EvseConfig>, 'moduleId' | 'connectors' | 'phases' | 'maxCurrentA'>;

export interface SiteControllerOptions {
  client: EverestClient;
  heartbeat: HeartbeatMonitor;
  store: PriorityStore;
  directory: ConnectorDirectory;
  evses: SiteEvseConfig[];
  maxPowerW: number;
  nominalVoltageV: number;
  scheduler: SchedulerConfig;
  enforcer: EnforcerConfig;
  logger: Logger;
  /** Coalescing window for bursts of changes; the first change of a burst is decided at once. */
  recomputeThrottleMs?: number;
  rxScheduler?: SchedulerLike;
}

export type SiteEvent =
  | { type: 'session_state'; module_id: string; connector_id: number; state: string; previous: string; at: string }
  | { type: 'decision'; module_id: string; connector_id: number; decision: Decision['decision']; reason: string; reason_code: string; at: string }
  | { type: 'action'; action: ActionRecord; at: string }
  | { type: 'budget'; max_power_w: number; set_by: string; at: string }
  | { type: 'liveness'; module_id: string; status: string; at: string };

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
export class SiteController {
  private readonly views = new Map<string, EvseView>();
  private readonly viewSubject = new Subject<EvseView>();
  private readonly eventSubject = new Subject<SiteEvent>();
  /** Meter-type changes (power, energy, limits): many per second across a site, coalesced. */
  private readonly routineSubject = new Subject<string>();
  private recomputing = false;
  private recomputeAgain = false;
  private readonly budget: BehaviorSubject<number>;
  /** Latest decision per EVSE (an EvseManager runs one session at a time). */
  private readonly decisions = new Map<string, Decision>();
  private readonly grants = new Map<string, Grant>();
  private readonly intents = new Map<string, OurIntent>();
  private readonly subscriptions: Subscription[] = [];
  private readonly reviewAt = new BehaviorSubject<number | undefined>(undefined);
  private readonly rx: SchedulerLike;
  private readonly log: Logger;
  private plannedW = 0;
  readonly enforcer: Enforcer;

  /** Every EVSE view after each change. */
  readonly views$: Observable<EvseView> = this.viewSubject.asObservable();
  /** Session state changes, decisions, actions and budget changes, for SSE, webhooks and MQTT. */
  readonly events$: Observable<SiteEvent> = this.eventSubject.asObservable();
  /** Fires after every recomputation (for the MQTT state topics and tests). */
  readonly recomputed$ = new Subject<number>();

  constructor(private readonly options: SiteControllerOptions) {
    this.rx = options.rxScheduler ?? asyncScheduler;
    this.log = options.logger;
    this.budget = new BehaviorSubject(options.maxPowerW);
    for (const evse of options.evses) this.views.set(evse.moduleId, initialEvseView(evse.moduleId, evse.connectors));
    this.enforcer = new Enforcer({
      port: options.client,
      config: options.enforcer,
      views$: this.views$,
      view: (id) => this.views.get(id),
      isCommandable: (id) => options.heartbeat.isCommandable(id),
      logger: options.logger.child({ component: 'enforcer' }),
      scheduler: this.rx,
    });
  }

  start(): void {
    const { client, heartbeat, store } = this.options;
    for (const evse of this.options.evses) {
      const id = evse.moduleId;
      const channel = client.evse(id);
      const inputs: Observable<EvseInput> = merge(
        channel.on('session_event').pipe(map((value) => ({ kind: 'session_event', value }) as const)),
        channel.on('session_info').pipe(map((value) => ({ kind: 'session_info', value }) as const)),
        channel.on('powermeter').pipe(map((value) => ({ kind: 'powermeter', value }) as const)),
        channel.on('limits').pipe(map((value) => ({ kind: 'limits', value }) as const)),
        channel.on('enforced_limits').pipe(map((value) => ({ kind: 'enforced_limits', value }) as const)),
        channel.on('hw_capabilities').pipe(map((value) => ({ kind: 'hw_capabilities', value }) as const)),
        channel.on('evse_id').pipe(map((value) => ({ kind: 'evse_id', value }) as const)),
        heartbeat.state$(id).pipe(map((value) => ({ kind: 'liveness', value }) as const)),
      );
      this.subscriptions.push(inputs.subscribe((input) => this.apply(id, input)));
      // Learn the connectors once the EVSE is reachable; a missing reply only costs the config's guess.
      this.subscriptions.push(
        heartbeat
          .status$(id)
          .pipe(
            switchMap((status) =>
              status === 'online' || status === 'restarted'
                ? this.enforcer.exclusive(id, () => channel.request('get_evse')).pipe(
                    catchError((err: Error) => {
                      this.log.info({ moduleId: id, err: err.message }, 'get_evse failed; keeping the configured connectors');
                      return EMPTY;
                    }),
                  )
                : EMPTY,
            ),
          )
          .subscribe((evse) => this.apply(id, { kind: 'connectors', value: evse.connectors })),
      );
    }
    this.subscriptions.push(
      heartbeat.events$.subscribe((event) => {
        // The monitor also watches the limits modules (external_energy_limits_consumer_API): their
        // liveness is reported like an EVSE's, but they have no enforcer lane of their own.
        const isEvse = this.views.has(event.moduleId);
        if (event.type === 'restart' && isEvse) this.enforcer.onEverestRestart(event.moduleId);
        if (event.type === 'online' || event.type === 'stale') {
          this.emit({ type: 'liveness', module_id: event.moduleId, status: event.type, at: this.iso() });
          if (isEvse) this.enforcer.poke(event.moduleId);
        }
      }),
      this.enforcer.actions$.subscribe((action) => this.onAction(action)),
      // Events a person or a car caused (priority, budget, session events, finished commands, liveness)
      // are decided at once; meter-type updates are coalesced so 1000 EVSEs' samples cost a few
      // recomputes per second, the first of a burst still without delay.
      merge(store.changes$, this.budget).subscribe(() => this.requestRecompute()),
      this.routineSubject
        .pipe(throttleTime(this.options.recomputeThrottleMs ?? 10, this.rx, { leading: true, trailing: true }))
        .subscribe(() => this.requestRecompute()),
      // A timer only for the next expiring on/off window or reservation, never a polling loop.
      this.reviewAt
        .pipe(switchMap((at) => (at === undefined ? EMPTY : timer(Math.max(0, at - this.rx.now()), this.rx))))
        .subscribe(() => this.requestRecompute()),
    );
  }

  stop(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.length = 0;
    this.enforcer.dispose();
    this.viewSubject.complete();
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
    return this.views.get(moduleId);
  }

  allViews(): EvseView[] {
    return [...this.views.values()];
  }

  decisionFor(moduleId: string): Decision | undefined {
    return this.decisions.get(moduleId);
  }

  summary(): SiteSummary {
    let measured = 0;
    for (const v of this.views.values()) measured += v.powerW;
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

  private apply(moduleId: string, input: EvseInput): void {
    const prev = this.views.get(moduleId);
    if (!prev) return;
    const next = reduceEvseView(prev, input, this.rx.now());
    this.views.set(moduleId, next);
    if (input.kind === 'evse_id') this.options.directory.learnEvseId(moduleId, input.value);
    if (prev.state !== next.state) {
      this.emit({ type: 'session_state', module_id: moduleId, connector_id: next.connectorId, state: next.state, previous: prev.state, at: this.iso() });
    }
    if (input.kind === 'session_event' && input.value.event === 'SessionFinished') this.onSessionFinished(moduleId, prev.connectorId);
    this.viewSubject.next(next);
    if (input.kind === 'session_event' || input.kind === 'connectors') this.requestRecompute();
    else if (input.kind === 'liveness') {
      // Every heartbeat refreshes lastSeen; only a change of status can change a decision.
      if (prev.liveness.status !== next.liveness.status) this.requestRecompute();
    } else this.routineSubject.next(input.kind);
  }

  /** Runs the scheduler now; a request made while it runs (a synchronous echo) runs once more after. */
  private requestRecompute(): void {
    if (this.recomputing) {
      this.recomputeAgain = true;
      return;
    }
    this.recomputing = true;
    try {
      do {
        this.recomputeAgain = false;
        this.recompute();
      } while (this.recomputeAgain);
    } finally {
      this.recomputing = false;
    }
  }

  private onSessionFinished(moduleId: string, connectorId: number): void {
    this.grants.delete(moduleId);
    this.intents.delete(moduleId);
    this.options.store.clearSessionScoped(moduleId, connectorId).catch((err: Error) => {
      // The priority stays until the next SessionFinished or a person deletes it; say so loudly.
      this.log.error({ moduleId, connectorId, err: err.message }, 'could not clear session-scoped priority');
    });
  }

  private onAction(action: ActionRecord): void {
    // Our intent counts from the moment a command goes out (the scheduler's hysteresis relies on it).
    if (action.status === 'in_flight' && action.attempts === 1) {
      const id = action.module_id;
      const now = this.rx.now();
      if (action.type === 'pause' || action.type === 'disable') {
        this.intents.set(id, { pausedByUs: true, lastOffMs: now });
        this.grants.delete(id);
      } else if (action.type === 'resume' || action.type === 'enable' || action.type === 'release') {
        const intent = this.intents.get(id);
        this.intents.set(id, { pausedByUs: false, ...(intent?.lastOffMs !== undefined ? { lastOffMs: intent.lastOffMs } : {}) });
        // Power handed out to a car that is about to start is reserved until its meter shows it; a
        // start-up release of an old claim hands out nothing.
        const decision = this.decisions.get(id);
        if (action.origin !== 'reconcile' && decision?.decision === 'charge' && decision.demandW > 0 && this.views.get(id)?.state !== 'Charging') {
          this.grants.set(id, { atMs: now, w: decision.demandW });
        }
      }
    }
    this.emit({ type: 'action', action, at: this.iso() });
    // A finished command frees the lane and may have changed what the EVSE draws.
    if (isFinal(action.status)) this.requestRecompute();
  }

  private recompute(): void {
    const now = this.rx.now();
    const snapshot = buildSnapshot({
      views: this.views.values(),
      evses: this.options.evses,
      priorityOf: (id, connector) => this.options.store.get(id, connector)?.priority ?? 0,
      grants: this.grants,
      intents: this.intents,
      isOnline: (id) => this.options.heartbeat.isCommandable(id),
      busy: (id) => this.enforcer.busy(id),
      maxPowerW: this.budget.value,
      nominalVoltageV: this.options.nominalVoltageV,
    });
    const result = schedule(snapshot, this.options.scheduler, now);
    if (this.log.isLevelEnabled('trace')) this.log.trace({ snapshot, decisions: result.decisions }, 'recomputed');
    this.plannedW = result.plannedW;
    const seen = new Set<string>();
    for (const decision of result.decisions) {
      seen.add(decision.moduleId);
      const previous = this.decisions.get(decision.moduleId);
      this.decisions.set(decision.moduleId, decision);
      if (!previous || previous.decision !== decision.decision || previous.reasonCode !== decision.reasonCode) {
        this.log.info({ moduleId: decision.moduleId, decision: decision.decision, reason: decision.reason }, 'decision');
        this.emit({
          type: 'decision',
          module_id: decision.moduleId,
          connector_id: decision.connectorId,
          decision: decision.decision,
          reason: decision.reason,
          reason_code: decision.reasonCode,
          at: this.iso(),
        });
      }
      if (!this.enforcer.manualHold(decision.moduleId)) this.enforcer.setDesired(decision.moduleId, decision.decision);
    }
    // EVSEs with no session get no decision, but still need old claims released (start-up reconcile).
    for (const moduleId of this.views.keys()) {
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
