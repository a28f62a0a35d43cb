import { Ajv, type ValidateFunction } from 'ajv';
import type { Logger } from 'pino';
import { Subscription, merge, throttleTime, asyncScheduler, type SchedulerLike, filter, map } from 'rxjs';
import type { ConnectorRef, PriorityScope } from '../priorities/model.js';
import { connectorRefSchema, prioritySetSchema } from '../priorities/model.js';
import { ACTION_TYPES, type ActionType } from '../site/actions.js';
import type { MqttTransport } from '../transport/mqtt-transport.js';
import type { ModuleService } from './service.js';

/**
 * Our own topics, readable in an MQTT explorer:
 *   {ns}/status                      retained {"state":"online"|"offline"} (transport, last-will)
 *   {ns}/site/state                  retained budget, planned and measured power
 *   {ns}/evse/{module_id}/state      retained live state, priority, decision + reason, last action
 *   {ns}/request/{name}              commands (JSON); answered on {ns}/response/{name}
 * Request names: priority/set, priority/delete, priority/reset, site/set, action.
 */
export interface MqttApiOptions {
  transport: MqttTransport;
  service: ModuleService;
  namespace: string;
  logger: Logger;
  /** Per-EVSE state topics change at most this often (power moves every second while charging). */
  stateThrottleMs?: number;
  scheduler?: SchedulerLike;
  onInvalid?: (topic: string, reason: string) => void;
  /** mqtt_api.read_only: publish the state topics, never subscribe to the request topics. */
  readOnly?: boolean;
}

type RequestName = 'priority/set' | 'priority/delete' | 'priority/reset' | 'site/set' | 'action';

interface Envelope {
  transaction?: string | number;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const validators: Record<RequestName, ValidateFunction> = {
  'priority/set': ajv.compile({ ...prioritySetSchema, properties: { ...prioritySetSchema.properties, transaction: { type: ['string', 'number'] } } }),
  'priority/delete': ajv.compile({ ...connectorRefSchema, properties: { ...connectorRefSchema.properties, transaction: { type: ['string', 'number'] } } }),
  'priority/reset': ajv.compile({ type: 'object', properties: { transaction: { type: ['string', 'number'] } }, additionalProperties: false }),
  'site/set': ajv.compile({
    type: 'object',
    required: ['max_power_w'],
    properties: { max_power_w: { type: 'number', minimum: 0 }, transaction: { type: ['string', 'number'] } },
    additionalProperties: false,
  }),
  action: ajv.compile({
    type: 'object',
    required: ['module_id', 'type'],
    properties: {
      module_id: { type: 'string', minLength: 1 },
      type: { type: 'string', enum: [...ACTION_TYPES] },
      connector_id: { type: 'integer', minimum: 1 },
      reason: { type: 'string', maxLength: 500 },
      transaction: { type: ['string', 'number'] },
    },
    additionalProperties: false,
  }),
};

export class MqttApi {
  private readonly subscription = new Subscription();
  private readonly lastPublished = new Map<string, string>();
  private readonly requestPrefix: string;

  constructor(private readonly options: MqttApiOptions) {
    this.requestPrefix = `${options.namespace}/request/`;
  }

  async start(): Promise<void> {
    const { transport, service } = this.options;
    const scheduler = this.options.scheduler ?? asyncScheduler;
    if (this.options.readOnly) {
      this.options.logger.info({ requests: `${this.requestPrefix}#` }, 'MQTT API is read-only (mqtt_api.read_only): request topics are not subscribed');
    } else {
      await transport.subscribe([`${this.requestPrefix}#`]);
      this.subscription.add(
        transport.messages$
          .pipe(filter((m) => m.topic.startsWith(this.requestPrefix)))
          .subscribe((m) => void this.handle(m.topic, m.payload)),
      );
    }
    // Retained state: re-published on every connect so a restarted broker shows it again.
    this.subscription.add(transport.connected$.subscribe(() => this.publishAll(true)));
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
    this.subscription.unsubscribe();
  }

  private moduleViews$() {
    return this.options.service.viewChanges$.pipe(map(() => undefined));
  }

  private publishAll(force: boolean): void {
    const { service, namespace } = this.options;
    if (!this.options.transport.connected) return;
    this.publishRetained(`${namespace}/site/state`, { ...service.site(), updated_at: new Date().toISOString() }, force);
    for (const evse of service.evses()) this.publishRetained(`${namespace}/evse/${evse.module_id}/state`, evse, force);
  }

