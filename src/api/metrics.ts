import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { filter, type Observable, type Subscription } from 'rxjs';
import type { EverestMetrics } from '../everest/metrics.js';
import type { ForwardingMetrics } from '../forwarding/metrics.js';
import { isFinal } from '../site/actions.js';
import type { SiteEvent } from '../site/controller.js';
import type { LimitSent } from '../site/enforcer.js';

/** Prometheus metrics of one module: what EverestMetrics reports plus actions and HTTP traffic. */
export interface PromMetrics extends EverestMetrics {
  /** The module's own registry (never prom-client's global one, so two modules in a process stay apart). */
  readonly registry: Registry;
  readonly contentType: string;
  metricsText(): Promise<string>;
  httpRequest(method: string, route: string, statusCode: number, durationMs: number): void;
  /** A request on our MQTT API was refused, by request name ('unknown' for names we do not serve). */
  mqttApiRejected(request: string): void;
  /** An SSE client connected (+1) or went away (-1). */
  sseClients(delta: 1 | -1): void;
  /** Counts every action that reaches a final status (type, origin, outcome) and every hlc_session_failed event. */
  trackActions(events$: Observable<SiteEvent>): Subscription;
  /** Counts every limit message sent, by EVSE. */
  trackLimits(limits$: Observable<LimitSent>): Subscription;
  /** Where the allocated current per EVSE is read when scraped (EVSEs under current control only). */
  allocations(read: () => Iterable<readonly [moduleId: string, currentA: number]>): void;
  /** Where the seconds over budget caused by EVSEs that ignore our holds are read when scraped. */
  overBudget(read: () => Iterable<readonly [moduleId: string, seconds: number]>): void;
  /** Where the site's recompute count and smoothed cost (ms) are read when scraped. */
  recomputes(read: () => { count: number; costMs: number }): void;
  /** What the forwarder (OCPP 2.0.1 to the cloud) reports. */
  readonly forwarding: ForwardingMetrics;
}

export interface PromMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /** Clock for heartbeat ages; must match the clock the heartbeat monitor stamps with. */
  now?: () => number;
}

const PREFIX = 'evse_priority_';

