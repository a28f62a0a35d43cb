import type { Config } from './config/types.js';
import type { Logger } from './log/logger.js';
import { MqttApi } from './api/mqtt-api.js';
import { ModuleService } from './api/service.js';
import { startModule, type ModuleDeps, type RunningModule } from './main.js';

export interface RunningApp {
  module: RunningModule;
  service: ModuleService;
  httpUrl?: string;
  stop(): Promise<void>;
}

/** The whole process: the MQTT module plus its APIs. `run` and `demo` both start exactly this. */
export async function startApp(config: Config, logger: Logger, deps: ModuleDeps = {}): Promise<RunningApp> {
  const module = await startModule(config, logger, deps);
  const service = new ModuleService(module);
  const mqttApi = new MqttApi({
    transport: module.transport,
    service,
    namespace: config.namespace,
    logger: logger.child({ component: 'mqtt_api' }),
  });
  await mqttApi.start();
  return {
    module,
    service,
    async stop() {
      mqttApi.stop();
      await module.stop();
    },
  };
}
