import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { RepeatedWarnings } from '../log/repeats.js';
import { jsonShapeViolation, type JsonShapeLimits } from '../validation/json-shape.js';
import { Observable, ReplaySubject, Subject, asyncScheduler, type SchedulerLike } from 'rxjs';
import type { MqttTransport } from '../transport/mqtt-transport.js';
import type { Contract, ValidationResult } from './contract.js';
import type { ExternalLimits } from './external-limits.js';
import { InvalidReplyError, RequestPublishError, RequestTimeoutError, UnknownEvseError } from './errors.js';
import { NOOP_EVEREST_METRICS, type EverestMetrics } from './metrics.js';
import type { E2mPayloads, E2mVar, M2eRequest, M2eRequests, M2eSend, M2eSends } from './payloads.js';
import { EXTERNAL_LIMITS_API, type EverestTopics } from './topics.js';
import { DEFAULT_EVEREST_RELEASE, RouteRemovedError, hasM2eRoute, type EverestRelease } from './release.js';

/** What the client uses of the MQTT connection (MqttTransport in the module). */
export type EverestWire = Pick<MqttTransport, 'onMessage' | 'subscribe' | 'publish'>;

export interface EverestClientOptions {
  transport: EverestWire;
  contract: Contract;
  topics: EverestTopics;
  logger: Logger;
  requestTimeoutMs: number;
  /**
   * After a timeout the request may still be pending in EVerest: its reply is still taken for this long
   * (default 2 x requestTimeoutMs) and handed to whoever waits on RequestTimeoutError.lateReply.
   */
  lateReplyMs?: number;
  scheduler?: SchedulerLike;
  metrics?: EverestMetrics;
  /** The EVerest release on the chargers (default 2026.02): commands it has no route for are refused here. */
  release?: EverestRelease;
}

/** A message EVerest sent that we could not use; it was logged, counted and dropped. */
export interface InvalidMessage {
  topic: string;
  moduleId: string;
  name: string;
  reason: string;
}

