import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Observable, Subject, asyncScheduler, type SchedulerLike } from 'rxjs';
import type { MqttTransport } from '../transport/mqtt-transport.js';
import type { Contract } from './contract.js';
import { InvalidReplyError, RequestPublishError, RequestTimeoutError, UnknownEvseError } from './errors.js';
import { NOOP_EVEREST_METRICS, type EverestMetrics } from './metrics.js';
import type { E2mPayloads, E2mVar, M2eRequest, M2eRequests, M2eSend, M2eSends } from './payloads.js';
import type { EverestTopics } from './topics.js';

export interface EverestClientOptions {
  transport: MqttTransport;
  contract: Contract;
  topics: EverestTopics;
  logger: Logger;
  requestTimeoutMs: number;
  scheduler?: SchedulerLike;
  metrics?: EverestMetrics;
}

/** A message EVerest sent that we could not use; it was logged, counted and dropped. */
export interface InvalidMessage {
  topic: string;
  moduleId: string;
  name: string;
  reason: string;
}

interface PendingRequest {
  command: M2eRequest;
  moduleId: string;
  startedAt: number;
  settle: (reply: unknown) => void;
  fail: (error: Error) => void;
}

/** Arguments of a request: none for the commands whose envelope carries no payload. */
type RequestArgs<K extends M2eRequest> = M2eRequests[K]['payload'] extends void ? [] : [payload: M2eRequests[K]['payload']];

/**
 * One client for all EVSEs on one MQTT connection: routes e2m messages to typed per-EVSE streams
 * (parsed and validated once), and correlates request/reply by unique reply topic.
 */
export class EverestClient {
  private readonly streams = new Map<string, Map<string, Subject<unknown>>>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly invalidSubject = new Subject<InvalidMessage>();
  private readonly scheduler: SchedulerLike;
  private readonly metrics: EverestMetrics;
  private readonly log: Logger;
  private readonly stopRouting: () => void;
  private readonly knownVars: ReadonlySet<string>;

  /** Every message that failed JSON parsing or validation. */
  readonly invalid$ = this.invalidSubject.asObservable();

  constructor(private readonly options: EverestClientOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics = options.metrics ?? NOOP_EVEREST_METRICS;
    this.log = options.logger;
    this.knownVars = new Set(options.contract.e2mNames());
    this.stopRouting = options.transport.onMessage((topic, payload) => this.route(topic, payload));
  }

  get moduleIds(): string[] {
    return [...this.streams.keys()];
  }

  /** Number of requests awaiting a reply (for tests and metrics: must drain to zero). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Registers EVSEs and subscribes to everything they publish, replies included, before any
   * request can go out: a reply can beat a per-request SUBACK.
   */
  async addEvses(moduleIds: readonly string[]): Promise<void> {
    const fresh = moduleIds.filter((id) => !this.streams.has(id));
    for (const id of fresh) this.streams.set(id, new Map());
    await this.options.transport.subscribe(fresh.map((id) => this.options.topics.e2mFilter(id)));
  }

  evse(moduleId: string): EvseChannel {
    if (!this.streams.has(moduleId)) throw new UnknownEvseError(moduleId);
    return new EvseChannel(this, moduleId);
  }

  /** Typed stream of one e2m variable of one EVSE. Hot: only messages after subscription arrive. */
  on<K extends E2mVar>(moduleId: string, name: K): Observable<E2mPayloads[K]> {
    const perEvse = this.streams.get(moduleId);
    if (!perEvse) throw new UnknownEvseError(moduleId);
    let subject = perEvse.get(name);
    if (!subject) {
      subject = new Subject<unknown>();
      perEvse.set(name, subject);
    }
    return subject.asObservable() as Observable<E2mPayloads[K]>;
  }

  /**
   * Cold request: nothing is published until subscribed; unsubscribing cancels it and removes it
   * from the pending map. Emits the validated reply once, then completes.
   */
  request<K extends M2eRequest>(moduleId: string, command: K, ...args: RequestArgs<K>): Observable<M2eRequests[K]['reply']> {
    return new Observable<M2eRequests[K]['reply']>((subscriber) => {
      if (!this.streams.has(moduleId)) {
        subscriber.error(new UnknownEvseError(moduleId));
        return;
      }
      const { topics, transport, requestTimeoutMs } = this.options;
      const replyTo = topics.replyTo(moduleId, command, randomUUID());
      const startedAt = this.scheduler.now();
      const envelope = args.length > 0 ? { headers: { replyTo }, payload: args[0] } : { headers: { replyTo } };
      this.pending.set(replyTo, {
        command,
        moduleId,
        startedAt,
        settle: (reply) => {
          this.metrics.requestDone(command, this.scheduler.now() - startedAt, 'reply');
          subscriber.next(reply as M2eRequests[K]['reply']);
          subscriber.complete();
        },
        fail: (error) => subscriber.error(error),
      });
      const timer = this.scheduler.schedule(() => {
        this.metrics.requestDone(command, this.scheduler.now() - startedAt, 'timeout');
        subscriber.error(new RequestTimeoutError(command, moduleId, requestTimeoutMs));
      }, requestTimeoutMs);
      this.metrics.messageOut(command);
      transport.publish(topics.m2e(moduleId, command), JSON.stringify(envelope)).catch((err: Error) => {
        this.metrics.requestDone(command, this.scheduler.now() - startedAt, 'error');
        subscriber.error(new RequestPublishError(command, moduleId, err));
      });
      return () => {
        this.pending.delete(replyTo);
        timer.unsubscribe();
      };
    });
  }

