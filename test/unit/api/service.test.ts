import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BehaviorSubject, Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModuleService, ocpiStatus, type ServicePorts } from '../../../src/api/service.js';
import type { Liveness } from '../../../src/everest/liveness.js';
import { ConnectorDirectory } from '../../../src/priorities/resolve.js';
import { PriorityStore } from '../../../src/priorities/store.js';
import type { ActionOrigin, ActionRecord, ActionRequest } from '../../../src/site/actions.js';
import type { SiteEvent } from '../../../src/site/controller.js';
import type { EvseView } from '../../../src/site/evse-view.js';
import type { Decision } from '../../../src/site/model.js';
import { aChargingView, anIdleView } from '../../support/builders/evse-view.js';
import { CAR_11KW_W, HOUR_MS, NOW } from '../../support/builders/snapshot.js';

const EVSES = [
  { module_id: 'evse_1', serial_number: 'SN-1', charge_box_identity: 'CP-1' },
  { module_id: 'evse_2', limits_module_id: 'evse_2_limits' },
];

/** The site as the service sees it: views, decisions and actions a test sets, commands it records. */
class FakeSite {
  readonly views = new Map<string, EvseView>();
  readonly decisions = new Map<string, Decision>();
  readonly actions = new Map<string, ActionRecord>();
  readonly holds = new Map<string, 'pause' | 'disable'>();
  readonly budgets: Array<{ maxPowerW: number; setBy: string }> = [];
  readonly requested: Array<{ moduleId: string; req: ActionRequest; origin: ActionOrigin }> = [];
  readonly events$ = new Subject<SiteEvent>();
  readonly views$ = new Subject<EvseView>();
  readonly recomputed$ = new Subject<number>();
  readonly enforcer = {
    action: (id: string) => this.actions.get(id),
    lastAction: (moduleId: string) => [...this.actions.values()].reverse().find((a) => a.module_id === moduleId),
    manualHold: (moduleId: string) => this.holds.get(moduleId),
  };

  view(moduleId: string): EvseView | undefined {
    return this.views.get(moduleId);
  }
  decisionFor(moduleId: string): Decision | undefined {
    return this.decisions.get(moduleId);
  }
  summary() {
    return { max_power_w: 22_000, planned_w: 11_040, measured_w: 11_040, next_review_at: new Date(NOW).toISOString() };
  }
  setBudget(maxPowerW: number, setBy: string): void {
    this.budgets.push({ maxPowerW, setBy });
  }
  requestAction(moduleId: string, req: ActionRequest, origin: ActionOrigin): ActionRecord {
    this.requested.push({ moduleId, req, origin });
    const action: ActionRecord = {
      id: `a${this.requested.length}`,
      module_id: moduleId,
      connector_id: req.connector_id ?? 1,
      type: req.type,
      origin,
      status: 'requested',
      attempts: 0,
      requested_at: new Date(NOW).toISOString(),
      updated_at: new Date(NOW).toISOString(),
    };
    this.actions.set(action.id, action);
    return action;
  }
}

const charge: Decision = { key: 'evse_1/1', moduleId: 'evse_1', connectorId: 1, decision: 'charge', reason: 'fits the budget', reasonCode: 'fits', expectedW: 11_040.4, demandW: 11_040, priority: 3 };

