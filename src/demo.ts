import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config/load.js';
import type { Logger } from './log/logger.js';
import { startApp } from './app.js';
import { loadContract } from './everest/contract.js';
import { startEmbeddedBroker } from './sim/embedded-broker.js';
import { limitsModulesOf } from './sim/external-limits.js';
import { loadScenarioFile } from './sim/scenario.js';
import { startSimulator } from './sim/simulator.js';

export interface DemoOptions {
  logger: Logger;
  /** The simulated EVerest's log (default: the module's logger). */
  simLogger?: Logger;
  /** One line on where the full log is, for the banner. */
  logHint?: string;
  /** Broker port; default a free one. */
  brokerPort?: number;
  /** HTTP port; default 8080 from config/demo.yaml (0 for a free one). */
  httpPort?: number;
}

const repoFile = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/**
 * `npm start`: an in-process broker, three simulated EVSEs running the demo scenario, and the module
 * with its HTTP API — nothing to install, nothing external.
 */
export async function runDemo(options: DemoOptions): Promise<{ stop: () => Promise<void> }> {
  const { logger } = options;
  const broker = await startEmbeddedBroker({ ...(options.brokerPort !== undefined ? { port: options.brokerPort } : {}) });
  const token = process.env.EVSE_PRIORITY_HTTP_TOKEN ?? randomBytes(18).toString('base64url');
  const config = loadConfig({
    file: repoFile('config/demo.yaml'),
    overrides: {
      mqtt: { url: broker.url },
      http: { tokens: [token], ...(options.httpPort !== undefined ? { port: options.httpPort } : {}) },
    },
  });
  const scenario = await loadScenarioFile(repoFile('config/scenarios/demo.yaml'));
  // Parsed once for both sides; the module starts first so it sees the scenario from its first step.
  const contract = loadContract();
  const app = await startApp(config, logger.child({ role: 'module' }), { contract });
  const moduleIds = config.evses.map((e) => e.module_id);
  const simulator = await startSimulator({
    url: broker.url,
    moduleIds,
    // An EnergyNode with an external limits module above each EVSE, as config/demo.yaml wires them.
    limitsModules: limitsModulesOf(config.evses),
    scenario,
    communicationCheckTimeoutS: config.everest.communication_check_timeout_s,
    // 16 A three-phase wallboxes, as config/demo.yaml describes them: 11 kW each, two fit the 22 kW site.
    // The simulated EVerest plays the release the module is configured for.
    evse: { hwMaxCurrentA: 16, hwPhases: 3, release: config.everest.release },
    logger: (options.simLogger ?? logger).child({ role: 'sim' }),
    contract,
  });
  const http = app.http?.url;
  const lines = [
    '',
    'evse-priority demo: three simulated EVSEs (evse_1..evse_3), 11 kW cars, 22 kW site budget, current control',
    '  through external limits modules (evse_1_limits..evse_3_limits).',
    '',
    ...(http ? [`  Dashboard:   ${http}/?token=${token}`, ''] : []),
    ...(http
      ? [
          `  HTTP API:    ${http}/v1  (OpenAPI: ${http}/v1/openapi.json)`,
          `  token:       ${token}`,
          `    curl -X PUT -H 'Authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
          `         -d '{"by":"module","module_id":"evse_3","connector_id":1,"priority":9}' ${http}/v1/priorities`,
        ]
      : []),
    `  MQTT broker: ${broker.url}  (MQTT Explorer; mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t '${config.namespace}/#' -v)`,
    ...(options.logHint ? [`  Log:         ${options.logHint}`] : []),
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return {
    stop: async () => {
      await app.stop();
      await simulator.stop();
      await broker.close();
    },
  };
}
