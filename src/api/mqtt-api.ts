import type { Observable } from 'rxjs';
import { Subscription, merge, throttleTime, asyncScheduler, type SchedulerLike, filter, map } from 'rxjs';
import type { Logger } from '../log/logger.js';
import { RepeatedWarnings } from '../log/repeats.js';
import { jsonShapeViolation, REQUEST_SHAPE_LIMITS } from '../validation/json-shape.js';
import { connectorRefOf, type ConnectorRef } from '../priorities/model.js';
import {
  connectorRefSchema,
  emptyRequestSchema,
  mqttActionSchema,
  prioritySetBodySchema,
  siteBudgetBodySchema,
  type MqttActionBody,
  type PrioritySetBody,
} from './requests.js';
import { sameJson } from './json-equal.js';
import type { ModuleService } from './service.js';
import { checkBody, compileValidator, type RequestValidator } from './validation.js';

/** The broker connection as our MQTT API needs it; the composition root hands in the transport. */
export interface ApiBus {
  readonly connected: boolean;
  /** Fires on every (re)connect. */
  readonly connected$: Observable<unknown>;
  readonly messages$: Observable<{ topic: string; payload: Buffer }>;
  subscribe(filters: string[]): Promise<void>;
  publish(topic: string, payload: string, options?: { retain?: boolean; qos?: 0 | 1 | 2 }): Promise<void>;
}

/**
 * Our own topics, readable in an MQTT explorer:
 *   {ns}/status                      retained {"state":"online"|"offline"} (transport, last-will)
 *   {ns}/site/state                  retained budget, planned and measured power
 *   {ns}/evse/{module_id}/state      retained live state, priority, decision + reason, last action
 *   {ns}/request/{name}              commands (JSON); answered on {ns}/response/{name}
 * Request names: priority/set, priority/delete, priority/reset, site/set, action.
 */
export interface MqttApiOptions {
  bus: ApiBus;
  service: ModuleService;
  namespace: string;
  logger: Logger;
  /** Per-EVSE state topics change at most this often (power moves every second while charging). */
  stateThrottleMs?: number;
  scheduler?: SchedulerLike;
  /** A request we refused (unknown name, bad JSON, invalid body, failed operation), by known request name or 'unknown'. */
  onRejected?: (request: string) => void;
  /** mqtt_api.read_only: publish the state topics, never subscribe to the request topics. */
  readOnly?: boolean;
}

type Outcome = { ok: unknown } | { error: string };

interface RequestHandler {
  validate: RequestValidator;
  execute(service: ModuleService, body: never): Promise<Outcome>;
}

/** The echoed `transaction` is only ever a short string or a number: never a structure we would have to serialise. */
export const MAX_TRANSACTION_LENGTH = 128;

const transactionSchema = {
  anyOf: [{ type: 'string', maxLength: MAX_TRANSACTION_LENGTH }, { type: 'number' }],
  description: 'Echoed in the response so a client can match it to its request.',
} as const;

/** A request schema of the shared set, plus the MQTT envelope's `transaction`. */
function withTransaction<S extends { properties: object }>(schema: S): S {
  return { ...schema, properties: { ...schema.properties, transaction: transactionSchema } };
}

function handler<B>(schema: { properties: object }, execute: (service: ModuleService, body: B) => Promise<Outcome>): RequestHandler {
  return { validate: compileValidator(withTransaction(schema), 'body'), execute: execute as RequestHandler['execute'] };
}

/**
 * Request names are looked up in a Map of the known ones: a topic named after an object property
 * (`__proto__`, `constructor`, `toString`) is just an unknown name.
 */