  /** Fire-and-forget: the raw payload, no envelope. */
  async send<K extends M2eSend>(moduleId: string, command: K, payload: M2eSends[K]): Promise<void> {
    if (!this.streams.has(moduleId)) throw new UnknownEvseError(moduleId);
    this.metrics.messageOut(command);
    await this.options.transport.publish(this.options.topics.m2e(moduleId, command), JSON.stringify(payload));
  }

  dispose(): void {
    this.stopRouting();
    for (const pending of this.pending.values()) {
      pending.fail(new Error(`client disposed while ${pending.command} to ${pending.moduleId} was pending`));
    }
    this.pending.clear();
    for (const perEvse of this.streams.values()) for (const subject of perEvse.values()) subject.complete();
    this.invalidSubject.complete();
  }

  private route(topic: string, payload: Buffer): void {
    const parsed = this.options.topics.parse(topic);
    if (!parsed || parsed.direction !== 'e2m') return;
    const perEvse = this.streams.get(parsed.moduleId);
    if (!perEvse) return;
    if (parsed.rest.length > 0) {
      this.routeReply(topic, parsed.moduleId, payload);
      return;
    }
    const name = parsed.name;
    if (!this.knownVars.has(name)) {
      // Newer EVerest versions add variables; they are not errors, just nothing we use.
      this.log.debug({ topic }, 'ignored unknown e2m variable');
      return;
    }
    this.metrics.messageIn(name);
    let data: unknown;
    try {
      data = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      this.reject(topic, parsed.moduleId, name, `invalid JSON: ${(err as Error).message}`);
      return;
    }
    const result = this.options.contract.validateE2m(name as E2mVar, data);
    if (!result.ok) {
      this.reject(topic, parsed.moduleId, name, result.reason);
      return;
    }
    perEvse.get(name)?.next(result.value);
  }

  private routeReply(topic: string, moduleId: string, payload: Buffer): void {
    const pending = this.pending.get(topic);
    if (!pending) {
      // A reply after timeout or cancellation: harmless, but worth seeing when debugging.
      this.metrics.lateReply();
      this.log.debug({ topic, moduleId }, 'reply with no pending request (late or foreign)');
      return;
    }
    this.pending.delete(topic);
    let data: unknown;
    try {
      data = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      this.reject(topic, moduleId, pending.command, `invalid JSON reply: ${(err as Error).message}`);
      pending.fail(new InvalidReplyError(pending.command, moduleId, 'invalid JSON'));
      return;
    }
    const result = this.options.contract.validateReply(pending.command, data);
    if (!result.ok) {
      this.reject(topic, moduleId, pending.command, result.reason);
      pending.fail(new InvalidReplyError(pending.command, moduleId, result.reason));
      return;
    }
    pending.settle(result.value);
  }

  private reject(topic: string, moduleId: string, name: string, reason: string): void {
    this.metrics.invalid(name);
    this.log.warn({ topic, reason }, 'dropped invalid message');
    this.invalidSubject.next({ topic, moduleId, name, reason });
  }
}

/** The API of one EVSE (one evse_manager_consumer_API module_id): typed streams and commands. */
export class EvseChannel {
  constructor(
    private readonly client: EverestClient,
    readonly moduleId: string,
  ) {}

  on<K extends E2mVar>(name: K): Observable<E2mPayloads[K]> {
    return this.client.on(this.moduleId, name);
  }

  request<K extends M2eRequest>(command: K, ...args: RequestArgs<K>): Observable<M2eRequests[K]['reply']> {
    return this.client.request(this.moduleId, command, ...args);
  }

  send<K extends M2eSend>(command: K, payload: M2eSends[K]): Promise<void> {
    return this.client.send(this.moduleId, command, payload);
  }

  getEvse() {
    return this.request('get_evse');
  }
  enableDisable(payload: M2eRequests['enable_disable']['payload']) {
    return this.request('enable_disable', payload);
  }
  reserve(reservationId: number) {
    return this.request('reserve', reservationId);
  }
  pauseCharging() {
    return this.request('pause_charging');
  }
  resumeCharging() {
    return this.request('resume_charging');
  }
  stopTransaction(payload: M2eRequests['stop_transaction']['payload']) {
    return this.request('stop_transaction', payload);
  }
  forceUnlock(connectorId: number) {
    return this.request('force_unlock', connectorId);
  }
  externalReadyToStartCharging() {
    return this.request('external_ready_to_start_charging');
  }

  authorizeResponse(payload: M2eSends['authorize_response']) {
    return this.send('authorize_response', payload);
  }
  withdrawAuthorization() {
    return this.send('withdraw_authorization', null);
  }
  cancelReservation() {
    return this.send('cancel_reservation', null);
  }
  randomDelayEnable() {
    return this.send('random_delay_enable', null);
  }
  randomDelayDisable() {
    return this.send('random_delay_disable', null);
  }
  randomDelayCancel() {
    return this.send('random_delay_cancel', null);
  }
  randomDelaySetDurationS(seconds: number) {
    return this.send('random_delay_set_duration_s', seconds);
  }
  communicationCheck(ok: boolean) {
    return this.send('communication_check', ok);
  }
}
