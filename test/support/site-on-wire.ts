// A SiteController with its real parts (EverestClient with the contract, heartbeat monitor, priority
// store on disk, directory, enforcer) on an MQTT connection in memory and a virtual clock: a test
// plays EVerest's e2m messages and reads the m2e commands that follow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualTimeScheduler } from 'rxjs';
import { EverestClient } from '../../src/everest/client.js';
import { HeartbeatMonitor } from '../../src/everest/liveness.js';
import type { E2mVar } from '../../src/everest/payloads.js';
import { EverestTopics } from '../../src/everest/topics.js';
import { ConnectorDirectory } from '../../src/priorities/resolve.js';
import { PriorityStore } from '../../src/priorities/store.js';
import { SiteController, type SiteEvseConfig } from '../../src/site/controller.js';
import type { SchedulerConfig } from '../../src/site/model.js';
import { aPowermeter, aSessionEvent } from './builders/everest.js';
import { quietLogger, sharedContract } from './everest-stack.js';
import { MemoryWire } from './memory-wire.js';
import { SCRIPTED_CONFIG } from './scripted-port.js';

export interface SiteOnWireOptions {
  evses: SiteEvseConfig[];
  maxPowerW: number;
  scheduler: SchedulerConfig;
  heartbeatTimeoutMs: number;
}

export interface SiteOnWire {
  clock: VirtualTimeScheduler;
  wire: MemoryWire;
  topics: EverestTopics;
  store: PriorityStore;
  site: SiteController;
  e2m(moduleId: string, name: E2mVar, payload: unknown): void;
  /** EVerest accepting every request so far, and describing each EVSE as one Type 2 connector. */
  answer(): void;
  /** A car plugged in and charging at `watts`, the way EVerest reports it. */
  charging(moduleId: string, watts: number): void;
  advanceBy(ms: number): void;
  stop(): Promise<void>;
}

/** Starts the site; every EVSE and limits module has sent its first heartbeat and been answered. */
export async function startSiteOnWire(options: SiteOnWireOptions): Promise<SiteOnWire> {
  const clock = new VirtualTimeScheduler(undefined, 0);
  const wire = new MemoryWire();
  const topics = new EverestTopics({ prefix: '', apiVersion: '1' });
  const logger = quietLogger();
  const client = new EverestClient({ transport: wire, contract: await sharedContract(), topics, logger, requestTimeoutMs: 2000, scheduler: clock });
  const evseIds = options.evses.map((e) => e.moduleId);
  const limitsIds = options.evses.flatMap((e) => (e.limitsModuleId !== undefined ? [e.limitsModuleId] : []));
  await client.addEvses(evseIds);
  if (limitsIds.length > 0) await client.addLimitsModules(limitsIds);
  const heartbeat = new HeartbeatMonitor({ client, moduleIds: [...evseIds, ...limitsIds], timeoutMs: options.heartbeatTimeoutMs, logger, scheduler: clock });
  const dir = mkdtempSync(join(tmpdir(), 'site-on-wire-'));
  const store = await PriorityStore.open(dir);
  const site = new SiteController({
    client,
    heartbeat,
    store,
    directory: new ConnectorDirectory(evseIds.map((module_id) => ({ module_id, serial_number: undefined, charge_box_identity: undefined, connectors: [1] }))),
    evses: options.evses,
    maxPowerW: options.maxPowerW,
    nominalVoltageV: 230,
    scheduler: options.scheduler,
    enforcer: SCRIPTED_CONFIG,
    limits: { minCurrentA: 6, failsafeS: 60, refreshS: 20, failsafeCurrentA: 6 },
    logger,
    rxScheduler: clock,
  });
  const e2m = (moduleId: string, name: E2mVar, payload: unknown): void => wire.deliver(topics.e2m(moduleId, name), payload);
  const answer = (): void => wire.answerRequests((command) => (command === 'get_evse' ? { id: 1, connectors: [{ id: 1, type: 'cType2' }] } : true));
  site.start();
  for (const id of [...evseIds, ...limitsIds]) e2m(id, 'heartbeat', 1);
  answer();
  return {
    clock,
    wire,
    topics,
    store,
    site,
    e2m,
    answer,
    charging: (moduleId, watts) => {
      for (const event of ['SessionStarted', 'TransactionStarted', 'ChargingStarted'] as const) e2m(moduleId, 'session_event', aSessionEvent(event, { uuid: `s-${moduleId}` }));
      e2m(moduleId, 'powermeter', aPowermeter({ power_W: { total: watts } }));
    },
    advanceBy: (ms) => {
      const to = clock.frame + ms;
      clock.schedule(() => undefined, ms);
      clock.maxFrames = to;
      clock.flush();
    },
    stop: async () => {
      site.stop();
      heartbeat.dispose();
      client.dispose();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
