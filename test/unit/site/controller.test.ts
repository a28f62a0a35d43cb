import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualTimeScheduler } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EverestClient } from '../../../src/everest/client.js';
import { HeartbeatMonitor } from '../../../src/everest/liveness.js';
import type { E2mVar } from '../../../src/everest/payloads.js';
import { EverestTopics } from '../../../src/everest/topics.js';
import { ConnectorDirectory } from '../../../src/priorities/resolve.js';
import { PriorityStore } from '../../../src/priorities/store.js';
import { SiteController, type SiteEvent } from '../../../src/site/controller.js';
import { aPowermeter, aSessionEvent } from '../../support/builders/everest.js';
import { aConfig } from '../../support/builders/snapshot.js';
import { quietLogger, sharedContract } from '../../support/everest-stack.js';
import { MemoryWire } from '../../support/memory-wire.js';
import { SCRIPTED_CONFIG } from '../../support/scripted-port.js';
import { waitFor } from '../../support/wait.js';

const EVSES = ['evse_1', 'evse_2'];
const HEARTBEAT_TIMEOUT_MS = 3000;

/**
 * The site controller with its real parts (EverestClient with the contract, heartbeat monitor,
 * priority store on disk, directory, enforcer) on an MQTT connection in memory and a virtual clock:
 * a test plays EVerest's e2m messages and reads the m2e commands and site events that follow.
 */
