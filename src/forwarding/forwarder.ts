import { join } from 'node:path';
import { BehaviorSubject, asyncScheduler, distinctUntilChanged, interval, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { EvseConfig, ForwardingConfig } from '../config/types.js';
import type { E2mPayloads, E2mVar, EvInfo, Powermeter } from '../everest/payloads.js';
import type { Logger } from '../log/logger.js';
import { Delivery } from './delivery.js';
import { mapOfferedCurrent, mapSessionEvent, meterValuesBody, type EvseAddress, type EvseTxState, type MappingResult } from './mapping.js';
import { NOOP_FORWARDING_METRICS, type ForwardingMetrics } from './metrics.js';
import { TokenSource } from './oauth.js';
import { checkOcpp, type OcppKind } from './ocpp-schemas.js';
import { Outbox, type NewEntry } from './outbox.js';
import { sameForwardingStatus, type ForwardingState, type ForwardingStatus } from './status.js';

/** The part of the EVerest client the forwarder listens to. */
export interface EverestStreams {
  on<K extends E2mVar>(moduleId: string, name: K): Observable<E2mPayloads[K]>;
}

/** Knobs that are not configuration: test timings and bench throughput. */
export interface ForwarderTuning {
  maxInFlight: number;
  requestTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  tokenTimeoutMs: number;
}

export const DEFAULT_TUNING: ForwarderTuning = {
  maxInFlight: 8,
  requestTimeoutMs: 10_000,
  backoffMinMs: 500,
  backoffMaxMs: 60_000,
  tokenTimeoutMs: 10_000,
};

/** forwarding.* with the keys that must be present once url is set (the loader checks that). */
export type EnabledForwardingConfig = ForwardingConfig & Required<Pick<ForwardingConfig, 'url' | 'token_url' | 'client_id' | 'client_secret' | 'api_key'>>;

export function isForwardingEnabled(config: ForwardingConfig): config is EnabledForwardingConfig {
  return config.url !== undefined && config.token_url !== undefined && config.client_id !== undefined && config.client_secret !== undefined && config.api_key !== undefined;
}

export interface ForwarderOptions {
  streams: EverestStreams;
  evses: readonly EvseConfig[];
  config: EnabledForwardingConfig;
  /** Where the outbox, its state and the dead-letter file live. */
  dir: string;
  logger: Logger;
  metrics?: ForwardingMetrics;
  scheduler?: SchedulerLike;
  tuning?: Partial<ForwarderTuning>;
}

/** The cloud's station and OCPP EVSE id per configured EVSE: station_uid, else charge_box_identity, else module_id. */
export function evseAddresses(evses: readonly EvseConfig[]): EvseAddress[] {
  const perStation = new Map<string, number>();
  return evses.map((e) => {
    const stationUid = e.station_uid ?? e.charge_box_identity ?? e.module_id;
    // Several EVSEs of one station are numbered in configuration order, as OCPP numbers EVSEs from 1.
    const evseId = (perStation.get(stationUid) ?? 0) + 1;
    perStation.set(stationUid, evseId);
    return { moduleId: e.module_id, stationUid, evseId, connectorId: e.connectors[0] ?? 1 };
  });
}

type PersistedState = Record<string, EvseTxState>;

/** What must survive a restart: the session and the open transaction. The offered current is re-learnt within a second. */
function persistable(state: EvseTxState): EvseTxState {
  return { ...(state.session ? { session: state.session } : {}), ...(state.open ? { open: state.open } : {}) };
}

/**
 * The forwarding room's front door: maps each EVSE's EVerest streams to OCPP 2.0.1 messages,
 * validates them against the official schemas, writes them durably to the outbox and lets
 * Delivery send them. Knows nothing of priorities or the site.
 */
export class Forwarder {
  private readonly states = new Map<string, EvseTxState>();
  /** EVSEs whose state changed since the last write: only they go into the next batch's state line. */
  private readonly dirty = new Set<string>();
  private readonly latestMeter = new Map<string, Powermeter>();
  private readonly latestEv = new Map<string, EvInfo>();
  /** Where enforced_limits arrives, `limits` (older EVerest) is ignored so two sources never disagree. */
  private readonly enforcedSeen = new Set<string>();
  private readonly meterTimers = new Map<string, Subscription>();
  private readonly subscriptions: Subscription[] = [];
  private batch: NewEntry[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly statusSubject: BehaviorSubject<ForwardingStatus>;
  private readonly scheduler: SchedulerLike;
  private readonly metrics: ForwardingMetrics;
  private stopped = false;

  /** Changes of state, queue depth or whole-second age; at most about once a second besides state changes. */
  readonly status$: Observable<ForwardingStatus>;

  private constructor(
    private readonly options: ForwarderOptions,
    private readonly outbox: Outbox,
    private readonly delivery: Delivery,
    private readonly addresses: ReadonlyMap<string, EvseAddress>,
  ) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.metrics = options.metrics ?? NOOP_FORWARDING_METRICS;
    this.statusSubject = new BehaviorSubject(this.computeStatus());
    this.status$ = this.statusSubject.pipe(distinctUntilChanged(sameForwardingStatus));
  }

  static async start(options: ForwarderOptions): Promise<Forwarder> {
    const { config, logger } = options;
    const tuning = { ...DEFAULT_TUNING, ...options.tuning };
    const metrics = options.metrics ?? NOOP_FORWARDING_METRICS;
    const log = logger.child({ component: 'forwarding' });
    const { outbox, state, corruptLines } = await Outbox.open({
      dir: join(options.dir, 'outbox'),
      maxBytes: config.max_queue_mb * 1024 * 1024,
      logger: log,
      onDrop: (entry) => metrics.dropped(entry.kind),
    });
    if (corruptLines > 0) log.warn({ corruptLines }, 'forwarding: outbox had damaged lines (see above)');
    // Delivery reports state changes to the forwarder built right after it.
    const late: { forwarder?: Forwarder } = {};
    const delivery = new Delivery({
      outbox,
      baseUrl: config.url.replace(/\/+$/, ''),
      apiKey: config.api_key,
      tokens: new TokenSource({
        tokenUrl: config.token_url,
        clientId: config.client_id,
        clientSecret: config.client_secret,
        timeoutMs: tuning.tokenTimeoutMs,
        ...(config.scope !== undefined ? { scope: config.scope } : {}),
        ...(options.scheduler ? { now: () => options.scheduler?.now() ?? Date.now() } : {}),
      }),
      deadLetterPath: join(options.dir, 'dead-letter.jsonl'),
      logger: log,
      metrics,
      maxInFlight: tuning.maxInFlight,
      requestTimeoutMs: tuning.requestTimeoutMs,
      backoffMinMs: tuning.backoffMinMs,
      backoffMaxMs: tuning.backoffMaxMs,
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      onState: () => late.forwarder?.publishStatus(),
    });
    const addresses = new Map(evseAddresses(options.evses).map((a) => [a.moduleId, a]));
    const forwarder = new Forwarder({ ...options, logger: log }, outbox, delivery, addresses);
    late.forwarder = forwarder;
    forwarder.restore(state);
    forwarder.listen();
    metrics.queueProbe(() => {
      const s = forwarder.computeStatus();
      return { queued: s.queued, oldestAgeS: s.oldest_age_s };
    });
    log.info({ stations: new Set([...addresses.values()].map((a) => a.stationUid)).size, queued: outbox.depth }, 'forwarding: started');
    delivery.kick();
    return forwarder;
  }

  get status(): ForwardingStatus {
    return this.computeStatus();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.subscriptions) s.unsubscribe();
    for (const t of this.meterTimers.values()) t.unsubscribe();
    this.meterTimers.clear();
    // What was mapped is written before we go: it is part of the feed.
    await this.flush();
    await this.delivery.stop();
    await this.outbox.close();
    this.statusSubject.next(this.computeStatus());
    this.statusSubject.complete();
  }

  // ------------------------------------------------------------------ internals

  private restore(state: unknown): void {
    if (typeof state !== 'object' || state === null) return;
    for (const [moduleId, s] of Object.entries(state as PersistedState)) {
      if (!this.addresses.has(moduleId)) continue;
      this.states.set(moduleId, s);
      if (s.open) this.startMeterTimer(moduleId);
    }
  }

  private listen(): void {
    const { streams } = this.options;
    for (const address of this.addresses.values()) {
      const id = address.moduleId;
      this.subscriptions.push(
        streams.on(id, 'session_event').subscribe((event) => this.apply(id, (s, now) => mapSessionEvent(s, event, address, now))),
        streams.on(id, 'powermeter').subscribe((meter) => this.latestMeter.set(id, meter)),
        streams.on(id, 'ev_info').subscribe((ev) => this.latestEv.set(id, ev)),
        streams.on(id, 'enforced_limits').subscribe((limits) => {
          this.enforcedSeen.add(id);
          const current = limits.limits_root_side.ac_max_current_A?.value;
          if (current !== undefined) this.apply(id, (s, now) => mapOfferedCurrent(s, current, address, now));
        }),
        streams.on(id, 'limits').subscribe((limits) => {
          if (!this.enforcedSeen.has(id)) this.apply(id, (s, now) => mapOfferedCurrent(s, limits.max_current, address, now));
        }),
      );
    }
    this.subscriptions.push(interval(1000, this.scheduler).subscribe(() => this.publishStatus()));
  }

  private apply(moduleId: string, map: (state: EvseTxState, now: number) => MappingResult): void {
    if (this.stopped) return;
    const address = this.addresses.get(moduleId);
    if (!address) return;
    const before = this.states.get(moduleId) ?? {};
    const now = this.scheduler.now();
    const { state, events } = map(before, now);
    this.states.set(moduleId, state);
    if (state.open !== before.open || state.session !== before.session) this.dirty.add(moduleId);
    for (const body of events) this.enqueue(address.stationUid, 'TransactionEvent', body, now);
    if (before.open?.transactionId !== state.open?.transactionId) {
      this.meterTimers.get(moduleId)?.unsubscribe();
      this.meterTimers.delete(moduleId);
      if (state.open) this.startMeterTimer(moduleId);
    }
  }

  private startMeterTimer(moduleId: string): void {
    const periodMs = this.options.config.meter_interval_s * 1000;
    this.meterTimers.set(
      moduleId,
      interval(periodMs, this.scheduler).subscribe(() => {
        const address = this.addresses.get(moduleId);
        const meter = this.latestMeter.get(moduleId);
        if (!address || !meter) return;
        const now = this.scheduler.now();
        this.enqueue(address.stationUid, 'MeterValues', meterValuesBody(address.evseId, meter, this.latestEv.get(moduleId), now), now);
      }),
    );
  }

  private enqueue(station: string, kind: OcppKind, body: object, now: number): void {
    const check = checkOcpp(kind, body);
    if (!check.ok) {
      // A mapping bug: the cloud would answer 400. Logged loudly, never sent.
      this.options.logger.error({ station, kind, reason: check.reason, body }, 'forwarding: built a message that fails the OCPP 2.0.1 schema; not sent');
      return;
    }
    this.batch.push({ station, kind, createdAt: now, body: JSON.stringify(body) });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything mapped in this turn of the event loop shares one write and one fsync.
    setImmediate(() => void this.flush());
  }

  private flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return this.flushing;
    this.batch = [];
    const changed: PersistedState | undefined = this.dirty.size === 0 ? undefined : Object.fromEntries([...this.dirty].map((id) => [id, persistable(this.states.get(id) ?? {})]));
    this.dirty.clear();
    this.flushing = this.outbox.append(batch, changed).then(
      (entries) => {
        this.delivery.kick(new Set(entries.map((e) => e.station)));
      },
      (err: Error) => {
        // The disk refused: these events are lost unless it recovers; say so loudly.
        this.options.logger.error({ err, events: batch.length }, 'forwarding: could not write the outbox; events lost');
      },
    );
    return this.flushing;
  }

  private computeStatus(): ForwardingStatus {
    const oldest = this.outbox.oldestCreatedAt();
    const state: ForwardingState = this.stopped ? 'stopped' : this.delivery.state;
    return {
      state,
      queued: this.outbox.depth,
      oldest_age_s: oldest === undefined ? 0 : Math.max(0, Math.floor((this.scheduler.now() - oldest) / 1000)),
    };
  }

  private publishStatus(): void {
    if (!this.statusSubject.closed) this.statusSubject.next(this.computeStatus());
  }
}