const REQUESTS: ReadonlyMap<string, RequestHandler> = new Map([
  [
    'priority/set',
    handler<PrioritySetBody>(prioritySetBodySchema, async (service, body) => {
      const result = await service.setPriority(connectorRefOf(body), body.priority, body.scope ?? 'session', 'mqtt');
      return result.ok ? { ok: { ...result.record, created: result.created } } : { error: result.message };
    }),
  ],
  [
    'priority/delete',
    handler<ConnectorRef>(connectorRefSchema, async (service, body) => {
      const target = service.resolve(connectorRefOf(body));
      if (!target.ok) return { error: target.message };
      return { ok: { deleted: await service.deletePriority(target.module_id, target.connector_id), module_id: target.module_id, connector_id: target.connector_id } };
    }),
  ],
  ['priority/reset', handler<object>(emptyRequestSchema, async (service) => ({ ok: { removed: await service.clearPriorities() } }))],
  [
    'site/set',
    handler<{ max_power_w: number }>(siteBudgetBodySchema, async (service, body) => {
      service.setSiteBudget(body.max_power_w, 'mqtt');
      return { ok: service.site() };
    }),
  ],
  [
    'action',
    handler<MqttActionBody>(mqttActionSchema, async (service, body) => {
      const { module_id, type, connector_id, reason } = body;
      const result = service.requestAction(module_id, { type, ...(connector_id !== undefined ? { connector_id } : {}), ...(reason !== undefined ? { reason } : {}) }, 'mqtt');
      return result.ok ? { ok: result.action } : { error: result.message };
    }),
  ],
]);

/** EVSE states built and published per turn of the event loop. */
const STATE_CHUNK = 100;

/** Fields left out when comparing a state with the one last published. */
const TIMESTAMPS: ReadonlySet<string> = new Set(['updated_at', 'last_seen_at']);

/** Longest request name repeated in a log line or error text. */
const MAX_NAME_SHOWN = 64;

