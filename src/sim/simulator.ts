import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { Subject, Subscription, asyncScheduler, filter, firstValueFrom, timer, type Observable, type SchedulerLike } from 'rxjs';
import { loadContract, type Contract } from '../everest/contract.js';
import type { M2eRequest } from '../everest/payloads.js';
import { EXTERNAL_LIMITS_API, EverestTopics, type TopicOptions } from '../everest/topics.js';
import { MqttTransport, type InboundMessage } from '../transport/mqtt-transport.js';
import { MODULE_WIDE_ACTIONS, applyToModel, type SimAction, type TargetedAction } from './actions.js';
import { EvseModel, type EvseModelConfig } from './evse-model.js';
import { EnergyNodeModel, type SimLimitsModule } from './external-limits.js';
import { replyToOf, type CommandFault } from './faults.js';
import { garbageMessages } from './garbage.js';
import { handleM2e } from './m2e-handler.js';
import { hashString, mulberry32, seededUuid } from './prng.js';
import { randomSteps } from './random-scenario.js';
import { checkScenarioModules, timeline, type Scenario, type ScenarioStep } from './scenario.js';
import { simStatus, statusTopic } from './sim-status.js';

export interface SimulatorOptions {
  /** Broker to connect to; ignored when `transport` is given. */
  url?: string;
  /** A transport to share; the simulator then neither owns nor closes it. */
  transport?: MqttTransport;
  moduleIds: readonly string[];
  /**
   * EnergyNodes with an external_energy_limits_consumer_API module, one above each EVSE under current
   * control (default: the scenario's limits_modules). Their limits reach the EVSE on every energy
   * manager update, which runs with the powermeter tick.
   */
  limitsModules?: readonly SimLimitsModule[];
  topics?: Partial<TopicOptions>;
  /** EVerest's cfg_heartbeat_interval_ms; <= 0 disables the heartbeat. */
  heartbeatIntervalMs?: number;
  /** `empty-object` publishes `{}` like EVerest before 2025-11-17. */
  heartbeatStyle?: 'counter' | 'empty-object';
  powermeterIntervalMs?: number;
  /** EVerest's cfg_communication_check_to_s; <= 0 disables the check. */
  communicationCheckTimeoutS?: number;
  scenario?: Scenario;
  /** Without a scenario: seeded random arrivals and departures. Always: deterministic session ids. */
  seed?: number;
  logger: Logger;
  scheduler?: SchedulerLike;
  contract?: Contract;
  /** Per-EVSE overrides (hardware, initial limit, meter), for every EVSE. */
  evse?: Partial<Omit<EvseModelConfig, 'moduleId' | 'evseIndex' | 'newSessionId'>>;
  /** Overrides for single EVSEs by module id, over `evse` (a single-phase EVSE on a three-phase site). */
  evseById?: Readonly<Record<string, Partial<Omit<EvseModelConfig, 'moduleId' | 'evseIndex' | 'newSessionId'>>>>;
  /** How long to wait for the first broker connection. */
  connectTimeoutMs?: number;
  /** Reconnect delay bounds after a lost connection (default 500 ms to 5 s, backing off with jitter). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export type SimEvent =
  | { kind: 'published'; moduleId: string; topic: string; name: string; payload: string }
  | { kind: 'dropped'; moduleId: string; topic: string; reason: 'silent' | 'offline' | 'muted' }
  | { kind: 'replied'; moduleId: string; request: M2eRequest; replyTo: string; reply: unknown }
  | { kind: 'ignored'; moduleId: string; topic: string; reason: string }
  | { kind: 'received'; moduleId: string; name: string; value: unknown }
  | { kind: 'comm_fault'; moduleId: string; fault: boolean; reason: string | undefined }
  | { kind: 'action'; moduleId: string; action: SimAction };

export interface Simulator {
  readonly moduleIds: readonly string[];
  readonly topics: EverestTopics;
  /** Everything the simulator did, hot. */
  readonly events$: Observable<SimEvent>;
  evse(moduleId: string): EvseModel;
  /** The EnergyNode (and its API module) of a limits module. */
  limitsNode(limitsModuleId: string): EnergyNodeModel;
  /** Runs a scenario action now (module_id may be left out for restart, go_silent and send_garbage). */
  apply(action: TargetedAction): void;
  /** Injects a fault into one EVSE's handling of one command (undefined clears it); see faults.ts. */
  fault(moduleId: string, fault: CommandFault | undefined): void;
  statusTopic(moduleId: string): string;
  stop(): Promise<void>;
}

