import { join } from 'node:path';
import { filter, skip, type SchedulerLike } from 'rxjs';
import { camelCased } from './config/camel-case.js';
import { NO_CURRENT_CONTROL_WARNING, evsesAboveBudget } from './config/current-control.js';
import type { Config } from './config/types.js';
import { EverestClient } from './everest/client.js';
import { failsafeCurrentA } from './everest/external-limits.js';
import { loadContract, type Contract } from './everest/contract.js';
import { CommunicationCheck, HeartbeatMonitor } from './everest/liveness.js';
import type { EverestMetrics } from './everest/metrics.js';
import { EverestTopics } from './everest/topics.js';
import { Forwarder, isForwardingEnabled, type ForwarderTuning } from './forwarding/forwarder.js';
import type { ForwardingMetrics } from './forwarding/metrics.js';
import type { Logger } from './log/logger.js';
import { EvseIdConflictLog } from './priorities/evse-id-conflicts.js';
import { ConnectorDirectory } from './priorities/resolve.js';
import { PriorityStore } from './priorities/store.js';
import { SiteController } from './site/controller.js';
import { MqttTransport } from './transport/mqtt-transport.js';

export interface ModuleDeps {
  contract?: Contract;
  metrics?: EverestMetrics;
  forwardingMetrics?: ForwardingMetrics;
  /** Forwarding timings that are not configuration (tests, bench). */
  forwardingTuning?: Partial<ForwarderTuning>;
  rxScheduler?: SchedulerLike;
}

/** Everything a running module is made of; the API layers take what they need from here. */
export interface RunningModule {
  config: Config;
  logger: Logger;
  transport: MqttTransport;
  topics: EverestTopics;
  client: EverestClient;
  heartbeat: HeartbeatMonitor;
  communicationCheck: CommunicationCheck;
  store: PriorityStore;
  directory: ConnectorDirectory;
  site: SiteController;
  /** Present while forwarding.url is set. */
  forwarding?: Forwarder;
  stop(): Promise<void>;
}

