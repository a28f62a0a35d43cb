// A site under current control for tests and benches: the module (startApp) and the simulator with an
// EnergyNode and an external_energy_limits_consumer_API module above every EVSE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type RunningApp } from '../../src/app.js';
import type { Config, DeepPartial } from '../../src/config/types.js';
import type { ExternalLimits } from '../../src/everest/external-limits.js';
import { limitsModulesOf } from '../../src/sim/external-limits.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { quietLogger, sharedContract } from './everest-stack.js';
import { fastConfig } from './site-stack.js';
import { waitFor } from './wait.js';

export interface SharingStack {
  sim: Simulator;
  app: RunningApp;
  /**
   * Stops the module and starts it again on the same store, as systemd does after an update or a crash;
   * the simulator runs on, and `whileDown` acts on it meanwhile.
   */
  restartApp(whileDown?: () => void): Promise<RunningApp>;
  /** Every set_external_limits payload the simulator received. */
  sent: Array<{ limitsModuleId: string; value: ExternalLimits }>;
  limitA(moduleId: string): number;
  drawW(moduleId: string): number;
  close(): Promise<void>;
}

/** W per A of limit on a three-phase 230 V EVSE. */
export const W_PER_A = 3 * 230;

export interface SharingStackOptions {
  /** EVSEs without a limits module: on/off control (pause/resume), as on a mixed site. */
  onOff?: readonly string[];
  /** EVSEs wired single-phase (hardware and configuration): 230 W per A instead of 690. */
  singlePhase?: readonly string[];
}

/**
 * EVSEs `modules` (16 A, three-phase unless listed in `singlePhase`), each with a limits module `${id}_limits` unless listed in
 * `onOff`, on a `maxPowerW` site. The simulated EVerest runs the release the module is configured for
 * (`everest.release`).
 */
export async function sharingStack(
  url: string,
  modules: string[],
  maxPowerW: number,
  overrides: DeepPartial<Config> = {},
  { onOff = [], singlePhase = [] }: SharingStackOptions = {},
): Promise<SharingStack> {
  const evses = modules.map((module_id) => (onOff.includes(module_id) ? { module_id } : { module_id, limits_module_id: `${module_id}_limits` }));
  const contract = await sharedContract();
  const config = fastConfig(url, mkdtempSync(path.join(tmpdir(), 'evse-priority-sharing-')), {
    evses: evses.map((e) => ({ ...e, connectors: [1], phases: singlePhase.includes(e.module_id) ? 1 : 3, max_current_a: 16 })),
    site: { max_power_w: maxPowerW, nominal_voltage_v: 230 },
    limits: { failsafe_s: 30, refresh_s: 5 },
    ...overrides,
  });
  const sim = await startSimulator({
    url,
    logger: quietLogger(),
    contract,
    moduleIds: modules,
    limitsModules: limitsModulesOf(evses),
    evse: { hwMaxCurrentA: 16, hwPhases: 3, release: config.everest.release },
    evseById: Object.fromEntries(singlePhase.map((id) => [id, { hwPhases: 1 }])),
    heartbeatIntervalMs: 250,
    powermeterIntervalMs: 200,
    // Back as soon as the module after a broker outage (see siteStack).
    reconnectMinMs: config.mqtt.reconnect_min_ms,
    reconnectMaxMs: config.mqtt.reconnect_max_ms,
  });
  const sent: SharingStack['sent'] = [];
  sim.events$.subscribe((e) => {
    if (e.kind === 'received' && e.name === 'set_external_limits') sent.push({ limitsModuleId: e.moduleId, value: e.value as ExternalLimits });
  });
  let app = await startApp(config, quietLogger(), { contract });
  const online = () => waitFor(() => modules.every((id) => app.module.heartbeat.isCommandable(id)), { message: 'all EVSEs online' });
  await online();
  return {
    sim,
    get app() {
      return app;
    },
    async restartApp(whileDown) {
      await app.stop();
      whileDown?.();
      app = await startApp(config, quietLogger(), { contract });
      await online();
      return app;
    },
    sent,
    limitA: (id) => sim.limitsNode(`${id}_limits`).limitAt(Date.now()).currentA,
    drawW: (id) => Math.round(sim.evse(id).snapshot().powerW),
    async close() {
      await app.stop();
      await sim.stop();
      rmSync(config.store.dir, { recursive: true, force: true });
    },
  };
}