interface ModuleRuntime {
  model: EvseModel;
  heartbeat: number;
  silentUntil: number;
  /** Until then everything this EVSE publishes is lost (a fault: mute_after). */
  mutedUntil: number;
  fault?: CommandFault;
  /** The EnergyNode above this EVSE when it is under current control; it shares the EVSE's process. */
  node?: EnergyNodeModel;
}

const COMM_CHECK_POLL_MS = 200;

class MqttSimulator implements Simulator {
  readonly topics: EverestTopics;
  readonly moduleIds: readonly string[];
  private readonly limitsTopics: EverestTopics;
  private readonly runtimes = new Map<string, ModuleRuntime>();
  private readonly nodes = new Map<string, { node: EnergyNodeModel; rt: ModuleRuntime }>();
  private readonly eventsSubject = new Subject<SimEvent>();
  private readonly subscriptions = new Subscription();
  private readonly scheduler: SchedulerLike;
  private readonly log: Logger;
  private readonly prefix: string;
  private readonly autoAuthorize: boolean;
  private stopped = false;
  /** Only the next step is ever scheduled, so an endless random run holds one timer, not thousands. */
  private pendingStep: Subscription | undefined;

  readonly events$: Observable<SimEvent> = this.eventsSubject.asObservable();

  constructor(
    private readonly options: SimulatorOptions,
    private readonly transport: MqttTransport,
    private readonly ownsTransport: boolean,
    private readonly contract: Contract,
  ) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.log = options.logger.child({ component: 'sim' });
    this.prefix = options.topics?.prefix ?? '';
    this.topics = new EverestTopics({ prefix: this.prefix, apiVersion: options.topics?.apiVersion ?? '1' });
    this.moduleIds = [...options.moduleIds];
    this.autoAuthorize = options.scenario?.autoAuthorize ?? false;
    const ids = options.seed !== undefined ? seededIds(options.seed) : randomUUID;
    const now = this.scheduler.now();
    this.moduleIds.forEach((moduleId, i) => {
      const model = new EvseModel(
        {
          ...options.evse,
          ...options.evseById?.[moduleId],
          moduleId,
          evseIndex: i + 1,
          communicationCheckTimeoutS: options.communicationCheckTimeoutS ?? options.evse?.communicationCheckTimeoutS ?? 5,
          newSessionId: ids,
        },
        now,
      );
      this.runtimes.set(moduleId, { model, heartbeat: 0, silentUntil: -Infinity, mutedUntil: -Infinity });
    });
    this.limitsTopics = this.topics.forApi(EXTERNAL_LIMITS_API);
    const commTimeoutS = options.communicationCheckTimeoutS ?? options.evse?.communicationCheckTimeoutS ?? 5;
    for (const config of options.limitsModules ?? scenarioLimitsModules(options.scenario)) {
      const rt = this.runtime(config.moduleId);
      if (rt.node || this.runtimes.has(config.limitsModuleId) || this.nodes.has(config.limitsModuleId)) {
        throw new Error(`sim: limits module '${config.limitsModuleId}' for '${config.moduleId}' is not unique`);
      }
      rt.node = new EnergyNodeModel(config, commTimeoutS);
      this.nodes.set(config.limitsModuleId, { node: rt.node, rt });
    }
  }

  async start(): Promise<void> {
    this.subscriptions.add(this.transport.messages$.subscribe((m) => this.onMessage(m)));
    await this.transport.subscribe(this.m2eFilters());
    for (const rt of this.runtimes.values()) {
      this.flush(rt);
      this.logCommFault(rt);
    }
    this.startTimers();
    this.startScenario();
    this.log.info({ modules: this.moduleIds, base: this.topics.base }, 'simulated EVerest started');
  }

  evse(moduleId: string): EvseModel {
    return this.runtime(moduleId).model;
  }

  limitsNode(limitsModuleId: string): EnergyNodeModel {
    const entry = this.nodes.get(limitsModuleId);
    if (!entry) throw new Error(`sim: unknown limits module '${limitsModuleId}'`);
    return entry.node;
  }

  statusTopic(moduleId: string): string {
    return statusTopic(this.prefix, moduleId);
  }

  fault(moduleId: string, fault: CommandFault | undefined): void {
    const rt = this.runtime(moduleId);
    this.log.info({ module_id: moduleId, fault }, fault ? 'fault injected' : 'fault cleared');
    if (fault) rt.fault = fault;
    else delete rt.fault;
  }

  apply(targeted: TargetedAction): void {
    const { module_id: moduleId, ...rest } = targeted;
    const action = rest as SimAction;
    if (moduleId === undefined && !MODULE_WIDE_ACTIONS.has(action.action)) {
      throw new Error(`sim: action ${action.action} needs a module_id`);
    }
    const targets = moduleId === undefined ? [...this.runtimes.values()] : [this.runtime(moduleId)];
    const now = this.scheduler.now();
    for (const rt of targets) {
      this.log.info({ module_id: rt.model.moduleId, ...action }, `sim action ${action.action}`);
      this.applyOne(rt, action, now);
      this.flush(rt);
      this.publishStatus(rt, now);
      this.eventsSubject.next({ kind: 'action', moduleId: rt.model.moduleId, action });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.subscriptions.unsubscribe();
    this.pendingStep?.unsubscribe();
    if (this.transport.connected) {
      // Clear the retained status so a stopped simulator does not look alive.
      await Promise.all(
        this.moduleIds.map((id) => this.transport.publish(this.statusTopic(id), '', { qos: 1, retain: true }).catch(() => undefined)),
      );
    }
    if (this.ownsTransport) {
      await this.transport.close();
    } else {
      await this.transport.unsubscribe(this.m2eFilters()).catch(() => undefined);
    }
    this.eventsSubject.complete();
    this.log.info('simulated EVerest stopped');
  }

  private applyOne(rt: ModuleRuntime, action: SimAction, now: number): void {
    switch (action.action) {
      case 'go_silent':
        rt.silentUntil = now + action.duration_s * 1000;
        return;
      case 'send_garbage':
        for (const g of garbageMessages(action.topic)) {
          const topic = g.target.includes('/') ? g.target : `${this.topics.module(rt.model.moduleId)}/e2m/${g.target}`;
          this.send(rt, topic, g.target, g.payload);
        }
        return;
      case 'restart':
        rt.heartbeat = 0;
        rt.node?.restart();
        rt.model.restart(now);
        this.logCommFault(rt);
        return;
      default:
        applyToModel(rt.model, action, now, { autoAuthorize: this.autoAuthorize });
    }
  }

  private startTimers(): void {
    const hbMs = this.options.heartbeatIntervalMs ?? 1000;
    if (hbMs > 0) {
      this.subscriptions.add(timer(0, hbMs, this.scheduler).subscribe(() => this.onHeartbeat()));
    }
    const pmMs = this.options.powermeterIntervalMs ?? 1000;
    this.subscriptions.add(timer(pmMs, pmMs, this.scheduler).subscribe(() => this.onMeterTick()));
    this.subscriptions.add(timer(COMM_CHECK_POLL_MS, COMM_CHECK_POLL_MS, this.scheduler).subscribe(() => this.onCommCheckPoll()));
  }

  private startScenario(): void {
    const { scenario, seed } = this.options;
    let steps: Iterator<ScenarioStep>;
    if (scenario) {
      checkScenarioModules(scenario, this.moduleIds);
      steps = timeline(scenario);
    } else if (seed !== undefined) {
      steps = randomSteps({ seed, moduleIds: this.moduleIds });
    } else {
      return;
    }
    const startedAt = this.scheduler.now();
    const next = (): void => {
      const r = steps.next();
      if (r.done) {
        this.log.info('scenario finished');
        return;
      }
      const step = r.value;
      const delay = Math.max(0, startedAt + step.at * 1000 - this.scheduler.now());
      this.pendingStep = this.scheduler.schedule(() => {
        if (this.stopped) return;
        const { at: _at, ...action } = step;
        try {
          this.apply(action);
        } catch (err) {
          this.log.error({ err: (err as Error).message, step }, 'scenario step failed');
        }
        next();
      }, delay);
    };
    next();
  }

  private onHeartbeat(): void {
    for (const rt of this.runtimes.values()) {
      const payload = this.options.heartbeatStyle === 'empty-object' ? '{}' : String(rt.heartbeat);
      this.send(rt, this.topics.e2m(rt.model.moduleId, 'heartbeat'), 'heartbeat', payload);
      // The counter keeps counting through silence, so the far side sees the jump.
      rt.heartbeat += 1;
      const node = rt.node;
      if (node) {
        const beat = this.options.heartbeatStyle === 'empty-object' ? '{}' : String(node.heartbeat);
        this.send(rt, this.limitsTopics.e2m(node.limitsModuleId, 'heartbeat'), 'heartbeat', beat);
        node.heartbeat += 1;
      }
    }
  }

  private onMeterTick(): void {
    const now = this.scheduler.now();
    for (const rt of this.runtimes.values()) {
      // EVerest's energy manager (about once a second): the EnergyNode's limit in force reaches the EVSE.
      if (rt.node) {
        const limit = rt.node.limitAt(now);
        rt.model.applyEnergyLimit(limit.currentA, limit.source, now);
      }
      rt.model.tick(now);
      this.flush(rt);
      this.publishStatus(rt, now);
    }
  }

  private onCommCheckPoll(): void {
    const now = this.scheduler.now();
    for (const rt of this.runtimes.values()) {
      if (rt.model.comm.tick(now)) {
        this.logCommFault(rt);
        this.publishStatus(rt, now);
      }
      if (rt.node?.comm.tick(now)) this.logNodeCommFault(rt.node);
    }
  }

  private onMessage(message: InboundMessage): void {
    const parsed = this.topics.parse(message.topic);
    if (!parsed) {
      this.onLimitsMessage(message);
      return;
    }
    if (parsed.direction !== 'm2e' || parsed.rest.length > 0) return;
    const rt = this.runtimes.get(parsed.moduleId);
    if (!rt) return;
    const now = this.scheduler.now();
    if (now < rt.silentUntil) {
      this.ignore(rt, message.topic, 'silent: EVerest is not listening');
      return;
    }
    const fault = rt.fault?.command === parsed.name ? rt.fault : undefined;
    if (fault?.mode === 'ignore') {
      this.ignore(rt, message.topic, `fault: ${parsed.name} ignored`);
      return;
    }
    if (fault?.mode === 'refuse') {
      const replyTo = replyToOf(message.payload);
      if (replyTo !== undefined) this.send(rt, replyTo, `reply:${parsed.name}`, 'false');
      this.eventsSubject.next({ kind: 'ignored', moduleId: rt.model.moduleId, topic: message.topic, reason: `fault: ${parsed.name} refused` });
      return;
    }
    if (fault?.mode === 'mute_after') rt.mutedUntil = now + fault.ms;
    const outcome = handleM2e(rt.model, parsed.name, message.payload, this.contract, now);
    switch (outcome.kind) {
      case 'ignored':
        this.ignore(rt, message.topic, outcome.reason);
        break;
      case 'reply':
        this.send(rt, outcome.replyTo, `reply:${outcome.request}`, outcome.body);
        this.log.debug({ module_id: rt.model.moduleId, request: outcome.request, reply: outcome.reply }, 'replied');
        this.eventsSubject.next({ kind: 'replied', moduleId: rt.model.moduleId, request: outcome.request, replyTo: outcome.replyTo, reply: outcome.reply });
        break;
      case 'comm_check':
        if (outcome.changed) this.logCommFault(rt);
        this.eventsSubject.next({ kind: 'received', moduleId: rt.model.moduleId, name: 'communication_check', value: outcome.value });
        break;
      case 'accepted':
        this.eventsSubject.next({ kind: 'received', moduleId: rt.model.moduleId, name: outcome.send, value: outcome.value });
        break;
    }
    // Replies go out before the session events the command caused, as EVerest's state machine runs after the call returns.
    this.flush(rt);
    if (outcome.kind !== 'ignored') this.publishStatus(rt, now);
  }

  private onLimitsMessage(message: InboundMessage): void {
    const parsed = this.limitsTopics.parse(message.topic);
    if (!parsed || parsed.direction !== 'm2e' || parsed.rest.length > 0) return;
    const entry = this.nodes.get(parsed.moduleId);
    if (!entry) return;
    const { node, rt } = entry;
    const now = this.scheduler.now();
    if (now < rt.silentUntil) {
      this.ignore(rt, message.topic, 'silent: EVerest is not listening');
      return;
    }
    const outcome = node.receive(parsed.name, message.payload, this.contract.externalLimits, now);
    switch (outcome.kind) {
      case 'ignored':
        this.ignore(rt, message.topic, outcome.reason);
        return;
      case 'comm_check':
        if (outcome.changed) this.logNodeCommFault(node);
        this.eventsSubject.next({ kind: 'received', moduleId: node.limitsModuleId, name: 'communication_check', value: outcome.value });
        return;
      case 'limits':
        this.log.debug({ limits_module_id: node.limitsModuleId, current_a: node.limitAt(now).currentA }, 'external limits set');
        this.eventsSubject.next({ kind: 'received', moduleId: node.limitsModuleId, name: 'set_external_limits', value: outcome.value });
    }
  }

  private logNodeCommFault(node: EnergyNodeModel): void {
    const { fault, reason } = node.comm.status;
    if (fault) this.log.warn({ limits_module_id: node.limitsModuleId, reason }, 'CommunicationFault raised (limits module; its limit stays)');
    else this.log.info({ limits_module_id: node.limitsModuleId }, 'CommunicationFault cleared (limits module)');
    this.eventsSubject.next({ kind: 'comm_fault', moduleId: node.limitsModuleId, fault, reason });
  }

  private m2eFilters(): string[] {
    return [...this.moduleIds.map((id) => this.topics.m2eFilter(id)), ...[...this.nodes.keys()].map((id) => this.limitsTopics.m2eFilter(id))];
  }

  private ignore(rt: ModuleRuntime, topic: string, reason: string): void {
    this.log.warn({ module_id: rt.model.moduleId, topic, reason }, 'ignored m2e message (no reply)');
    this.eventsSubject.next({ kind: 'ignored', moduleId: rt.model.moduleId, topic, reason });
  }

  private flush(rt: ModuleRuntime): void {
    for (const out of rt.model.drain()) {
      this.send(rt, this.topics.e2m(rt.model.moduleId, out.name), out.name, JSON.stringify(out.payload));
    }
  }

  /** QoS 0, never retained, dropped while silent: how EVerest publishes. */
  private send(rt: ModuleRuntime, topic: string, name: string, payload: string): void {
    const moduleId = rt.model.moduleId;
    if (this.scheduler.now() < rt.silentUntil) {
      this.eventsSubject.next({ kind: 'dropped', moduleId, topic, reason: 'silent' });
      return;
    }
    if (this.scheduler.now() < rt.mutedUntil) {
      this.eventsSubject.next({ kind: 'dropped', moduleId, topic, reason: 'muted' });
      return;
    }
    if (!this.transport.connected) {
      this.eventsSubject.next({ kind: 'dropped', moduleId, topic, reason: 'offline' });
      return;
    }
    this.transport.publish(topic, payload, { qos: 0, retain: false }).catch((err: Error) => {
      this.log.debug({ topic, err: err.message }, 'publish failed');
    });
    this.eventsSubject.next({ kind: 'published', moduleId, topic, name, payload });
  }

  /** The simulator's own diagnostic topic; published even while silent, with `silent: true`. */
  private publishStatus(rt: ModuleRuntime, now: number): void {
    if (!this.transport.connected || this.stopped) return;
    const status = simStatus(rt.model, Math.max(0, rt.heartbeat - 1), now < rt.silentUntil, now, rt.node);
    this.transport.publish(this.statusTopic(rt.model.moduleId), JSON.stringify(status), { qos: 0, retain: true }).catch(() => undefined);
  }

  private logCommFault(rt: ModuleRuntime): void {
    const { fault, reason, active } = rt.model.comm.status;
    const moduleId = rt.model.moduleId;
    if (fault) this.log.warn({ module_id: moduleId, reason }, 'CommunicationFault raised');
    else this.log.info({ module_id: moduleId, check_active: active }, 'CommunicationFault cleared');
    this.eventsSubject.next({ kind: 'comm_fault', moduleId, fault, reason });
  }

  private runtime(moduleId: string): ModuleRuntime {
    const rt = this.runtimes.get(moduleId);
    if (!rt) throw new Error(`sim: unknown module_id '${moduleId}' (simulating ${this.moduleIds.join(', ')})`);
    return rt;
  }
}

