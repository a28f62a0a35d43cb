import { EMPTY, type Observable } from 'rxjs';
import type { EvseConfig } from '../config/types.js';
import type { HeartbeatMonitor, Liveness } from '../everest/liveness.js';
import type { ConnectorRef, PriorityRecord, PriorityScope } from '../priorities/model.js';
import type { ConnectorDirectory, ResolveErrorCode } from '../priorities/resolve.js';
import type { PriorityChange, PriorityStore } from '../priorities/store.js';
import { FORWARDING_OFF, type ForwardingStatus } from '../forwarding/status.js';
import type { Forwarder } from '../forwarding/forwarder.js';
import type { ActionOrigin, ActionRecord, ActionRequest } from '../site/actions.js';
import type { SiteController } from '../site/controller.js';
import type { Enforcer } from '../site/enforcer.js';
import type { EvseView } from '../site/evse-view.js';

/**
 * What the API may see of the running module, and nothing more; the composition root hands in the
 * real objects, the types keep the API to these members.
 */
export interface ServicePorts {
  /** The configured EVSEs, in configuration order. */
  evses: readonly Pick<EvseConfig, 'module_id' | 'serial_number' | 'charge_box_identity' | 'limits_module_id'>[];
  /** Site state queries and commands. */
  site: Pick<SiteController, 'view' | 'decisionFor' | 'summary' | 'setBudget' | 'requestAction' | 'events$' | 'views$' | 'recomputed$'> & {
    enforcer: Pick<Enforcer, 'action' | 'lastAction' | 'manualHold'>;
  };
  /** Priority records and identifier resolution. */
  priorities: Pick<PriorityStore, 'get' | 'list' | 'upsert' | 'delete' | 'clear' | 'changes$'>;
  directory: Pick<ConnectorDirectory, 'resolve'>;
  /** Health: the broker connection and each EVSE's heartbeat. */
  broker: { readonly connected: boolean };
  heartbeat: Pick<HeartbeatMonitor, 'current'>;
  /** Present while forwarding is configured. */
  forwarding?: Pick<Forwarder, 'status' | 'status$'>;
}

/** OCPI-style EVSE status, mapped from the EVerest state (what CPMS back-ends already understand). */
export type OcpiStatus = 'AVAILABLE' | 'BLOCKED' | 'CHARGING' | 'INOPERATIVE' | 'OUTOFORDER' | 'PLANNED' | 'REMOVED' | 'RESERVED' | 'UNKNOWN';

export interface EvseStatusDto {
  module_id: string;
  evse_id: string | null;
  serial_number: string | null;
  charge_box_identity: string | null;
  connectors: Array<{ id: number; type: string | null; priority: number; priority_scope: PriorityScope | null }>;
  status: OcpiStatus;
  state: string;
  pause_reasons: string[] | null;
  connector_id: number;
  session: { uuid: string; started_at: string; transaction: boolean } | null;
  power_w: number;
  energy_wh: number;
  heartbeat: HeartbeatDto;
  /** The external_energy_limits_consumer_API module of this EVSE (current control); null without one. */
  limits: { module_id: string; heartbeat: HeartbeatDto } | null;
  priority: number;
  decision: { decision: string; reason: string; reason_code: string; expected_w: number; current_a: number | null } | null;
  last_action: ActionRecord | null;
  manual_hold: 'pause' | 'disable' | null;
}

export interface HeartbeatDto {
  status: string;
  last_seen_at: string | null;
  lost: number;
  restarts: number;
}

function heartbeatDto(liveness: Liveness | undefined): HeartbeatDto {
  return {
    status: liveness?.status ?? 'unknown',
    last_seen_at: liveness?.lastSeenMs !== undefined ? new Date(liveness.lastSeenMs).toISOString() : null,
    lost: liveness?.lost ?? 0,
    restarts: liveness?.restarts ?? 0,
  };
}