/** A message of one module, on a stream that carries all of them. */
export interface Tagged<T> {
  moduleId: string;
  value: T;
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
 * EVerest's payloads nest a few levels and hold tens of fields. Far past that, a payload is refused on
 * its raw text before JSON.parse builds it: 20 000 nested arrays cost about a megabyte of heap to parse
 * only to be refused by the contract (the soak's fuzz sends such a payload several times a second).
 */
export const E2M_SHAPE_LIMITS: JsonShapeLimits = {
  maxDepth: 32,
  maxMembers: 10_000,
  // Shorter texts are parsed without the scan: it cost more than parsing an ordinary payload (0.6 of
  // about 8 µs per message in bench:core's ingest), and a text this short cannot hold enough nesting or
  // members to cost anything to parse and refuse. EVerest's payloads, signed meter values included, stay
  // well below it.
  scanFromChars: 4096,
};

/** parse()'s answer for a payload it rejected (any JSON value, null included, is a parsed payload). */
const NOT_PARSED = Symbol('not parsed');

/**
 * One client for all EVSEs on one MQTT connection: routes e2m messages to typed per-EVSE streams
 * (parsed and validated once), and correlates request/reply by unique reply topic. It also speaks to
 * the external_energy_limits_consumer_API modules (one per EVSE under current control): their
 * heartbeat arrives through `on(limitsModuleId, 'heartbeat')` and their communication check goes out
 * through `send(limitsModuleId, 'communication_check', true)`, exactly as for an EVSE.
 */
export class EverestClient {
  private readonly streams = new Map<string, Map<string, Subject<unknown>>>();
  /** One stream per variable for every module (see onEvery), created on first use. */
  private readonly everyStreams = new Map<string, Subject<Tagged<unknown>>>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly invalidSubject = new Subject<InvalidMessage>();
  private readonly scheduler: SchedulerLike;
  private readonly metrics: EverestMetrics;
  private readonly log: Logger;
  /** 'dropped invalid message' lines: the first of each (variable, reason) per interval whole, then counts. */
  private readonly dropped: RepeatedWarnings;
  private readonly stopRouting: () => void;
  private readonly knownVars: ReadonlySet<string>;
  private readonly knownLimitsVars: ReadonlySet<string>;
  private readonly limitsModules = new Set<string>();
  private readonly limitsTopics: EverestTopics;

  /** Every message that failed JSON parsing or validation. */
  readonly invalid$ = this.invalidSubject.asObservable();

  constructor(private readonly options: EverestClientOptions) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics = options.metrics ?? NOOP_EVEREST_METRICS;
    this.log = options.logger;
    this.dropped = new RepeatedWarnings(this.log, { message: 'dropped invalid message' });
    this.knownVars = new Set(options.contract.e2mNames());
    this.knownLimitsVars = new Set(options.contract.externalLimits.e2mNames());
    this.limitsTopics = options.topics.forApi(EXTERNAL_LIMITS_API);
    this.stopRouting = options.transport.onMessage((topic, payload) => this.route(topic, payload));
  }

  /** EVSE module ids (evse_manager_consumer_API), without the limits modules. */
  get moduleIds(): string[] {
    return [...this.streams.keys()].filter((id) => !this.limitsModules.has(id));
  }

  get limitsModuleIds(): string[] {
    return [...this.limitsModules];
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

  /** Registers external_energy_limits_consumer_API modules and subscribes to what they publish. */
  async addLimitsModules(limitsModuleIds: readonly string[]): Promise<void> {
    const fresh = limitsModuleIds.filter((id) => !this.streams.has(id));
    for (const id of fresh) {
      this.streams.set(id, new Map());
      this.limitsModules.add(id);
    }
    await this.options.transport.subscribe(fresh.map((id) => this.limitsTopics.e2mFilter(id)));
  }

  /**
   * Publishes a limit schedule (bare JSON, no reply: EVerest answers nothing, not even to a message it
   * cannot parse). A failed publish is logged and counted; the caller's next refresh sends again.
   */
  setExternalLimits(limitsModuleId: string, limits: ExternalLimits): void {
    if (!this.limitsModules.has(limitsModuleId)) throw new UnknownEvseError(limitsModuleId);
    this.metrics.messageOut('set_external_limits');
    this.options.transport.publish(this.limitsTopics.m2e(limitsModuleId, 'set_external_limits'), JSON.stringify(limits)).catch((err: Error) => {
      this.log.warn({ limitsModuleId, err: err.message }, 'set_external_limits not published');
    });
  }

  evse(moduleId: string): EvseChannel {
    if (!this.streams.has(moduleId) || this.limitsModules.has(moduleId)) throw new UnknownEvseError(moduleId);
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
   * One variable of every registered module, tagged with its module id. Hot. For consumers of all EVSEs:
   * one subscription per variable instead of a Subject and a subscriber per EVSE and variable (about
   * 20 KB of heap per EVSE at 1000 EVSEs, bench:startup).
   */
  onEvery<K extends E2mVar>(name: K): Observable<Tagged<E2mPayloads[K]>> {
    let subject = this.everyStreams.get(name);
    if (!subject) {
      subject = new Subject<Tagged<unknown>>();
      this.everyStreams.set(name, subject);
    }
    return subject.asObservable() as Observable<Tagged<E2mPayloads[K]>>;
  }

  /**
   * Cold request: nothing is published until subscribed; unsubscribing cancels it and removes it
   * from the pending map. Emits the validated reply once, then completes.
   */
  request<K extends M2eRequest>(moduleId: string, command: K, ...args: RequestArgs<K>): Observable<M2eRequests[K]['reply']> {
    return new Observable<M2eRequests[K]['reply']>((subscriber) => {
      if (!this.streams.has(moduleId) || this.limitsModules.has(moduleId)) {
        subscriber.error(new UnknownEvseError(moduleId));
        return;
      }
      // EVerest would drop it without a word and we would only see a timeout: say why at once instead.
      const release = this.options.release ?? DEFAULT_EVEREST_RELEASE;
      if (!hasM2eRoute(release, command)) {
        subscriber.error(new RouteRemovedError(command, release));
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
      let overdue = false;
      const timer = this.scheduler.schedule(() => {
        this.metrics.requestDone(command, this.scheduler.now() - startedAt, 'timeout');
        overdue = true;
        subscriber.error(new RequestTimeoutError(command, moduleId, requestTimeoutMs, this.awaitLate(replyTo)));
      }, requestTimeoutMs);
      this.metrics.messageOut(command);
      transport.publish(topics.m2e(moduleId, command), JSON.stringify(envelope)).catch((err: Error) => {
        this.metrics.requestDone(command, this.scheduler.now() - startedAt, 'error');
        subscriber.error(new RequestPublishError(command, moduleId, err));
      });
      return () => {
        // An overdue request stays pending for its late-reply window (awaitLate owns it now).
        if (!overdue) this.pending.delete(replyTo);
        timer.unsubscribe();
      };
    });
  }

  /**
   * Keeps a timed-out request's reply topic open for the late-reply window: EVerest may still be
   * working on it, and a retry sent meanwhile would reach it while the first is pending.
   */
  private awaitLate(replyTo: string): Observable<unknown> {
    const entry = this.pending.get(replyTo);
    const late = new ReplaySubject<unknown>(1);
    if (!entry) {
      late.complete();
      return late.asObservable();
    }
    const windowMs = this.options.lateReplyMs ?? 2 * this.options.requestTimeoutMs;
    const expiry = this.scheduler.schedule(() => {
      this.pending.delete(replyTo);
      late.complete();
    }, windowMs);
    this.pending.set(replyTo, {
      ...entry,
      settle: (reply) => {
        expiry.unsubscribe();
        this.metrics.lateReply();
        this.log.info({ command: entry.command, moduleId: entry.moduleId, afterMs: this.scheduler.now() - entry.startedAt }, 'late reply to a timed-out request');
        late.next(reply);
        late.complete();
      },
      fail: (error) => {
        expiry.unsubscribe();
        late.error(error);
      },
    });
    return late.asObservable();
  }

  /**
   * Fire-and-forget: the raw payload, no envelope. To a limits module only communication_check exists;
   * its limits go through setExternalLimits.
   */
  async send<K extends M2eSend>(moduleId: string, command: K, payload: M2eSends[K]): Promise<void> {
    if (!this.streams.has(moduleId)) throw new UnknownEvseError(moduleId);
    const release = this.options.release ?? DEFAULT_EVEREST_RELEASE;
    if (!hasM2eRoute(release, command)) throw new RouteRemovedError(command, release);
    let topic: string;
    if (!this.limitsModules.has(moduleId)) topic = this.options.topics.m2e(moduleId, command);
    else if (command === 'communication_check') topic = this.limitsTopics.m2e(moduleId, command);
    else throw new UnknownEvseError(moduleId);
    this.metrics.messageOut(command);
    await this.options.transport.publish(topic, JSON.stringify(payload));
  }

  dispose(): void {
    this.stopRouting();
    this.dropped.flush();
    for (const pending of this.pending.values()) {
      pending.fail(new Error(`client disposed while ${pending.command} to ${pending.moduleId} was pending`));
    }
    this.pending.clear();
    for (const perEvse of this.streams.values()) for (const subject of perEvse.values()) subject.complete();
    for (const subject of this.everyStreams.values()) subject.complete();
    this.invalidSubject.complete();
  }

  private route(topic: string, payload: Buffer): void {
    const parsed = this.options.topics.parse(topic);
    if (parsed) {
      if (parsed.direction !== 'e2m' || !this.streams.has(parsed.moduleId) || this.limitsModules.has(parsed.moduleId)) return;
      if (parsed.rest.length > 0) this.routeReply(topic, parsed.moduleId, payload);
      else this.deliver(topic, parsed.moduleId, parsed.name, payload, this.knownVars, this.options.contract);
      return;
    }
    if (this.limitsModules.size === 0) return;
    const limits = this.limitsTopics.parse(topic);
    if (!limits || limits.direction !== 'e2m' || limits.rest.length > 0 || !this.limitsModules.has(limits.moduleId)) return;
    this.deliver(topic, limits.moduleId, limits.name, payload, this.knownLimitsVars, this.options.contract.externalLimits);
  }

  /** Parses and validates one e2m variable once, then hands it to that module's stream. */
  private deliver(
    topic: string,
    moduleId: string,
    name: string,
    payload: Buffer,
    known: ReadonlySet<string>,
    contract: { validateE2m(name: string, data: unknown): ValidationResult<unknown> },
  ): void {
    if (!known.has(name)) {
      // Newer EVerest versions add variables; they are not errors, just nothing we use.
      this.log.debug({ topic }, 'ignored unknown e2m variable');
      return;
    }
    this.metrics.messageIn(name);
    const data = this.parse(topic, moduleId, name, payload, 'invalid JSON');
    if (data === NOT_PARSED) return;
    const result = contract.validateE2m(name, data);
    if (!result.ok) {
      this.reject(topic, moduleId, name, result.reason);
      return;
    }
    if (result.unknownValue !== undefined) {
      this.metrics.unknownValue(name);
      this.log.debug({ topic, reason: result.unknownValue }, 'unknown value on a display-only variable: delivered');
    }
    this.streams.get(moduleId)?.get(name)?.next(result.value);
    this.everyStreams.get(name)?.next({ moduleId, value: result.value });
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
    const data = this.parse(topic, moduleId, pending.command, payload, 'invalid JSON reply');
    if (data === NOT_PARSED) {
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

  /** The payload as JSON, or NOT_PARSED (rejected) when it is not JSON or, long, nests or spreads past E2M_SHAPE_LIMITS. */
  private parse(topic: string, moduleId: string, name: string, payload: Buffer, what: string): unknown {
    const text = payload.toString('utf8');
    const violation = jsonShapeViolation(text, E2M_SHAPE_LIMITS);
    if (violation !== undefined) {
      this.reject(topic, moduleId, name, `${what}: the payload ${violation}`);
      return NOT_PARSED;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      this.reject(topic, moduleId, name, `${what}: ${(err as Error).message}`);
      return NOT_PARSED;
    }
  }

  private reject(topic: string, moduleId: string, name: string, reason: string): void {
    this.metrics.invalid(name);
    this.dropped.warn(name, topic, reason);
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
}
