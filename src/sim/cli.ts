import { parseArgs } from 'node:util';
import type { Logger } from '../log/logger.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { loadScenarioFile, scenarioModuleIds, type Scenario } from './scenario.js';
import type { SimLimitsModule } from './external-limits.js';
import { startSimulator } from './simulator.js';
import { DEFAULT_EVEREST_RELEASE, EVEREST_RELEASES, type EverestRelease } from '../everest/release.js';
import { isOneOf } from '../validation/one-of.js';

export const SIM_USAGE = `usage: evse-priority sim [--url <mqtt-url>] [--module-id <id> ...] [--scenario <file>] [--seed N]
                         [--limits-module <module_id>=<limits_module_id> ...]
                         [--prefix P] [--api-version V] [--heartbeat-ms N] [--powermeter-ms N] [--comm-check-s N]
                         [--everest-release 2025.11|2026.02]
  Simulates EVerest evse_manager_consumer_API modules on an MQTT broker.
  --limits-module puts an EnergyNode with an external_energy_limits_consumer_API module above an EVSE
  (current control); without it the scenario's limits_modules are used.
  Without --url an embedded broker is started on a free port (its URL is logged).
  Without --module-id the module ids of the scenario are used (or evse_1).
  --seed N without --scenario runs seeded random arrivals and departures.
  --everest-release picks the EVerest release to play (default ${DEFAULT_EVEREST_RELEASE}): events, pause/resume
  sequences, limits or enforced_limits, routes.`;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got '${value}'\n${SIM_USAGE}`);
  return n;
}

function parseSimArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        'module-id': { type: 'string', multiple: true },
        'limits-module': { type: 'string', multiple: true },
        scenario: { type: 'string' },
        seed: { type: 'string' },
        prefix: { type: 'string' },
        'api-version': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'powermeter-ms': { type: 'string' },
        'comm-check-s': { type: 'string' },
        'everest-release': { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${SIM_USAGE}`);
  }
}

/** Parses `sim` arguments, starts the simulator (and an embedded broker if no --url) and returns the stop function. */
export async function runSimCommand(argv: string[], logger: Logger): Promise<() => Promise<void>> {
  const values = parseSimArgs(argv);
  const seed = integer('seed', values.seed);
  const heartbeatIntervalMs = integer('heartbeat-ms', values['heartbeat-ms']);
  const powermeterIntervalMs = integer('powermeter-ms', values['powermeter-ms']);
  const communicationCheckTimeoutS = integer('comm-check-s', values['comm-check-s']);
  const release = values['everest-release'] ?? DEFAULT_EVEREST_RELEASE;
  if (!isOneOf(EVEREST_RELEASES, release)) {
    throw new Error(`--everest-release must be one of ${EVEREST_RELEASES.join(', ')}, got '${release}'\n${SIM_USAGE}`);
  }
  const scenario: Scenario | undefined = values.scenario ? await loadScenarioFile(values.scenario) : undefined;
  const moduleIds = values['module-id'] ?? (scenario ? scenarioModuleIds(scenario) : []);
  if (moduleIds.length === 0) moduleIds.push('evse_1');
  const limitsModules = values['limits-module']?.map((pair): SimLimitsModule => {
    const [moduleId, limitsModuleId, ...rest] = pair.split('=');
    if (!moduleId || !limitsModuleId || rest.length > 0) throw new Error(`--limits-module must be <module_id>=<limits_module_id>, got '${pair}'\n${SIM_USAGE}`);
    return { moduleId, limitsModuleId };
  });

  let broker: EmbeddedBroker | undefined;
  let url = values.url;
  if (!url) {
    broker = await startEmbeddedBroker();
    url = broker.url;
    logger.info({ url }, 'no --url given: started an embedded MQTT broker');
  }
  try {
    const sim = await startSimulator({
      url,
      moduleIds,
      ...(limitsModules ? { limitsModules } : {}),
      topics: { prefix: values.prefix ?? '', apiVersion: values['api-version'] ?? '1' },
      logger,
      ...(scenario ? { scenario } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs } : {}),
      ...(powermeterIntervalMs !== undefined ? { powermeterIntervalMs } : {}),
      ...(communicationCheckTimeoutS !== undefined ? { communicationCheckTimeoutS } : {}),
      evse: { release: release as EverestRelease },
    });
    return async () => {
      await sim.stop();
      await broker?.close();
    };
  } catch (err) {
    await broker?.close();
    throw err;
  }
}