describe('SiteController', () => {
  let clock: VirtualTimeScheduler;
  let wire: MemoryWire;
  let topics: EverestTopics;
  let client: EverestClient;
  let heartbeat: HeartbeatMonitor;
  let store: PriorityStore;
  let dir: string;
  let site: SiteController;
  let events: SiteEvent[];
  /** The clock the controller measures a recompute's cost on: still unless a test makes recomputes cost. */
  let costMs: number;

  const e2m = (moduleId: string, name: E2mVar, payload: unknown): void => wire.deliver(topics.e2m(moduleId, name), payload);
  const advanceTo = (ms: number): void => {
    clock.schedule(() => undefined, ms - clock.frame);
    clock.maxFrames = ms;
    clock.flush();
  };
  /** A car plugged in and charging at `watts`, the way EVerest reports it. */
  const charging = (moduleId: string, watts: number): void => {
    e2m(moduleId, 'session_event', aSessionEvent('SessionStarted', { uuid: `s-${moduleId}` }));
    e2m(moduleId, 'session_event', aSessionEvent('TransactionStarted', { uuid: `s-${moduleId}` }));
    e2m(moduleId, 'session_event', aSessionEvent('ChargingStarted', { uuid: `s-${moduleId}` }));
    e2m(moduleId, 'powermeter', aPowermeter({ power_W: { total: watts } }));
  };
  /** EVerest accepting every command so far, and describing its EVSE as one Type 2 connector. */
  const answer = (): void => wire.answerRequests((command) => (command === 'get_evse' ? { id: 1, connectors: [{ id: 1, type: 'cType2' }] } : true));
  const decisions = (moduleId: string): string[] =>
    events.flatMap((e) => (e.type === 'decision' && e.module_id === moduleId ? [e.decision] : []));

  beforeEach(async () => {
    clock = new VirtualTimeScheduler(undefined, 0);
    wire = new MemoryWire();
    topics = new EverestTopics({ prefix: '', apiVersion: '1' });
    const logger = quietLogger();
    client = new EverestClient({ transport: wire, contract: await sharedContract(), topics, logger, requestTimeoutMs: 2000, scheduler: clock });
    await client.addEvses(EVSES);
    heartbeat = new HeartbeatMonitor({ client, moduleIds: EVSES, timeoutMs: HEARTBEAT_TIMEOUT_MS, logger, scheduler: clock });
    dir = mkdtempSync(join(tmpdir(), 'controller-test-'));
    store = await PriorityStore.open(dir);
    costMs = 0;
    site = new SiteController({
      client,
      heartbeat,
      store,
      directory: new ConnectorDirectory(EVSES.map((module_id) => ({ module_id, serial_number: undefined, charge_box_identity: undefined, connectors: [1] }))),
      evses: EVSES.map((moduleId) => ({ moduleId, connectors: [1], phases: 3, maxCurrentA: 16 })),
      maxPowerW: 22_000,
      nominalVoltageV: 230,
      scheduler: aConfig({ minOnTimeS: 0, minOffTimeS: 0 }),
      enforcer: SCRIPTED_CONFIG,
      limits: { minCurrentA: 6, failsafeS: 60, refreshS: 20, failsafeCurrentA: 6 },
      logger,
      rxScheduler: clock,
      recomputeCostClock: () => costMs,
    });
    events = [];
    site.events$.subscribe((e) => events.push(e));
    site.start();
    for (const id of EVSES) e2m(id, 'heartbeat', 1);
    // Online, the site releases old claims (enable_disable) and reads each EVSE once (get_evse), one
    // command at a time per EVSE; EVerest answers each on its replyTo.
    answer();
    expect(site.view('evse_1')?.connectors).toEqual([{ id: 1, type: 'cType2' }]);
  });

  afterEach(async () => {
    site.stop();
    heartbeat.dispose();
    client.dispose();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('folds e2m messages into views, reports session states and decides each session at once', () => {
    charging('evse_1', 10_000);
    expect(site.view('evse_1')).toMatchObject({ state: 'Charging', powerW: 10_000, session: { uuid: 's-evse_1' } });
    expect(events.filter((e) => e.type === 'session_state' && e.module_id === 'evse_1').map((e) => (e.type === 'session_state' ? e.state : ''))).toEqual(['Preparing', 'Charging']);
    expect(decisions('evse_1').at(-1)).toBe('charge');
    expect(site.decisionFor('evse_1')).toMatchObject({ decision: 'charge', reasonCode: 'fits' });
    expect(site.decisionFor('evse_2')).toBeUndefined();
    expect(site.summary()).toMatchObject({ max_power_w: 22_000, measured_w: 10_000 });
    expect(wire.publishedTo('/m2e/pause_charging')).toEqual([]);
  });

  it('a lower budget pauses the lower-priority car with one pause_charging, and says why', async () => {
    await store.upsert({ module_id: 'evse_1', connector_id: 1, priority: 5, scope: 'persistent', set_by: 'test' });
    charging('evse_1', 10_000);
    charging('evse_2', 10_000);
    expect(decisions('evse_2').at(-1)).toBe('charge');
    site.setBudget(12_000, 'test');
    expect(events.find((e) => e.type === 'budget')).toMatchObject({ max_power_w: 12_000, set_by: 'test' });
    expect(site.maxPowerW).toBe(12_000);
    expect(site.decisionFor('evse_1')?.decision).toBe('charge');
    expect(site.decisionFor('evse_2')).toMatchObject({ decision: 'pause' });
    // The hold is written to the store before the pause goes out (it must survive a crash in between).
    expect(site.enforcer.hold('evse_2')).toMatchObject({ pausedByUs: true });
    await waitFor(() => wire.publishedTo('/m2e/pause_charging').length > 0, { message: 'no pause_charging published' });
    const pauses = wire.publishedTo('/m2e/pause_charging');
    expect(pauses.map((p) => p.topic)).toEqual([topics.m2e('evse_2', 'pause_charging')]);
    expect(pauses[0]?.payload).toMatchObject({ headers: { replyTo: expect.stringContaining('evse_2') } });
    expect(() => site.setBudget(-1, 'test')).toThrow(RangeError);
  });

  it('a priority written to the store is decided at once: the paused car resumes, the other is paused', async () => {
    await store.upsert({ module_id: 'evse_1', connector_id: 1, priority: 1, scope: 'persistent', set_by: 'test' });
    charging('evse_1', 10_000);
    charging('evse_2', 10_000);
    site.setBudget(12_000, 'test');
    await waitFor(() => wire.publishedTo('/m2e/pause_charging').length > 0, { message: 'no pause_charging published' });
    // EVerest accepts and the car stops.
    answer();
    e2m('evse_2', 'session_event', aSessionEvent('ChargingPausedEVSE', { uuid: 's-evse_2' }));
    e2m('evse_2', 'powermeter', aPowermeter({ power_W: { total: 0 } }));
    expect(site.view('evse_2')?.state).toBe('ChargingPausedEVSE');
    await store.upsert({ module_id: 'evse_2', connector_id: 1, priority: 9, scope: 'persistent', set_by: 'test' });
    // Break before make: evse_1 is paused at once, evse_2 waits until evse_1 has stopped drawing.
    expect(site.decisionFor('evse_1')).toMatchObject({ decision: 'pause', reasonCode: 'preempted' });
    expect(site.decisionFor('evse_2')).toMatchObject({ decision: 'pause', reasonCode: 'awaiting_release' });
    await waitFor(() => wire.publishedTo('/m2e/pause_charging').length > 1, { message: 'evse_1 not paused' });
    expect(wire.publishedTo('/m2e/pause_charging').map((p) => p.topic)).toEqual([topics.m2e('evse_2', 'pause_charging'), topics.m2e('evse_1', 'pause_charging')]);
    answer();
    e2m('evse_1', 'session_event', aSessionEvent('ChargingPausedEVSE', { uuid: 's-evse_1' }));
    e2m('evse_1', 'powermeter', aPowermeter({ power_W: { total: 0 } }));
    expect(site.decisionFor('evse_2')?.decision).toBe('charge');
    await waitFor(() => wire.publishedTo('/m2e/resume_charging').length > 0, { message: 'evse_2 not resumed' });
    expect(wire.publishedTo('/m2e/resume_charging').map((p) => p.topic)).toEqual([topics.m2e('evse_2', 'resume_charging')]);
  });

  it('the end of a session clears its session-scoped priority in the store', async () => {
    await store.upsert({ module_id: 'evse_1', connector_id: 1, priority: 4, scope: 'session', set_by: 'test' });
    charging('evse_1', 10_000);
    e2m('evse_1', 'session_event', aSessionEvent('SessionFinished', { uuid: 's-evse_1' }));
    expect(site.view('evse_1')).toMatchObject({ state: 'Unplugged', session: undefined });
    await waitFor(() => store.get('evse_1', 1) === undefined, { timeoutMs: 5000, message: 'session-scoped priority not cleared' });
    expect(site.decisionFor('evse_1')).toBeUndefined();
  });

  it('a flood of meter samples yields a bounded number of recomputes, and a session event still gets its own promptly', () => {
    charging('evse_1', 10_000);
    advanceTo(1000);
    const recomputedAt: number[] = [];
    // Each recompute costs 4 ms: the next waits 12 ms (at most a quarter of the loop planning).
    site.recomputed$.subscribe((at) => {
      recomputedAt.push(at);
      costMs += 4;
    });
    for (let watts = 1; watts <= 1000; watts++) e2m('evse_1', 'powermeter', aPowermeter({ power_W: { total: 10_000 + watts } }));
    // One at once for the burst (none was due), one at the end of the cool-down for the rest.
    expect(recomputedAt).toEqual([1000]);
    advanceTo(1100);
    expect(recomputedAt).toEqual([1000, 1012]);
    expect(site.summary().measured_w).toBe(11_000);
    // A person's car pausing itself 1 ms after a recompute is decided after the 12 ms cool-down, not a meter tick later.
    advanceTo(1013);
    e2m('evse_1', 'session_event', aSessionEvent('ChargingPausedEV', { uuid: 's-evse_1' }));
    advanceTo(1023);
    expect(recomputedAt).toHaveLength(2);
    advanceTo(1024);
    expect(recomputedAt).toEqual([1000, 1012, 1024]);
    expect(site.view('evse_1')?.state).toBe('ChargingPausedEV');
    // An EVSE without a car: its meter samples change no plan, so they cost no recompute.
    advanceTo(1100);
    e2m('evse_2', 'powermeter', aPowermeter({ energy_Wh_import: { total: 4321 }, power_W: { total: 0 } }));
    advanceTo(1200);
    expect(site.view('evse_2')?.meterWh).toBe(4321);
    expect(recomputedAt).toHaveLength(3);
  });

  it('reports a silent EVSE as stale and back online as liveness events', () => {
    advanceTo(HEARTBEAT_TIMEOUT_MS + 1);
    e2m('evse_1', 'heartbeat', 2);
    const liveness = events.flatMap((e) => (e.type === 'liveness' ? [`${e.module_id} ${e.status}`] : []));
    expect(liveness).toEqual(['evse_1 online', 'evse_2 online', 'evse_1 stale', 'evse_2 stale', 'evse_1 online']);
  });
});