export function createPromMetrics(options: PromMetricsOptions = {}): PromMetrics {
  const registry = new Registry();
  const now = options.now ?? Date.now;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const received = new Counter({
    name: `${PREFIX}everest_messages_received_total`,
    help: 'MQTT messages received from EVerest, by variable or reply name.',
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const sent = new Counter({
    name: `${PREFIX}everest_messages_sent_total`,
    help: 'MQTT messages sent to EVerest, by command name.',
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const invalid = new Counter({
    name: `${PREFIX}everest_invalid_messages_total`,
    help: 'Messages from EVerest that failed validation against the AsyncAPI contract, by name.',
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const unknownValues = new Counter({
    name: `${PREFIX}everest_unknown_values_total`,
    help: 'EVerest messages on display-only variables with a value newer than our contract (an added enum value), delivered anyway, by variable.',
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const lateReplies = new Counter({
    name: `${PREFIX}everest_late_replies_total`,
    help: 'Replies that arrived after their request had timed out.',
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: `${PREFIX}everest_request_duration_seconds`,
    help: 'Time from an EVerest request to its reply (or timeout), by command and outcome.',
    labelNames: ['command', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const lastSeen = new Map<string, number>();
  const heartbeatAge = new Gauge({
    name: `${PREFIX}everest_heartbeat_age_seconds`,
    help: 'Seconds since the last e2m/heartbeat of each EVSE module and limits module, computed when scraped.',
    labelNames: ['module_id'] as const,
    registers: [registry],
    collect: () => {
      heartbeatAge.reset();
      const t = now();
      for (const [moduleId, at] of lastSeen) heartbeatAge.set({ module_id: moduleId }, Math.max(0, (t - at) / 1000));
    },
  });
  const actions = new Counter({
    name: `${PREFIX}actions_total`,
    help: 'Actions (EVerest commands) that reached a final status, by type, origin and outcome.',
    labelNames: ['type', 'origin', 'outcome'] as const,
    registers: [registry],
  });
  const hlcFailures = new Counter({
    name: `${PREFIX}hlc_session_failures_total`,
    help: 'ISO 15118 sessions EVerest reported as failed (e2m/hlc_session_failed), by EVSE and reason.',
    labelNames: ['module_id', 'reason'] as const,
    registers: [registry],
  });
  const holdAlarms = new Counter({
    name: `${PREFIX}hold_alarms_total`,
    help: 'Hold alarms raised: an EVSE ignored our holds and a lever was given up, by EVSE, the lever that failed and the next one.',
    labelNames: ['module_id', 'failed', 'next'] as const,
    registers: [registry],
  });
  let readOverBudget: () => Iterable<readonly [string, number]> = () => [];
  const overBudget = new Counter({
    name: `${PREFIX}hold_over_budget_seconds_total`,
    help: 'Seconds the site drew more than budget + tolerance while this EVSE ignored our holds (from its first failed hold) and kept drawing.',
    labelNames: ['module_id'] as const,
    registers: [registry],
    collect: () => {
      overBudget.reset();
      for (const [moduleId, seconds] of readOverBudget()) overBudget.inc({ module_id: moduleId }, seconds);
    },
  });
  let readRecomputes: () => { count: number; costMs: number } = () => ({ count: 0, costMs: 0 });
  const recomputes = new Counter({
    name: `${PREFIX}site_recomputes_total`,
    help: 'Site plans computed (each over every session); paced to at most a quarter of the event loop under a flood of changes.',
    registers: [registry],
    collect: () => {
      recomputes.reset();
      recomputes.inc(readRecomputes().count);
    },
  });
  new Gauge({
    name: `${PREFIX}site_recompute_cost_seconds`,
    help: 'Smoothed time one site plan takes (snapshot, allocation, handing decisions to the enforcer).',
    registers: [registry],
    collect() {
      this.set(readRecomputes().costMs / 1000);
    },
  });
  const httpRequests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP response time, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });

  let readAllocations: () => Iterable<readonly [string, number]> = () => [];
  const allocated = new Gauge({
    name: `${PREFIX}allocated_current_amperes`,
    help: 'Current the plan allocates to each EVSE under current control, A per phase (0 = held).',
    labelNames: ['module_id'] as const,
    registers: [registry],
    collect: () => {
      allocated.reset();
      for (const [moduleId, currentA] of readAllocations()) allocated.set({ module_id: moduleId }, currentA);
    },
  });
  const limitMessages = new Counter({
    name: `${PREFIX}limit_messages_total`,
    help: 'set_external_limits messages sent, by EVSE (plan changes, refreshes, resends after a restart, the fail-safe at shutdown).',
    labelNames: ['module_id'] as const,
    registers: [registry],
  });
  const mqttApiRejected = new Counter({
    name: `${PREFIX}mqtt_api_rejected_requests_total`,
    help: 'Requests on our MQTT API that were refused (unknown name, invalid JSON or body, failed operation), by request name.',
    labelNames: ['request'] as const,
    registers: [registry],
  });

  const sseClients = new Gauge({
    name: `${PREFIX}http_sse_clients`,
    help: 'Open Server-Sent Events streams.',
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    forwarding: createForwardingMetrics(registry),
    metricsText: () => registry.metrics(),
    messageIn: (name) => received.inc({ name }),
    messageOut: (name) => sent.inc({ name }),
    invalid: (name) => invalid.inc({ name }),
    unknownValue: (name) => unknownValues.inc({ name }),
    lateReply: () => lateReplies.inc(),
    requestDone: (command, latencyMs, outcome) => requestDuration.observe({ command, outcome }, latencyMs / 1000),
    heartbeatSeen: (moduleId, atMs) => {
      lastSeen.set(moduleId, atMs);
    },
    httpRequest: (method, route, statusCode, durationMs) => {
      httpRequests.inc({ method, route, status_code: String(statusCode) });
      httpDuration.observe({ method, route }, durationMs / 1000);
    },
    mqttApiRejected: (request) => mqttApiRejected.inc({ request }),
    sseClients: (delta) => sseClients.inc(delta),
    trackActions: (events$) => {
      const tracking = events$
        .pipe(filter((e): e is Extract<SiteEvent, { type: 'action' }> => e.type === 'action' && isFinal(e.action.status)))
        .subscribe(({ action }) => actions.inc({ type: action.type, origin: action.origin, outcome: action.status }));
      tracking.add(
        events$
          .pipe(filter((e): e is Extract<SiteEvent, { type: 'hlc_session_failed' }> => e.type === 'hlc_session_failed'))
          .subscribe((e) => hlcFailures.inc({ module_id: e.module_id, reason: e.reason })),
      );
      tracking.add(
        events$
          .pipe(filter((e): e is Extract<SiteEvent, { type: 'hold_alarm' }> => e.type === 'hold_alarm' && e.state === 'raised'))
          .subscribe((e) => holdAlarms.inc({ module_id: e.module_id, failed: e.failed, next: e.next })),
      );
      return tracking;
    },
    trackLimits: (limits$) => limits$.subscribe((sent) => limitMessages.inc({ module_id: sent.moduleId })),
    allocations: (read) => {
      readAllocations = read;
    },
    overBudget: (read) => {
      readOverBudget = read;
    },
    recomputes: (read) => {
      readRecomputes = read;
    },
  };
}

function createForwardingMetrics(registry: Registry): ForwardingMetrics {
  let probe: (() => { queued: number; oldestAgeS: number }) | undefined;
  new Gauge({
    name: `${PREFIX}forwarding_queue_depth`,
    help: 'Events in the forwarding outbox: on disk, not yet acknowledged by the cloud.',
    registers: [registry],
    collect() {
      this.set(probe?.().queued ?? 0);
    },
  });
  new Gauge({
    name: `${PREFIX}forwarding_oldest_age_seconds`,
    help: 'Age of the oldest event in the forwarding outbox (0 when empty).',
    registers: [registry],
    collect() {
      this.set(probe?.().oldestAgeS ?? 0);
    },
  });
  const delivered = new Counter({
    name: `${PREFIX}forwarding_delivered_total`,
    help: 'Messages the cloud accepted, by kind (TransactionEvent, MeterValues) and HTTP status.',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const failed = new Counter({
    name: `${PREFIX}forwarding_failed_total`,
    help: 'Delivery attempts that failed and will be retried, by kind and HTTP status (or network).',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: `${PREFIX}forwarding_dead_lettered_total`,
    help: 'Messages the cloud rejected (400, 413, 422), moved to the dead-letter file, by kind and status.',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: `${PREFIX}forwarding_dropped_total`,
    help: 'Queued messages dropped to keep the outbox within forwarding.max_queue_mb (only MeterValues), by kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${PREFIX}forwarding_delivery_latency_seconds`,
    help: 'From the EVerest event to the 2xx of the cloud, by kind (outages included).',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [registry],
  });
  return {
    delivered: (kind, status, latencyMs) => {
      delivered.inc({ kind, status: String(status) });
      latency.observe({ kind }, latencyMs / 1000);
    },
    failed: (kind, status) => failed.inc({ kind, status: String(status) }),
    deadLettered: (kind, status) => deadLettered.inc({ kind, status: String(status) }),
    dropped: (kind) => dropped.inc({ kind }),
    queueProbe: (p) => {
      probe = p;
    },
  };
}
