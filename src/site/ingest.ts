// Ingest: EVerest streams -> site state. Folds each EVSE's e2m streams and liveness into one view per
// EVSE (the pure reducer in evse-view.ts) and says which changes may alter the plan. It owns the
// views and nothing else: planning and enforcement only read them.
import type { Logger } from '../log/logger.js';
import { EMPTY, Subject, Subscription, asyncScheduler, catchError, type Observable, type SchedulerLike } from 'rxjs';
import type { EverestClient } from '../everest/client.js';
import type { E2mPayloads, E2mVar, Evse } from '../everest/payloads.js';
import type { HeartbeatMonitor, Liveness } from '../everest/liveness.js';
import type { ConnectorDirectory } from '../priorities/resolve.js';
import { EvseReads } from './evse-reads.js';
import { initialEvseView, reduceEvseView, type EvseInput, type EvseView } from './evse-view.js';

/** 'decide': a change a person or a car caused (decided at once); 'routine': a meter-type update (may be coalesced). */
export type IngestChange = 'decide' | 'routine';

export interface SessionStateChange {
  moduleId: string;
  connectorId: number;
  state: string;
  previous: string;
}

export interface SiteIngestOptions {
  client: EverestClient;
  heartbeat: HeartbeatMonitor;
  directory: ConnectorDirectory;
  evses: ReadonlyArray<{ moduleId: string; connectors: number[] }>;
  /** Runs a read-only request in the EVSE's command lane (get_evse never overlaps a command). */
  exclusive: <T>(moduleId: string, request: () => Observable<T>) => Observable<T>;
  now: () => number;
  logger: Logger;
  scheduler?: SchedulerLike;
  /** Fires when the broker connection is back after a loss: events sent meanwhile are gone, so every state is in doubt. */
  reconnects$?: Observable<unknown>;
}

type IngestedVar = Extract<E2mVar, 'session_event' | 'session_info' | 'powermeter' | 'limits' | 'enforced_limits' | 'hw_capabilities' | 'ev_info' | 'evse_id'>;

export class SiteIngest {
  private readonly views = new Map<string, EvseView>();
  private readonly viewSubject = new Subject<EvseView>();
  private readonly stateSubject = new Subject<SessionStateChange>();
  private readonly finishedSubject = new Subject<{ moduleId: string; connectorId: number }>();
  private readonly changeSubject = new Subject<IngestChange>();

  /** Every EVSE view after each change. */
  readonly views$: Observable<EvseView> = this.viewSubject.asObservable();
  /** Session state changes. */
  readonly stateChanges$: Observable<SessionStateChange> = this.stateSubject.asObservable();
  /** A session ended (SessionFinished), with the connector it was on. */
  readonly sessionFinished$ = this.finishedSubject.asObservable();
  /** After the view changed: whether the change may alter the plan, and how urgently. */
  readonly changes$: Observable<IngestChange> = this.changeSubject.asObservable();

  constructor(private readonly options: SiteIngestOptions) {
    for (const evse of options.evses) this.views.set(evse.moduleId, initialEvseView(evse.moduleId, evse.connectors));
  }

  view(moduleId: string): EvseView | undefined {
    return this.views.get(moduleId);
  }

  all(): IterableIterator<EvseView> {
    return this.views.values();
  }

  moduleIds(): IterableIterator<string> {
    return this.views.keys();
  }

  /**
   * An event may be lost (a command's outcome is uncertain): the next session_info's state is the truth.
   * get_evse cannot settle it: EVerest's Evse object carries only id and connectors, no state.
   */
  doubt(moduleId: string): void {
    this.apply(moduleId, { kind: 'doubt' });
  }