export function ocpiStatus(view: EvseView): OcpiStatus {
  if (view.liveness.status === 'stale') return 'INOPERATIVE';
  switch (view.state) {
    case 'Unplugged':
      return 'AVAILABLE';
    case 'Charging':
      return 'CHARGING';
    case 'Disabled':
      return 'INOPERATIVE';
    case 'Reserved':
      return 'RESERVED';
    case 'Preparing':
    case 'AuthRequired':
    case 'WaitingForEnergy':
    case 'ChargingPausedEV':
    case 'ChargingPausedEVSE':
    case 'Finished':
    case 'FinishedEV':
    case 'FinishedEVSE':
    case 'AuthTimeout':
      // The connector is occupied by a car that is not drawing power.
      return 'BLOCKED';
    default:
      return 'UNKNOWN';
  }
}

export type SiteFigures = Omit<ReturnType<ModuleService['site']>, 'next_review_at'> & {
  evses: Array<{ module_id: string; power_w: number; energy_wh: number }>;
};

export type ActionResult = { ok: true; action: ActionRecord } | { ok: false; code: ResolveErrorCode; message: string };

export type PriorityResult =
  | { ok: true; record: PriorityRecord; created: boolean }
  | { ok: false; code: ResolveErrorCode; message: string };

/**
 * The operations both APIs (HTTP and our MQTT topics) offer, in one place so they cannot drift.
 * Talks to the site domain and the priority store only.
 */
export class ModuleService {
  /** The configuration by module id: evse() runs for every EVSE of every list, a scan made lists quadratic. */
  private readonly configured: ReadonlyMap<string, ServicePorts['evses'][number]>;
  private readonly ids: readonly string[];

  constructor(private readonly ports: ServicePorts) {
    this.configured = new Map(ports.evses.map((e) => [e.module_id, e]));
    this.ids = ports.evses.map((e) => e.module_id);
  }

  get evseIds(): string[] {
    return [...this.ids];
  }

  evse(moduleId: string): EvseStatusDto | undefined {
    const view = this.ports.site.view(moduleId);
    const configured = this.configured.get(moduleId);
    if (!view || !configured) return undefined;
    const { priorities: store, site } = this.ports;
    const decision = site.decisionFor(moduleId);
    const lastAction = site.enforcer.lastAction(moduleId);
    const record = store.get(moduleId, view.connectorId);
    return {
      module_id: moduleId,
      evse_id: view.evseId ?? null,
      serial_number: configured.serial_number ?? null,
      charge_box_identity: configured.charge_box_identity ?? null,
      connectors: view.connectors.map((c) => {
        const r = store.get(moduleId, c.id);
        return { id: c.id, type: c.type ?? null, priority: r?.priority ?? 0, priority_scope: r?.scope ?? null };
      }),
      status: ocpiStatus(view),
      state: view.state,
      pause_reasons: view.pauseReasons ? [...view.pauseReasons] : null,
      connector_id: view.connectorId,
      session: view.session
        ? { uuid: view.session.uuid, started_at: new Date(view.session.startedAtMs).toISOString(), transaction: view.session.transaction }
        : null,
      power_w: Math.round(view.powerW),
      energy_wh: Math.round(view.energyWh),
      heartbeat: heartbeatDto(view.liveness),
      limits:
        configured.limits_module_id === undefined
          ? null
          : { module_id: configured.limits_module_id, heartbeat: heartbeatDto(this.ports.heartbeat.current(configured.limits_module_id)) },
      priority: record?.priority ?? 0,
      decision: decision
        ? {
            decision: decision.decision,
            reason: decision.reason,
            reason_code: decision.reasonCode,
            expected_w: Math.round(decision.expectedW),
            current_a: decision.currentA ?? null,
          }
        : null,
      last_action: lastAction ? { ...lastAction } : null,
      manual_hold: site.enforcer.manualHold(moduleId) ?? null,
    };
  }

  /** How many EVSEs the list holds: every configured one. */
  get evseCount(): number {
    return this.ids.length;
  }

  /** The EVSEs in configuration order from `start` up to `end` (exclusive): a page builds only its own. */
  evses(start = 0, end = this.ids.length): EvseStatusDto[] {
    return this.ids
      .slice(start, end)
      .map((id) => this.evse(id))
      .filter((e): e is EvseStatusDto => e !== undefined);
  }

  resolve(ref: ConnectorRef) {
    return this.ports.directory.resolve(ref);
  }