describe('ModuleService over its ports', () => {
  let dir: string;
  let store: PriorityStore;
  let site: FakeSite;
  let liveness: Map<string, Liveness>;
  let broker: { connected: boolean };
  let service: ModuleService;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'service-test-'));
    store = await PriorityStore.open(dir);
    site = new FakeSite();
    site.views.set('evse_1', aChargingView('evse_1', { evseId: 'DE*ABC*E1', energyWh: 1234.6 }));
    site.views.set('evse_2', anIdleView('evse_2'));
    liveness = new Map();
    broker = { connected: true };
    const ports: ServicePorts = {
      evses: EVSES,
      site,
      priorities: store,
      directory: new ConnectorDirectory(EVSES.map((e) => ({ module_id: e.module_id, serial_number: e.serial_number, charge_box_identity: e.charge_box_identity, connectors: [1] }))),
      broker,
      heartbeat: { current: (id: string) => liveness.get(id) },
    };
    service = new ModuleService(ports);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes an EVSE from its view, configuration, priority, decision and last action', async () => {
    await store.upsert({ module_id: 'evse_1', connector_id: 1, priority: 3, scope: 'persistent', set_by: 'test' });
    site.decisions.set('evse_1', charge);
    const action = site.requestAction('evse_1', { type: 'pause' }, 'api');
    site.holds.set('evse_1', 'pause');
    expect(service.evse('evse_1')).toEqual({
      module_id: 'evse_1',
      evse_id: 'DE*ABC*E1',
      serial_number: 'SN-1',
      charge_box_identity: 'CP-1',
      connectors: [{ id: 1, type: null, priority: 3, priority_scope: 'persistent' }],
      status: 'CHARGING',
      state: 'Charging',
      pause_reasons: null,
      connector_id: 1,
      session: { uuid: 'session-evse_1', started_at: new Date(NOW - HOUR_MS).toISOString(), transaction: true },
      power_w: CAR_11KW_W,
      energy_wh: 1235,
      heartbeat: { status: 'online', last_seen_at: null, lost: 0, restarts: 0 },
      limits: null,
      priority: 3,
      decision: { decision: 'charge', reason: 'fits the budget', reason_code: 'fits', expected_w: 11_040, current_a: null },
      last_action: action,
      manual_hold: 'pause',
    });
  });

  it('reports the limits module and its heartbeat for an EVSE under current control, and nothing for unknown EVSEs', () => {
    liveness.set('evse_2_limits', { moduleId: 'evse_2_limits', status: 'stale', lastSeenMs: NOW, lost: 2, restarts: 1 });
    expect(service.evse('evse_2')).toMatchObject({
      status: 'AVAILABLE',
      session: null,
      serial_number: null,
      limits: { module_id: 'evse_2_limits', heartbeat: { status: 'stale', last_seen_at: new Date(NOW).toISOString(), lost: 2, restarts: 1 } },
    });
    expect(service.evse('evse_9')).toBeUndefined();
    expect(service.evses().map((e) => e.module_id)).toEqual(['evse_1', 'evse_2']);
  });

  it('maps EVerest states to OCPI statuses, a stale heartbeat first', () => {
    expect(ocpiStatus(aChargingView('evse_1', { state: 'ChargingPausedEVSE' }))).toBe('BLOCKED');
    expect(ocpiStatus(aChargingView('evse_1', { state: 'Disabled' }))).toBe('INOPERATIVE');
    expect(ocpiStatus(aChargingView('evse_1', { liveness: { moduleId: 'evse_1', status: 'stale', lost: 0, restarts: 0 } }))).toBe('INOPERATIVE');
    expect(ocpiStatus(aChargingView('evse_1', { state: 'Unknown' }))).toBe('UNKNOWN');
  });

  it('sets a priority by any identifier form through the directory, and refuses one it cannot resolve', async () => {
    const set = await service.setPriority({ by: 'serial_number', serial_number: 'SN-1', connector_id: 1 }, 5, 'session', 'mqtt');
    expect(set).toMatchObject({ ok: true, created: true, record: { module_id: 'evse_1', connector_id: 1, priority: 5, scope: 'session', set_by: 'mqtt' } });
    expect(service.priority('evse_1', 1)?.priority).toBe(5);
    const unknown = await service.setPriority({ by: 'module', module_id: 'evse_9', connector_id: 1 }, 5, 'session', 'mqtt');
    expect(unknown).toMatchObject({ ok: false, code: 'unknown_module' });
    expect(service.priorities()).toHaveLength(1);
  });

  it('deletes and clears priorities in the store', async () => {
    await service.setPriority({ by: 'module', module_id: 'evse_1', connector_id: 1 }, 2, 'persistent', 'http');
    await service.setPriority({ by: 'module', module_id: 'evse_2', connector_id: 1 }, 1, 'persistent', 'http');
    expect(await service.deletePriority('evse_1', 1)).toBe(true);
    expect(await service.deletePriority('evse_1', 1)).toBe(false);
    expect(await service.clearPriorities()).toBe(1);
    expect(service.priorities()).toEqual([]);
  });

  it('refuses an action for an unknown EVSE or connector before the site sees it', () => {
    expect(service.requestAction('evse_9', { type: 'pause' }, 'mqtt')).toMatchObject({ ok: false, code: 'unknown_module' });
    expect(service.requestAction('evse_1', { type: 'pause', connector_id: 2 }, 'mqtt')).toMatchObject({ ok: false, code: 'unknown_connector' });
    expect(site.requested).toEqual([]);
    const ok = service.requestAction('evse_1', { type: 'resume', connector_id: 1 }, 'api');
    expect(ok).toMatchObject({ ok: true, action: { module_id: 'evse_1', type: 'resume', origin: 'api' } });
    expect(site.requested).toEqual([{ moduleId: 'evse_1', req: { type: 'resume', connector_id: 1 }, origin: 'api' }]);
    if (!ok.ok) throw new Error(ok.message);
    expect(service.action(ok.action.id)).toBe(ok.action);
  });

  it('site figures leave out the review time; the budget goes to the site with who set it', () => {
    expect(service.site()).toMatchObject({ max_power_w: 22_000, next_review_at: new Date(NOW).toISOString() });
    expect(service.siteFigures()).toEqual({
      max_power_w: 22_000,
      planned_w: 11_040,
      measured_w: 11_040,
      evses: [
        { module_id: 'evse_1', power_w: CAR_11KW_W, energy_wh: 1235 },
        { module_id: 'evse_2', power_w: 0, energy_wh: 0 },
      ],
    });
    service.setSiteBudget(9000, 'http:token-1');
    expect(site.budgets).toEqual([{ maxPowerW: 9000, setBy: 'http:token-1' }]);
  });

  it('health: ready while the broker is connected and an EVSE beats; limits modules reported beside their EVSE', () => {
    liveness.set('evse_2', { moduleId: 'evse_2', status: 'restarted', lost: 0, restarts: 1 });
    liveness.set('evse_2_limits', { moduleId: 'evse_2_limits', status: 'online', lost: 0, restarts: 0 });
    expect(service.health()).toMatchObject({
      live: true,
      ready: true,
      broker_connected: true,
      evses_online: 1,
      evses_total: 2,
      evses: [
        { module_id: 'evse_1', heartbeat: 'unknown' },
        { module_id: 'evse_2', heartbeat: 'restarted', limits_module_id: 'evse_2_limits', limits_heartbeat: 'online' },
      ],
      forwarding: service.forwarding(),
    });
    broker.connected = false;
    expect(service.health()).toMatchObject({ ready: false, broker_connected: false });
    broker.connected = true;
    liveness.clear();
    expect(service.health()).toMatchObject({ ready: false, evses_online: 0 });
  });

  it('passes the site streams and acknowledged priority writes through, and reports forwarding off when not configured', async () => {
    const events: string[] = [];
    service.events$.subscribe((e) => events.push(e.type));
    site.events$.next({ type: 'budget', max_power_w: 1, set_by: 'x', at: new Date(NOW).toISOString() });
    const changes: string[] = [];
    service.priorityChanges$.subscribe((c) => changes.push(`${c.type} ${c.record?.module_id ?? ''}`));
    await service.setPriority({ by: 'module', module_id: 'evse_1', connector_id: 1 }, 1, 'session', 'api');
    expect(events).toEqual(['budget']);
    expect(changes).toEqual(['upsert evse_1']);
    expect(service.forwarding()).toMatchObject({ state: 'off' });
    const forwarding = new BehaviorSubject({ ...service.forwarding() });
    const withForwarding = new ModuleService({ evses: [], site, priorities: store, directory: new ConnectorDirectory([]), broker, heartbeat: { current: () => undefined }, forwarding: { status: forwarding.value, status$: forwarding } });
    const seen: string[] = [];
    withForwarding.forwarding$.subscribe((f) => seen.push(f.state));
    expect(seen).toEqual(['off']);
    expect(withForwarding.site()).toHaveProperty('forwarding');
  });
});
