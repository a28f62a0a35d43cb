import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config, DeepPartial } from '../../src/config/types.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import type { EvseView } from '../../src/site/evse-view.js';
import { quietLogger, sharedContract } from './everest-stack.js';
import { waitFor } from './wait.js';

export const SITE_EVSES = ['evse_1', 'evse_2', 'evse_3'];

/** A config for fast end-to-end runs: short windows, fast heartbeat judgement, no HTTP unless asked. */
export function fastConfig(url: string, storeDir: string, overrides: DeepPartial<Config> = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      instance: `e2e${Math.random().toString(16).slice(2, 8)}`,
      mqtt: { url, reconnect_min_ms: 100, reconnect_max_ms: 500 },
      evses: SITE_EVSES.map((module_id, i) => ({
        module_id,
        serial_number: `SN-${i + 1}`,
        charge_box_identity: `CP-${i + 1}`,
        connectors: [1],
        phases: 3,
        max_current_a: 16,
      })),
      site: { max_power_w: 22_000, nominal_voltage_v: 230 },
      scheduler: { min_on_time_s: 2, min_off_time_s: 1, overrun_tolerance_w: 500, reservation_timeout_s: 3 },
      enforcer: { confirm_timeout_ms: 3000, retry_backoff_ms: 200, max_retries: 2 },
      store: { dir: storeDir },
      http: { enabled: false, port: 0 },
      ...overrides,
      everest: { heartbeat_timeout_ms: 1500, request_timeout_ms: 2000, communication_check_interval_ms: 500, ...overrides.everest },
    },
  });
}

export interface SiteStack {
  sim: Simulator;
  app: RunningApp;
  config: Config;
  storeDir: string;
  /** Restart only the module (same store dir), as after a crash or an upgrade. */
  restartApp(): Promise<RunningApp>;
  view(moduleId: string): EvseView;
  close(): Promise<void>;
}

export async function siteStack(url: string, overrides: DeepPartial<Config> = {}): Promise<SiteStack> {
  const contract = await sharedContract();
  const storeDir = mkdtempSync(join(tmpdir(), 'evse-priority-e2e-'));
  const config = fastConfig(url, storeDir, overrides);
  // The module first, like a deployment where it is already running when EVerest comes up: EVerest
  // publishes evse_id and hw_capabilities once, at start, and never retained.
  let app = await startApp(config, quietLogger(), { contract });
  const sim = await startSimulator({
    url,
    moduleIds: SITE_EVSES,
    heartbeatIntervalMs: 250,
    powermeterIntervalMs: 250,
    logger: quietLogger(),
    contract,
    // Back as soon as the module after a broker outage: its default backoff (up to 5 s, jittered) would
    // decide at random which side is heard first.
    reconnectMinMs: config.mqtt.reconnect_min_ms,
    reconnectMaxMs: config.mqtt.reconnect_max_ms,
    // 16 A hardware, like the configured EVSEs: an 11 kW car can draw all of it. EVerest runs the release
    // the module is configured for (everest.release).
    evse: { hwMaxCurrentA: 16, hwPhases: 3, release: config.everest.release },
  });
  const stack: SiteStack = {
    sim,
    get app() {
      return app;
    },
    config,
    storeDir,
    async restartApp() {
      await app.stop();
      app = await startApp(config, quietLogger(), { contract });
      return app;
    },
    view(moduleId) {
      const v = app.module.site.view(moduleId);
      if (!v) throw new Error(`no view for ${moduleId}`);
      return v;
    },
    async close() {
      await app.stop();
      await sim.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  await waitFor(() => SITE_EVSES.every((id) => app.module.heartbeat.isCommandable(id)), { message: 'all EVSEs online' });
  return stack;
}

/**
 * Plugs a car in and authorizes it, as a driver with an RFID card would; `hlc`: an ISO 15118 car, which
 * tells its maximum power (ev_info).
 */
export function arrive(sim: Simulator, moduleId: string, maxPowerW = 11_000, car: { hlc?: boolean } = {}): void {
  sim.apply({ module_id: moduleId, action: 'plug_in', max_power_w: maxPowerW, ...(car.hlc !== undefined ? { hlc: car.hlc } : {}) });
  sim.apply({ module_id: moduleId, action: 'authorize', id_tag: `TAG-${moduleId}` });
}