/** Composition root of the MQTT side: transport -> EVerest client -> site domain. */
export async function startModule(config: Config, logger: Logger, deps: ModuleDeps = {}): Promise<RunningModule> {
  const contract = deps.contract ?? (loadContract());
  for (const warning of contract.warnings) logger.debug({ warning }, 'asyncapi contract warning');
  const store = await PriorityStore.open(config.store.dir, { logger: logger.child({ component: 'store' }) });
  const evseIdConflicts = new EvseIdConflictLog(logger, deps.rxScheduler ? { timer: deps.rxScheduler } : {});
  const directory = new ConnectorDirectory(config.evses, evseIdConflicts.claimed);
  const topics = new EverestTopics({ prefix: config.everest.topic_prefix, apiVersion: config.everest.api_version });
  const transport = new MqttTransport({
    url: config.mqtt.url,
    clientId: config.mqtt.client_id,
    protocolVersion: config.mqtt.protocol_version,
    keepaliveS: config.mqtt.keepalive_s,
    reconnectMinMs: config.mqtt.reconnect_min_ms,
    reconnectMaxMs: config.mqtt.reconnect_max_ms,
    statusTopic: `${config.namespace}/status`,
    logger: logger.child({ component: 'transport' }),
    ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
    ...(config.mqtt.password !== undefined ? { password: config.mqtt.password } : {}),
    ...(config.mqtt.tls
      ? {
          tls: {
            rejectUnauthorized: config.mqtt.tls.reject_unauthorized,
            ...(config.mqtt.tls.ca_file ? { caFile: config.mqtt.tls.ca_file } : {}),
            ...(config.mqtt.tls.cert_file ? { certFile: config.mqtt.tls.cert_file } : {}),
            ...(config.mqtt.tls.key_file ? { keyFile: config.mqtt.tls.key_file } : {}),
          },
        }
      : {}),
  });
  const rx = deps.rxScheduler ? { scheduler: deps.rxScheduler } : {};
  const client = new EverestClient({
    transport,
    contract,
    topics,
    logger: logger.child({ component: 'everest' }),
    requestTimeoutMs: config.everest.request_timeout_ms,
    release: config.everest.release,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...rx,
  });
  const moduleIds = config.evses.map((e) => e.module_id);
  const limitsModuleIds = config.evses.flatMap((e) => (e.limits_module_id === undefined ? [] : [e.limits_module_id]));
  await client.addEvses(moduleIds);
  await client.addLimitsModules(limitsModuleIds);
  // A limits module is watched and kept alive exactly like an EVSE module: same monitor, same check.
  const livenessIds = [...moduleIds, ...limitsModuleIds];
  const heartbeat = new HeartbeatMonitor({
    client,
    moduleIds: livenessIds,
    timeoutMs: config.everest.heartbeat_timeout_ms,
    logger: logger.child({ component: 'heartbeat' }),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...rx,
  });
  const communicationCheck = new CommunicationCheck({
    client,
    status$: transport.status$,
    moduleIds: livenessIds,
    intervalMs: config.everest.communication_check_interval_ms,
    logger: logger.child({ component: 'communication_check' }),
    ...rx,
  });
  const site = new SiteController({
    client,
    heartbeat,
    store,
    directory,
    evses: config.evses.map(camelCased),
    maxPowerW: config.site.max_power_w,
    nominalVoltageV: config.site.nominal_voltage_v,
    scheduler: camelCased(config.scheduler),
    limits: {
      ...camelCased(config.limits),
      failsafeCurrentA: failsafeCurrentA({
        configuredA: config.limits.failsafe_current_a,
        maxPowerW: config.site.max_power_w,
        nominalVoltageV: config.site.nominal_voltage_v,
        limitedEvses: limitsModuleIds.length,
      }),
    },
    enforcer: { ...camelCased(config.enforcer), rejectCooldownMs: Math.max(5_000, config.enforcer.retry_backoff_ms * 4) },
    logger: logger.child({ component: 'site' }),
    ...(deps.rxScheduler ? { rxScheduler: deps.rxScheduler } : {}),
    // Every 'online' after the first is a reconnect: what EVerest published meanwhile is lost.
    reconnects$: transport.status$.pipe(
      filter((s) => s === 'online'),
      skip(1),
    ),
    reportGraceMs: config.everest.heartbeat_timeout_ms,
  });
  // Beside the site, not above it: it listens to the same EVerest streams and knows nothing of priorities.
  const forwarding = isForwardingEnabled(config.forwarding)
    ? await Forwarder.start({
        streams: client,
        evses: config.evses,
        config: config.forwarding,
        dir: join(config.store.dir, 'forwarding'),
        logger,
        ...(deps.forwardingMetrics ? { metrics: deps.forwardingMetrics } : {}),
        ...(deps.forwardingTuning ? { tuning: deps.forwardingTuning } : {}),
        ...(deps.rxScheduler ? { scheduler: deps.rxScheduler } : {}),
      })
    : undefined;
  site.start();
  communicationCheck.start();
  logger.info({ evses: moduleIds.length, namespace: config.namespace, base: topics.base }, 'evse-priority started');
  const aboveBudget = evsesAboveBudget(config);
  if (aboveBudget.length > 0) {
    logger.warn(
      { evses: aboveBudget, max_power_w: config.site.max_power_w, overrun_tolerance_w: config.scheduler.overrun_tolerance_w },
      NO_CURRENT_CONTROL_WARNING,
    );
  }

  let stopped = false;
  return {
    config,
    logger,
    transport,
    topics,
    client,
    heartbeat,
    communicationCheck,
    store,
    directory,
    site,
    ...(forwarding ? { forwarding } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      await communicationCheck.stop(config.everest.send_false_on_shutdown);
      site.stop();
      // Writes still queued (a hold dropped a moment ago) reach the disk before the process goes.
      await store.close();
      await forwarding?.stop();
      heartbeat.dispose();
      evseIdConflicts.flush();
      client.dispose();
      await transport.close();
      logger.info('evse-priority stopped');
    },
  };
}