function scenarioLimitsModules(scenario: Scenario | undefined): SimLimitsModule[] {
  return Object.entries(scenario?.limitsModules ?? {}).map(([moduleId, limitsModuleId]) => ({ moduleId, limitsModuleId }));
}

function seededIds(seed: number): () => string {
  const random = mulberry32(seed ^ hashString('session-ids'));
  return () => seededUuid(random);
}

/** Connects (or uses the given transport), publishes what EVerest publishes at start, and runs the scenario. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  if (options.moduleIds.length === 0) throw new Error('sim: at least one module_id is needed');
  if (new Set(options.moduleIds).size !== options.moduleIds.length) throw new Error('sim: module_ids must be unique');
  const contract = options.contract ?? (loadContract());
  let transport = options.transport;
  const owns = transport === undefined;
  if (!transport) {
    if (!options.url) throw new Error('sim: either url or transport is needed');
    transport = new MqttTransport({
      url: options.url,
      clientId: `evse-priority-sim-${randomUUID().slice(0, 8)}`,
      logger: options.logger.child({ component: 'sim-transport' }),
      statusTopic: `${options.topics?.prefix ?? ''}evse_priority_sim/status`,
      ...(options.reconnectMinMs !== undefined ? { reconnectMinMs: options.reconnectMinMs } : {}),
      ...(options.reconnectMaxMs !== undefined ? { reconnectMaxMs: options.reconnectMaxMs } : {}),
    });
  }
  try {
    await waitOnline(transport, options.connectTimeoutMs ?? 10_000, options.url);
    const sim = new MqttSimulator(options, transport, owns, contract);
    await sim.start();
    return sim;
  } catch (err) {
    if (owns) await transport.close().catch(() => undefined);
    throw err;
  }
}

async function waitOnline(transport: MqttTransport, timeoutMs: number, url: string | undefined): Promise<void> {
  if (transport.connected) return;
  let timeout: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      firstValueFrom(transport.status$.pipe(filter((s) => s === 'online'))),
      new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new Error(`sim: no broker connection within ${timeoutMs} ms${url ? ` (${url})` : ''}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timeout);
  }
}
