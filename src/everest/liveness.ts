import type { Logger } from '../log/logger.js';
import { RepeatedWarnings } from '../log/repeats.js';
import {
  BehaviorSubject,
  EMPTY,
  Subject,
  asyncScheduler,
  distinctUntilChanged,
  map,
  switchMap,
  timer,
  type Observable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { ConnectionStatus } from '../transport/mqtt-transport.js';
import type { Heartbeat } from './payloads.js';
import type { Tagged } from './client.js';
import { NOOP_EVEREST_METRICS, type EverestMetrics } from './metrics.js';

/** What liveness uses of the EVerest client (EverestClient in the module): heartbeats in, communication checks out. */
export interface LivenessClient {
  /** Every module's heartbeats on one stream (one subscriber for all EVSEs, not one each). */
  onEvery(name: 'heartbeat'): Observable<Tagged<Heartbeat>>;
  send(moduleId: string, name: 'communication_check', payload: boolean): Promise<void>;
}

export interface CommunicationCheckOptions {
  client: LivenessClient;
  status$: Observable<ConnectionStatus>;
  moduleIds: readonly string[];
  intervalMs: number;
  logger: Logger;
  scheduler?: SchedulerLike;
}

/**
 * Keeps EVerest's communication check satisfied: the bare JSON `true` to every EVSE at once on each
 * (re)connect, then every interval. Never `false` unless asked at shutdown: `false` switches the
 * check off in EVerest for good, until it restarts.
 */
export class CommunicationCheck {
  private readonly lastSent = new Map<string, number>();
  private subscription: Subscription | undefined;
  private readonly scheduler: SchedulerLike;

  constructor(private readonly options: CommunicationCheckOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  start(): void {
    if (this.subscription) return;
    this.subscription = this.options.status$
      .pipe(switchMap((status) => (status === 'online' ? timer(0, this.options.intervalMs, this.scheduler) : EMPTY)))
      .subscribe(() => this.tick(true));
  }

  /** Time of the last `true` sent to an EVSE (scheduler clock), for status and tests. */
  lastSentAt(moduleId: string): number | undefined {
    return this.lastSent.get(moduleId);
  }

  async stop(sendFalse: boolean): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    if (sendFalse) {
      this.options.logger.warn('sending communication_check false: EVerest stops checking until it restarts');
      await Promise.allSettled(this.options.moduleIds.map((id) => this.options.client.send(id, 'communication_check', false)));
    }
  }

  private tick(value: boolean): void {
    const now = this.scheduler.now();
    for (const moduleId of this.options.moduleIds) {
      this.options.client.send(moduleId, 'communication_check', value).then(
        () => this.lastSent.set(moduleId, now),
        (err: Error) => {
          // Disconnected between status and publish: the next connect sends at once anyway.
          this.options.logger.debug({ moduleId, err: err.message }, 'communication check not sent');
        },
      );
    }
  }
}

export type HeartbeatStatus = 'unknown' | 'online' | 'stale' | 'restarted';

export interface Liveness {
  moduleId: string;
  status: HeartbeatStatus;
  counter?: number;
  lastSeenMs?: number;
  /** Heartbeats known lost (sum of counter gaps). */
  lost: number;
  restarts: number;
}

export type LivenessEvent =
  | { moduleId: string; type: 'online' | 'stale' }
  | { moduleId: string; type: 'gap'; lost: number; counter: number }
  | { moduleId: string; type: 'restart'; counter: number; previous: number };

export interface HeartbeatMonitorOptions {
  client: LivenessClient;
  moduleIds: readonly string[];
  /** Silence longer than this marks the EVSE stale; 0 disables silence detection. */
  timeoutMs: number;
  logger: Logger;
  scheduler?: SchedulerLike;
  metrics?: EverestMetrics;
}

/** Watches e2m/heartbeat per EVSE: silence, counter gaps (lost messages) and resets (EVerest restarted). */
export class HeartbeatMonitor {
  private readonly states = new Map<string, BehaviorSubject<Liveness>>();
  private readonly staleTimers = new Map<string, Subscription>();
  private readonly eventSubject = new Subject<LivenessEvent>();
  private readonly changeSubject = new Subject<Liveness>();
  private readonly subscriptions: Subscription[] = [];
  private readonly scheduler: SchedulerLike;
  private readonly metrics: EverestMetrics;
  /**
   * One kind for every module: a real EVerest restart resets all its modules' counters at once, and a
   * peer can reset them at will (hundreds of lines in a 10-minute bench:soak). The first reset per
   * interval is logged whole, the rest counted; the restart event and the module's `restarts` count every one.
   */
  private readonly resets: RepeatedWarnings;

  readonly events$ = this.eventSubject.asObservable();
  /**
   * Every watched module's liveness after each beat or silence, on one stream (one subscriber for all
   * EVSEs, not one each). Not replayed: current() gives the state before the first change.
   */
  readonly changes$: Observable<Liveness> = this.changeSubject.asObservable();

  constructor(private readonly options: HeartbeatMonitorOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics = options.metrics ?? NOOP_EVEREST_METRICS;
    this.resets = new RepeatedWarnings(options.logger, {
      message: 'heartbeat counter reset: EVerest restarted',
      ...(options.scheduler ? { timer: options.scheduler } : {}),
    });
    for (const moduleId of options.moduleIds) {
      this.states.set(moduleId, new BehaviorSubject<Liveness>({ moduleId, status: 'unknown', lost: 0, restarts: 0 }));
    }
    // onBeat ignores modules not watched here.
    this.subscriptions.push(
      options.client.onEvery('heartbeat').subscribe(({ moduleId, value }) => this.onBeat(moduleId, typeof value === 'number' ? value : undefined)),
    );
  }

  /** Replayed, de-duplicated per-EVSE status. */
  status$(moduleId: string): Observable<HeartbeatStatus> {
    return this.state$(moduleId).pipe(
      map((s) => s.status),
      distinctUntilChanged(),
    );
  }

  state$(moduleId: string): Observable<Liveness> {
    const state = this.states.get(moduleId);
    if (!state) throw new Error(`no heartbeat monitor for ${moduleId}`);
    return state.asObservable();
  }

  current(moduleId: string): Liveness | undefined {
    return this.states.get(moduleId)?.value;
  }

  /** Commands go only to an EVSE whose heartbeat is current. */
  isCommandable(moduleId: string): boolean {
    // With monitoring off (EVerest's heartbeat disabled) there is nothing to judge by.
    if (this.options.timeoutMs <= 0) return this.states.has(moduleId);
    const status = this.current(moduleId)?.status;
    return status === 'online' || status === 'restarted';
  }

  dispose(): void {
    this.resets.flush();
    for (const s of this.subscriptions) s.unsubscribe();
    for (const t of this.staleTimers.values()) t.unsubscribe();
    this.staleTimers.clear();
    for (const s of this.states.values()) s.complete();
    this.eventSubject.complete();
    this.changeSubject.complete();
  }

  private onBeat(moduleId: string, counter: number | undefined): void {
    const subject = this.states.get(moduleId);
    if (!subject) return;
    const prev = subject.value;
    const now = this.scheduler.now();
    this.metrics.heartbeatSeen(moduleId, now);
    let status: HeartbeatStatus = 'online';
    let { lost, restarts } = prev;
    if (counter !== undefined && prev.counter !== undefined) {
      if (counter < prev.counter || (counter === 0 && prev.counter !== 0)) {
        restarts += 1;
        status = 'restarted';
        this.resets.warnKind('restart', moduleId, { moduleId, counter, previous: prev.counter });
        this.eventSubject.next({ moduleId, type: 'restart', counter, previous: prev.counter });
      } else if (counter > prev.counter + 1) {
        const gap = counter - prev.counter - 1;
        lost += gap;
        this.options.logger.info({ moduleId, lost: gap, counter }, 'heartbeat gap: messages lost');
        this.eventSubject.next({ moduleId, type: 'gap', lost: gap, counter });
      }
    }
    if (status === 'online' && prev.status !== 'online') {
      this.eventSubject.next({ moduleId, type: 'online' });
    }
    this.set(subject, { moduleId, status, counter: counter ?? prev.counter, lastSeenMs: now, lost, restarts });
    this.armStaleTimer(moduleId);
  }

  private set(subject: BehaviorSubject<Liveness>, next: Liveness): void {
    subject.next(next);
    this.changeSubject.next(next);
  }

  private armStaleTimer(moduleId: string): void {
    if (this.options.timeoutMs <= 0) return;
    this.staleTimers.get(moduleId)?.unsubscribe();
    this.staleTimers.set(
      moduleId,
      this.scheduler.schedule(() => {
        const subject = this.states.get(moduleId);
        if (!subject) return;
        this.options.logger.warn({ moduleId, timeoutMs: this.options.timeoutMs }, 'heartbeat silent: EVSE stale');
        this.set(subject, { ...subject.value, status: 'stale' });
        this.eventSubject.next({ moduleId, type: 'stale' });
      }, this.options.timeoutMs),
    );
  }
}