function echoable(value: unknown): string | number | undefined {
  if (typeof value === 'string' && value.length <= MAX_TRANSACTION_LENGTH) return value;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export class MqttApi {
  private readonly subscription = new Subscription();
  private readonly lastPublished = new Map<string, object>();
  /** The round of EVSE states being published, chunk by chunk (see publishAll). */
  private round: { ids: readonly string[]; next: number; force: boolean; again: boolean; forceAgain: boolean } | undefined;
  private stopped = false;
  private readonly requestPrefix: string;
  /** 'rejected request' lines: the first of each (request, reason) per interval whole, then counts. */
  private readonly rejected: RepeatedWarnings;

  constructor(private readonly options: MqttApiOptions) {
    this.requestPrefix = `${options.namespace}/request/`;
    this.rejected = new RepeatedWarnings(options.logger, { message: 'rejected request on our MQTT API' });
  }

  async start(): Promise<void> {
    const { bus, service, logger } = this.options;
    const scheduler = this.options.scheduler ?? asyncScheduler;
    if (this.options.readOnly) {
      logger.info({ requests: `${this.requestPrefix}#` }, 'MQTT API is read-only (mqtt_api.read_only): request topics are not subscribed');
    } else {
      await bus.subscribe([`${this.requestPrefix}#`]);
      this.subscription.add(
        bus.messages$
          .pipe(filter((m) => m.topic.startsWith(this.requestPrefix)))
          .subscribe((m) => {
            // Whatever a request does, its failure is logged here and never becomes an unhandled rejection.
            this.handle(m.topic, m.payload).catch((err: unknown) => {
              logger.error({ topic: m.topic.slice(0, this.requestPrefix.length + MAX_NAME_SHOWN), err: err instanceof Error ? err.message : String(err) }, 'MQTT API request failed');
            });
          }),
      );
    }
    // Retained state: re-published on every connect so a restarted broker shows it again.
    this.subscription.add(bus.connected$.subscribe(() => this.publishAll(true)));
    const throttle = this.options.stateThrottleMs ?? 1000;
    this.subscription.add(
      merge(
        service.events$.pipe(map(() => undefined)),
        // The forwarder's queue and state go into the retained site state.
        service.forwarding$.pipe(map(() => undefined)),
        // Power and energy change without events; refresh them at the throttle rate.
        this.moduleViews$(),
      )
        .pipe(throttleTime(throttle, scheduler, { leading: true, trailing: true }))
        .subscribe(() => this.publishAll(false)),
    );
  }

  stop(): void {
    this.stopped = true;
    this.round = undefined;
    this.subscription.unsubscribe();
    this.rejected.flush();
  }

  private moduleViews$() {
    return this.options.service.viewChanges$.pipe(map(() => undefined));
  }

  /**
   * The site state at once, then the EVSEs' states in chunks of STATE_CHUNK with a turn of the event loop
   * between chunks: 1000 EVSEs built, compared and (when changed) serialised in one go held the loop for
   * tens of milliseconds every second. A round asked for while one runs follows it (forced if either was).
   */
  private publishAll(force: boolean): void {
    if (this.round !== undefined) {
      this.round.again = true;
      this.round.forceAgain ||= force;
      return;
    }
    const { service, namespace, bus } = this.options;
    if (!bus.connected) return;
    this.publishRetained(`${namespace}/site/state`, { ...service.site(), updated_at: new Date().toISOString() }, force);
    const round = { ids: service.evseIds, next: 0, force, again: false, forceAgain: false };
    this.round = round;
    const chunk = (): void => {
      if (this.round !== round) return;
      const end = Math.min(round.ids.length, round.next + STATE_CHUNK);
      for (; round.next < end && bus.connected; round.next++) {
        const moduleId = round.ids[round.next] as string;
        const evse = service.evse(moduleId);
        if (evse) this.publishRetained(`${namespace}/evse/${moduleId}/state`, evse, round.force);
      }
      if (round.next < round.ids.length && bus.connected && !this.stopped) {
        setImmediate(chunk);
        return;
      }
      this.round = undefined;
      if (round.again && !this.stopped) this.publishAll(round.forceAgain);
    };
    chunk();
  }

  private publishRetained(topic: string, body: object, force: boolean): void {
    // Compare without timestamps that move on every heartbeat, so an unchanged state is not re-sent
    // once a second per EVSE; the published body still carries them as of its last change. The bodies
    // are built fresh for each round (service.evse(), service.site()), so the one kept is never changed.
    const before = this.lastPublished.get(topic);
    if (!force && before !== undefined && sameJson(before, body, TIMESTAMPS)) return;
    this.lastPublished.set(topic, body);
    this.options.bus.publish(topic, JSON.stringify(body), { retain: true, qos: 0 }).catch((err: Error) => {
      this.lastPublished.delete(topic);
      this.options.logger.debug({ topic, err: err.message }, 'state publish failed');
    });
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const name = topic.slice(this.requestPrefix.length);
    const request = REQUESTS.get(name);
    if (!request) {
      const shown = name.length > MAX_NAME_SHOWN ? `${name.slice(0, MAX_NAME_SHOWN)}...` : name;
      return this.fail(name, undefined, `unknown request ${JSON.stringify(shown)}; known: ${[...REQUESTS.keys()].join(', ')}`);
    }
    let body: unknown = {};
    if (payload.length > 0) {
      // The same shape limits as an HTTP body, checked before anything is parsed.
      const text = payload.toString('utf8');
      const violation = jsonShapeViolation(text, REQUEST_SHAPE_LIMITS);
      if (violation !== undefined) return this.fail(name, undefined, `the request ${violation}`);
      try {
        body = JSON.parse(text);
      } catch (err) {
        return this.fail(name, undefined, `invalid JSON: ${(err as Error).message}`);
      }
    }
    const transaction = typeof body === 'object' && body !== null ? echoable((body as { transaction?: unknown }).transaction) : undefined;
    const checked = checkBody<never>(request.validate, body);
    if (!checked.ok) return this.fail(name, transaction, checked.reason);
    try {
      const outcome = await request.execute(this.options.service, checked.value);
      if ('error' in outcome) return this.fail(name, transaction, outcome.error);
      this.respond(name, { status: 'ok', data: outcome.ok, ...(transaction !== undefined ? { transaction } : {}) });
    } catch (err) {
      this.options.logger.error({ topic, err: (err as Error).message }, 'request failed');
      this.respond(name, { status: 'error', error: (err as Error).message, ...(transaction !== undefined ? { transaction } : {}) });
    }
  }

  private fail(name: string, transaction: string | number | undefined, reason: string): void {
    const known = REQUESTS.has(name) ? name : 'unknown';
    this.rejected.warn(known, `${this.requestPrefix}${name.slice(0, MAX_NAME_SHOWN)}`, reason);
    this.options.onRejected?.(known);
    this.respond(name, { status: 'error', error: reason, ...(transaction !== undefined ? { transaction } : {}) });
  }

  private respond(name: string, body: object): void {
    const topic = `${this.options.namespace}/response/${name}`;
    this.options.bus.publish(topic, JSON.stringify(body)).catch((err: Error) => {
      this.options.logger.debug({ topic, err: err.message }, 'response publish failed');
    });
  }
}
