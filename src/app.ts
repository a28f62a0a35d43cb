import type { Config } from './config/types.js';
import type { Logger } from './log/logger.js';
import { apiEventFeed } from './api/live.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './api/http/server.js';
import { WebhookDispatcher } from './api/webhooks.js';
import { createPromMetrics, type PromMetrics } from './api/metrics.js';
import { MqttApi } from './api/mqtt-api.js';
import { ModuleService } from './api/service.js';
import { startModule, type ModuleDeps, type RunningModule } from './module.js';

export interface AppOptions extends ModuleDeps {
  /** HTTP knobs that are not configuration (test timings, the HTTP bench's baseline route). */
  http?: Pick<HttpServerOptions, 'sseKeepaliveMs' | 'webhookDelivery' | 'extend'>;
  /** Process metrics (CPU, memory, GC) in /metrics; default true. */
  processMetrics?: boolean;
}

export interface RunningApp {
  module: RunningModule;
  service: ModuleService;
  metrics: PromMetrics;
  http?: HttpServer;
  stop(): Promise<void>;
}

/**
 * The whole process: the MQTT module plus its APIs. `run`, `demo`, the API tests and the HTTP bench
 * all start exactly this.
 */
export async function startApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<RunningApp> {
  const { http: httpExtras, processMetrics, ...deps } = options;
  const metrics = createPromMetrics({ processMetrics: processMetrics ?? true });
  const module = await startModule(config, logger, { metrics, forwardingMetrics: metrics.forwarding, ...deps });
  const service = new ModuleService(module);
  const actionTracking = metrics.trackActions(module.site.events$);
  actionTracking.add(metrics.trackLimits(module.site.enforcer.limits$));
  metrics.allocations(() => module.site.allocations());
  // mqtt_api.enabled false: nothing of ours on the broker but the transport's status topic.
  const mqttApi = config.mqtt_api.enabled
    ? new MqttApi({
        transport: module.transport,
        service,
        namespace: config.namespace,
        logger: logger.child({ component: 'mqtt_api' }),
        onInvalid: () => metrics.invalid('mqtt_api_request'),
        readOnly: config.mqtt_api.read_only,
      })
    : undefined;
  await mqttApi?.start();
  let http: HttpServer | undefined;
  // Without HTTP the webhooks still deliver: they are how a back-end hears about actions.
  let webhooksOnly: { close(): void } | undefined;
  try {
    if (config.http.enabled) {
      http = await startHttpServer({ service, http: config.http, webhooks: config.webhooks, metrics, logger, ...httpExtras });
    } else if (config.webhooks.length > 0) {
      const feed = apiEventFeed(service);
      const dispatcher = new WebhookDispatcher(config.webhooks, feed.events$, logger.child({ component: 'webhooks' }));
      webhooksOnly = {
        close() {
          dispatcher.close();
          feed.close();
        },
      };
    }
  } catch (err) {
    mqttApi?.stop();
    actionTracking.unsubscribe();
    await module.stop();
    throw err;
  }
  return {
    module,
    service,
    metrics,
    ...(http ? { http } : {}),
    async stop() {
      await http?.close();
      webhooksOnly?.close();
      mqttApi?.stop();
      actionTracking.unsubscribe();
      await module.stop();
    },
  };
}