  async setPriority(ref: ConnectorRef, priority: number, scope: PriorityScope, setBy: string, ifMatchVersion?: number): Promise<PriorityResult> {
    const target = this.ports.directory.resolve(ref);
    if (!target.ok) return target;
    const { record, created } = await this.ports.priorities.upsert(
      { module_id: target.module_id, connector_id: target.connector_id, priority, scope, set_by: setBy },
      ifMatchVersion !== undefined ? { ifMatchVersion } : {},
    );
    return { ok: true, record, created };
  }

  priority(moduleId: string, connectorId: number): PriorityRecord | undefined {
    return this.ports.priorities.get(moduleId, connectorId);
  }

  priorities(): PriorityRecord[] {
    return this.ports.priorities.list();
  }

  deletePriority(moduleId: string, connectorId: number, ifMatchVersion?: number): Promise<boolean> {
    return this.ports.priorities.delete(moduleId, connectorId, ifMatchVersion !== undefined ? { ifMatchVersion } : {});
  }

  clearPriorities(): Promise<number> {
    return this.ports.priorities.clear();
  }

  /** The site summary; `forwarding` is there while forwarding to a cloud is configured. */
  site() {
    const forwarding = this.ports.forwarding?.status;
    return { ...this.ports.site.summary(), ...(forwarding ? { forwarding } : {}) };
  }

  forwarding(): ForwardingStatus {
    return this.ports.forwarding?.status ?? FORWARDING_OFF;
  }

  /** Forwarder status changes (state, queue depth, whole-second age); nothing while forwarding is off. */
  get forwarding$(): Observable<ForwardingStatus> {
    return this.ports.forwarding?.status$ ?? EMPTY;
  }

  /** The site's live figures as the SSE `site` event carries them (no review time: it is not a figure). */
  siteFigures(): SiteFigures {
    const { next_review_at: _next, ...summary } = this.site();
    const evses = this.ids.map((id) => {
      const view = this.ports.site.view(id);
      return { module_id: id, power_w: Math.round(view?.powerW ?? 0), energy_wh: Math.round(view?.energyWh ?? 0) };
    });
    return { ...summary, evses };
  }

  setSiteBudget(maxPowerW: number, setBy: string): void {
    this.ports.site.setBudget(maxPowerW, setBy);
  }

  hasEvse(moduleId: string): boolean {
    return this.ports.site.view(moduleId) !== undefined;
  }

  /** One rule for both APIs: the EVSE must be configured, and a named connector must exist on it. */
  requestAction(moduleId: string, req: ActionRequest, origin: ActionOrigin): ActionResult {
    if (!this.hasEvse(moduleId)) return { ok: false, code: 'unknown_module', message: `unknown module_id ${JSON.stringify(moduleId)}` };
    if (req.connector_id !== undefined) {
      const target = this.ports.directory.resolve({ by: 'module', module_id: moduleId, connector_id: req.connector_id });
      if (!target.ok) return target;
    }
    return { ok: true, action: this.ports.site.requestAction(moduleId, req, origin) };
  }

  action(id: string): ActionRecord | undefined {
    return this.ports.site.enforcer.action(id);
  }

  get events$() {
    return this.ports.site.events$;
  }

  /** Every EVSE view change (power and energy move without events). */
  get viewChanges$() {
    return this.ports.site.views$;
  }

  /** Fires after every schedule recomputation (planned power moves with it). */
  get recomputed$(): Observable<number> {
    return this.ports.site.recomputed$;
  }

  /** Acknowledged priority writes. */
  get priorityChanges$(): Observable<PriorityChange> {
    return this.ports.priorities.changes$;
  }

  health() {
    const online = this.ports.broker.connected;
    const status = (id: string) => this.ports.heartbeat.current(id)?.status ?? 'unknown';
    const evses = this.ports.evses.map((e) => ({
      module_id: e.module_id,
      heartbeat: status(e.module_id),
      ...(e.limits_module_id === undefined ? {} : { limits_module_id: e.limits_module_id, limits_heartbeat: status(e.limits_module_id) }),
    }));
    const evsesOnline = evses.filter((e) => e.heartbeat === 'online' || e.heartbeat === 'restarted').length;
    return {
      live: true,
      ready: online && (evses.length === 0 || evsesOnline > 0),
      broker_connected: online,
      evses_online: evsesOnline,
      evses_total: evses.length,
      evses,
      // Informative only: a cloud outage delays the feed, it does not make the module unready.
      forwarding: this.forwarding(),
    };
  }
}
