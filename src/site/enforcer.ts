import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  Observable,
  Subject,
  asyncScheduler,
  filter,
  map,
  of,
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
import { isFinal, type ActionOrigin, type ActionRecord, type ActionRequest, type ActionStatus, type ActionType } from './actions.js';
import type { EvseView } from './evse-view.js';
import type { DecisionKind } from './model.js';

/** The slice of the EVerest client the enforcer needs. */
export type CommandPort = Pick<EverestClient, 'request'>;

/** The `enforcer` section of the configuration, plus what the composition root derives from it. */
export type EnforcerConfig = CamelCased<EnforcerSection> & {
  /** After a rejection the same command is not derived again for this long (no hammering). */
  rejectCooldownMs: number;
};

export interface EnforcerOptions {
  port: CommandPort;
  config: EnforcerConfig;
  views$: Observable<EvseView>;
  view: (moduleId: string) => EvseView | undefined;
  isCommandable: (moduleId: string) => boolean;
  logger: Logger;
  scheduler?: SchedulerLike;
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
}

class ActionRejected extends Error {}
class ConfirmTimeout extends Error {}

const FINISHED_STATES = new Set(['Finished', 'FinishedEVSE', 'FinishedEV', 'Unplugged']);

/**
 * Turns wishes (scheduler decisions, API actions) into EVerest commands with one command in flight
 * per EVSE: the next goes out only after the reply AND the confirming state change (or a timeout).
 */
export class Enforcer {
  private readonly lanes = new Map<string, Lane>();
  private readonly actions = new Map<string, ActionRecord>();
  private readonly actionSubject = new Subject<ActionRecord>();
  private readonly scheduler: SchedulerLike;
  private readonly viewSub: Subscription;
  private readonly log: Logger;
  private disposed = false;

  /** Every status change of every action. */
  readonly actions$ = this.actionSubject.asObservable();

  constructor(private readonly options: EnforcerOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.log = options.logger;
    this.viewSub = options.views$.subscribe((view) => this.onView(view));
  }

  /** Records what the scheduler wants for an EVSE; commands follow when the lane is free. */
  setDesired(moduleId: string, desired: DecisionKind): void {
    const lane = this.lane(moduleId);
    if (lane.desired === desired) return;
    lane.desired = desired;
    this.pump(lane);
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

  /** EVerest restarted: its enable table starts empty, so our claim is gone. */
  onEverestRestart(moduleId: string): void {
    const lane = this.lane(moduleId);
    lane.claim = lane.manual === 'disable' ? 'unknown' : 'none';
    this.pump(lane);
  }

  /** Re-evaluate a lane (liveness changed, cooldown over). */
  poke(moduleId: string): void {
    const lane = this.lanes.get(moduleId);
    if (lane) this.pump(lane);
  }

  dispose(): void {
    this.disposed = true;
    this.viewSub.unsubscribe();
    for (const lane of this.lanes.values()) lane.work?.unsubscribe();
    this.actionSubject.complete();
  }

  private lane(moduleId: string): Lane {
    let lane = this.lanes.get(moduleId);
    if (!lane) {
      lane = { moduleId, queue: [], queries: [], queryInFlight: false, claim: 'unknown' };
      this.lanes.set(moduleId, lane);
    }
    return lane;
  }

  private onView(view: EvseView): void {
    const lane = this.lanes.get(view.moduleId);
    if (!lane) return;
    if (lane.manual === 'pause' && !view.session) lane.manual = undefined;
    if (!lane.inFlight && !lane.queryInFlight) this.pump(lane);
  }

  private pump(lane: Lane): void {
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
    // Any earlier claim of ours (from a previous run, or a hold that is over) is released first,
    // with Unassigned: a blind Enable would override other sources' decisions.
    if (lane.claim === 'unknown' || lane.claim === 'disable') return 'release';
    if (lane.desired === 'pause' && view.state === 'Charging') return 'pause';
    if (lane.desired === 'charge' && view.state === 'ChargingPausedEVSE') return 'resume';
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
    this.attempt(lane, record);
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
    if (!reply) throw new ActionRejected(`EVSE answered false to ${record.type}`);
    const done = (v: EvseView): boolean => {
      if (!v.session) return true;
      if (record.type === 'pause') return v.state === 'ChargingPausedEVSE';
      if (record.type === 'resume') return v.state === 'Charging' || v.state === 'ChargingPausedEV';
      return FINISHED_STATES.has(v.state);
    };
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

  private onError(lane: Lane, record: ActionRecord, err: Error): void {
    if (err instanceof ActionRejected) {
      this.finish(lane, record, 'rejected', { reply: false, result: err.message });
      return;
    }
    if (err instanceof ConfirmTimeout) {
      this.finish(lane, record, 'timed_out', { reply: true, result: err.message });
      return;
    }
    const retryable = err instanceof RequestTimeoutError || err instanceof RequestPublishError;
    const { maxRetries, retryBackoffMs } = this.options.config;
    if (retryable && record.attempts <= maxRetries && !this.disposed) {
      const delay = retryBackoffMs * 2 ** (record.attempts - 1);
      this.log.info({ moduleId: record.module_id, action: record.type, attempt: record.attempts, delay, err: err.message }, 'retrying command');
      this.update(record, 'in_flight', { result: `retrying after: ${err.message}` });
      // The lane stays busy during the backoff: nothing else goes to this EVSE meanwhile.
      lane.work = this.scheduler.schedule(() => {
        if (this.options.isCommandable(record.module_id)) this.attempt(lane, record);
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
    this.update(record, status, extra);
    this.pump(lane);
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