  start(): Subscription[] {
    const { client, heartbeat } = this.options;
    const subscriptions: Subscription[] = [];
    // One subscription per variable for all EVSEs (not a Subject, map and merge per EVSE: memory at
    // 1000 EVSEs); apply() ignores modules that are not ours (the limits modules' heartbeats).
    const ingested = <K extends IngestedVar>(kind: K, toInput: (value: E2mPayloads[K]) => EvseInput): Subscription =>
      client.onEvery(kind).subscribe(({ moduleId, value }) => this.apply(moduleId, toInput(value)));
    subscriptions.push(
      ingested('session_event', (value) => ({ kind: 'session_event', value })),
      ingested('session_info', (value) => ({ kind: 'session_info', value })),
      ingested('powermeter', (value) => ({ kind: 'powermeter', value })),
      ingested('limits', (value) => ({ kind: 'limits', value })),
      ingested('enforced_limits', (value) => ({ kind: 'enforced_limits', value })),
      ingested('hw_capabilities', (value) => ({ kind: 'hw_capabilities', value })),
      ingested('ev_info', (value) => ({ kind: 'ev_info', value })),
      ingested('evse_id', (value) => ({ kind: 'evse_id', value })),
    );
    // Learn the connectors once the EVSE is reachable; a missing reply only costs the config's guess.
    const reads = new EvseReads((id) => this.readConnectors(id), this.options.scheduler ?? asyncScheduler);
    // Liveness of every EVSE from one stream: each view gets every change, the reads every status.
    const live = (liveness: Liveness): void => {
      if (!this.views.has(liveness.moduleId)) return;
      this.apply(liveness.moduleId, { kind: 'liveness', value: liveness });
      reads.status(liveness.moduleId, liveness.status);
    };
    subscriptions.push(heartbeat.changes$.subscribe(live), new Subscription(() => reads.stop()));
    // The state before the first change (the stream does not replay it).
    for (const id of this.views.keys()) {
      const current = heartbeat.current(id);
      if (current) live(current);
    }
    if (this.options.reconnects$) {
      subscriptions.push(
        this.options.reconnects$.subscribe(() => {
          this.options.logger.info('broker connection back: EVSE states are re-read from session_info');
          for (const id of this.views.keys()) this.doubt(id);
        }),
      );
    }
    return subscriptions;
  }

  stop(): void {
    this.viewSubject.complete();
    this.stateSubject.complete();
    this.finishedSubject.complete();
    this.changeSubject.complete();
  }

  private readConnectors(id: string): Subscription {
    return this.options
      .exclusive<Evse>(id, () => this.options.client.evse(id).request('get_evse'))
      .pipe(
        catchError((err: Error) => {
          this.options.logger.info({ moduleId: id, err: err.message }, 'get_evse failed; keeping the configured connectors');
          return EMPTY;
        }),
      )
      .subscribe((found) => this.apply(id, { kind: 'connectors', value: found.connectors }));
  }

  private apply(moduleId: string, input: EvseInput): void {
    const prev = this.views.get(moduleId);
    if (!prev) return;
    const next = reduceEvseView(prev, input, this.options.now());
    this.views.set(moduleId, next);
    if (input.kind === 'evse_id') this.options.directory.learnEvseId(moduleId, input.value);
    if (prev.state !== next.state) this.stateSubject.next({ moduleId, connectorId: next.connectorId, state: next.state, previous: prev.state });
    // A session whose SessionFinished was lost ends when a session_info read in doubt shows no session.
    const ended = input.kind === 'session_event' ? input.value.event === 'SessionFinished' : input.kind === 'session_info' && prev.session !== undefined && !next.session;
    if (ended) this.finishedSubject.next({ moduleId, connectorId: prev.connectorId });
    this.viewSubject.next(next);
    if (input.kind === 'session_event' || input.kind === 'connectors' || (input.kind === 'session_info' && prev.state !== next.state)) this.changeSubject.next('decide');
    else if (input.kind === 'liveness') {
      // Every heartbeat refreshes lastSeen; only a change of status can change a decision.
      if (prev.liveness.status !== next.liveness.status) this.changeSubject.next('decide');
    } else if (next !== prev && (prev.session || next.session)) {
      // Only sessions are planned: a meter sample or a limit of an EVSE without a car changes no plan
      // (most of a large site's EVSEs most of the time).
      this.changeSubject.next('routine');
    }
  }
}