  private publishRetained(topic: string, body: object, force: boolean): void {
    // Compare without timestamps that move on every heartbeat, so an unchanged state is not re-sent
    // once a second per EVSE; the published body still carries them as of its last change.
    const key = JSON.stringify(body, (name, value: unknown) => (name === 'updated_at' || name === 'last_seen_at' ? undefined : value));
    if (!force && this.lastPublished.get(topic) === key) return;
    this.lastPublished.set(topic, key);
    this.options.transport.publish(topic, JSON.stringify(body), { retain: true, qos: 0 }).catch((err: Error) => {
      this.lastPublished.delete(topic);
      this.options.logger.debug({ topic, err: err.message }, 'state publish failed');
    });
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const name = topic.slice(this.requestPrefix.length) as RequestName;
    const validate = validators[name];
    if (!validate) return this.fail(topic, name, undefined, `unknown request "${name}"; known: ${Object.keys(validators).join(', ')}`);
    let body: unknown;
    try {
      body = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return this.fail(topic, name, undefined, `invalid JSON: ${(err as Error).message}`);
    }
    const transaction = (body as Envelope | null)?.transaction;
    if (!validate(body)) {
      const e = validate.errors?.[0];
      return this.fail(topic, name, transaction, `${e?.instancePath || '/'} ${e?.message ?? 'invalid'}${e?.params && 'allowedValues' in e.params ? ` (${String(e.params.allowedValues)})` : ''}`);
    }
    try {
      const data = await this.execute(name, body as Record<string, unknown>);
      if ('error' in data) return this.fail(topic, name, transaction, data.error);
      this.respond(name, { status: 'ok', data: data.ok, ...(transaction !== undefined ? { transaction } : {}) });
    } catch (err) {
      this.options.logger.error({ topic, err: (err as Error).message }, 'request failed');
      this.respond(name, { status: 'error', error: (err as Error).message, ...(transaction !== undefined ? { transaction } : {}) });
    }
  }

  private async execute(name: RequestName, body: Record<string, unknown>): Promise<{ ok: unknown } | { error: string }> {
    const { service } = this.options;
    switch (name) {
      case 'priority/set': {
        const { priority, scope, transaction: _t, ...ref } = body as { priority: number; scope?: PriorityScope; transaction?: unknown } & ConnectorRef;
        const result = await service.setPriority(ref as ConnectorRef, priority, scope ?? 'session', 'mqtt');
        return result.ok ? { ok: { ...result.record, created: result.created } } : { error: result.message };
      }
      case 'priority/delete': {
        const { transaction: _t, ...ref } = body as { transaction?: unknown } & ConnectorRef;
        const target = service.resolve(ref as ConnectorRef);
        if (!target.ok) return { error: target.message };
        return { ok: { deleted: await service.deletePriority(target.module_id, target.connector_id), module_id: target.module_id, connector_id: target.connector_id } };
      }
      case 'priority/reset':
        return { ok: { removed: await service.clearPriorities() } };
      case 'site/set':
        service.setSiteBudget(body.max_power_w as number, 'mqtt');
        return { ok: service.site() };
      case 'action': {
        const moduleId = body.module_id as string;
        if (!service.hasEvse(moduleId)) return { error: `unknown module_id "${moduleId}"` };
        const action = service.requestAction(
          moduleId,
          {
            type: body.type as ActionType,
            ...(typeof body.connector_id === 'number' ? { connector_id: body.connector_id } : {}),
            ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
          },
          'mqtt',
        );
        return { ok: action };
      }
    }
  }

  private fail(topic: string, name: string, transaction: string | number | undefined, reason: string): void {
    this.options.logger.warn({ topic, reason }, 'rejected request on our MQTT API');
    this.options.onInvalid?.(topic, reason);
    this.respond(name, { status: 'error', error: reason, ...(transaction !== undefined ? { transaction } : {}) });
  }

  private respond(name: string, body: object): void {
    const topic = `${this.options.namespace}/response/${name}`;
    this.options.transport.publish(topic, JSON.stringify(body)).catch((err: Error) => {
      this.options.logger.debug({ topic, err: err.message }, 'response publish failed');
    });
  }
}
