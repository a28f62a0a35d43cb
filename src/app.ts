import type { Config } from './config/types.js';
import type { Logger } from './log/logger.js';
import { apiEventFeed } from './api/live.js';
import { startHttpServer, type HttpServer, type HttpServerOptions } from './api/http/server.js';
import { WebhookDispatcher, type WebhookDeliveryOptions } from './api/webhooks.js';
import { createPromMetrics, type PromMetrics } from './api/metrics.js';
import { MqttApi } from './api/mqtt-api.js';
import { ModuleService } from './api/service.js';
import { startModule, type ModuleDeps, type RunningModule } from './module.js';

export interface AppOptions extends ModuleDeps {
  /** HTTP knobs that are not configuration (test timings, the HTTP bench's baseline route). */
  http?: Pick<HttpServerOptions, 'sseKeepaliveMs' | 'extend'>;
  /** Webhook retry timings (tests shorten them). */
  webhookDelivery?: WebhookDeliveryOptions;
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
  const { http: httpExtras, processMetrics, webhookDelivery, ...deps } = options;
  const metrics = createPromMetrics({ processMetrics: processMetrics ?? true });
  const module = await startModule(config, logger, { metrics, forwardingMetrics: metrics.forwarding, ...deps });
  const service = new ModuleService({
    evses: config.evses,
    site: module.site,
    priorities: module.store,
    directory: module.directory,
    broker: module.transport,
    heartbeat: module.heartbeat,
    ...(module.forwarding ? { forwarding: module.forwarding } : {}),
  });
  const actionTracking = metrics.trackActions(module.site.events$);
  actionTracking.add(metrics.trackLimits(module.site.enforcer.limits$));
  metrics.allocations(() => module.site.allocations());
  metrics.overBudget(() => module.site.overBudgetSeconds());
  metrics.recomputes(() => module.site.recomputeStats());
  // One feed of API events for SSE and webhooks, built only when one of them is on; webhooks deliver
  // with or without the HTTP API.
  const feed = config.http.enabled || config.webhooks.length > 0 ? apiEventFeed(service) : undefined;
  const webhooks = feed && config.webhooks.length > 0 ? new WebhookDispatcher(config.webhooks, feed.events$, logger.child({ component: 'webhooks' }), webhookDelivery) : undefined;
  // mqtt_api.enabled false: nothing of ours on the broker but the transport's status topic.
  const mqttApi = config.mqtt_api.enabled
    ? new MqttApi({
        bus: module.transport,
        service,
        namespace: config.namespace,
        logger: logger.child({ component: 'mqtt_api' }),
        onRejected: (request) => metrics.mqttApiRejected(request),
        readOnly: config.mqtt_api.read_only,
      })
    : undefined;
  let http: HttpServer | undefined;
  try {
    await mqttApi?.start();
    if (config.http.enabled && feed) http = await startHttpServer({ service, feed, http: config.http, metrics, logger, ...httpExtras });
  } catch (err) {
    mqttApi?.stop();
    webhooks?.close();
    feed?.close();
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
      webhooks?.close();
      feed?.close();
      mqttApi?.stop();
      actionTracking.unsubscribe();
      await module.stop();
    },
  };
}
