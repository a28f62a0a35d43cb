// A whole module for HTTP integration tests: real Mosquitto, the simulated EVerest, the MQTT side
// (startModule), the store in a temp dir, and the HTTP server on a free port.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleService } from '../../src/api/service.js';
import type { HttpServer } from '../../src/api/http/server.js';
import type { PromMetrics } from '../../src/api/metrics.js';
import { startApp } from '../../src/app.js';
import type { WebhookDeliveryOptions } from '../../src/api/webhooks.js';
import { loadConfig, mergeConfig } from '../../src/config/load.js';
import type { Config, DeepPartial, WebhookConfig } from '../../src/config/types.js';
import type { RunningModule } from '../../src/module.js';
import type { Logger } from '../../src/log/logger.js';
import { STORE_FILE_NAME } from '../../src/priorities/store.js';
import { limitsModulesOf } from '../../src/sim/external-limits.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import type { TestBroker } from './broker.js';
import { quietLogger, sharedContract } from './everest-stack.js';
import { waitFor } from './wait.js';

export const EVSES = [
  { module_id: 'evse_1', serial_number: 'SN-0001', charge_box_identity: 'CB-0001', connectors: [1], phases: 3 },
  { module_id: 'evse_2', serial_number: 'SN-0002', charge_box_identity: 'CB-0002', connectors: [1], phases: 3 },
  { module_id: 'evse_3', connectors: [1], phases: 3 },
] as const;

/** The EVSE-ID the simulator publishes for the n-th module. */
export function simEvseId(index: number): string {
  return `DEPNXE00000${index}*1`;
}

export interface HarnessOptions {
  tokens?: string[];
  metricsPublic?: boolean;
  healthPublic?: boolean;
  bodyLimitBytes?: number;
  webhooks?: WebhookConfig[];
  webhookDelivery?: WebhookDeliveryOptions;
  sseKeepaliveMs?: number;
  /** Extra configuration merged over the harness defaults. */
  config?: DeepPartial<Config>;
  /** Defaults to a silent logger (TEST_LOG_LEVEL raises it). */
  logger?: Logger;
  /** The configured EVSEs the simulator runs (and the harness waits for); default all. The others stay silent. */
  simulated?: readonly string[];
}

export interface CallOptions {
  /** Serialized as JSON with Content-Type application/json. */
  json?: unknown;
  /** Sent as-is (with `contentType`, default application/json). */
  raw?: string;
  contentType?: string;
  /** Bearer token; defaults to the first configured one, null sends none. */
  token?: string | null;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: unknown;
  text: string;
}

export interface Harness {
  config: Config;
  module: RunningModule;
  service: ModuleService;
  server: HttpServer;
  metrics: PromMetrics;
  sim: Simulator;
  url: string;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** The store file as on disk ('' before the first write). */
  storeFile(): string;
  stop(): Promise<void>;
}

export async function startHarness(broker: TestBroker, options: HarnessOptions = {}): Promise<Harness> {
  const storeDir = mkdtempSync(join(tmpdir(), 'evse-priority-http-'));
  const instance = `http${Math.random().toString(16).slice(2, 10)}`;
  const base: DeepPartial<Config> = {
    instance,
    mqtt: { url: broker.url, reconnect_min_ms: 100, reconnect_max_ms: 500 },
    everest: { heartbeat_timeout_ms: 3000, request_timeout_ms: 2000, communication_check_interval_ms: 1000 },
    evses: EVSES.map((e) => ({ ...e, connectors: [...e.connectors] })),
    site: { max_power_w: 22000 },
    scheduler: { min_on_time_s: 0, min_off_time_s: 0 },
    enforcer: { confirm_timeout_ms: 3000, retry_backoff_ms: 100 },
    store: { dir: storeDir },
    http: {
      host: '127.0.0.1',
      port: 0,
      tokens: options.tokens ?? [],
      metrics_public: options.metricsPublic ?? false,
      health_public: options.healthPublic ?? true,
      body_limit_bytes: options.bodyLimitBytes ?? 4096,
    },
    webhooks: options.webhooks ?? [],
    log: { level: 'info' },
  };
  const config = loadConfig({ env: {}, overrides: mergeConfig(base, options.config ?? {}) });
  const logger = options.logger ?? quietLogger();
  const contract = await sharedContract();
  // The same composition root `evse-priority run` uses; only the HTTP test knobs differ.
  const app = await startApp(config, logger, {
    contract,
    processMetrics: false,
    http: options.sseKeepaliveMs !== undefined ? { sseKeepaliveMs: options.sseKeepaliveMs } : {},
    ...(options.webhookDelivery ? { webhookDelivery: options.webhookDelivery } : {}),
  });
  const { module, service, metrics } = app;
  const server = app.http;
  if (!server) throw new Error('harness: the HTTP server did not start (http.enabled is false?)');
  const simulated = options.simulated === undefined ? config.evses : config.evses.filter((e) => options.simulated?.includes(e.module_id));
  const simulatedIds = new Set(simulated.map((e) => e.module_id));
  // Started after the module so the module hears the EVSE-IDs the simulator publishes at boot.
  const sim = await startSimulator({
    url: broker.url,
    moduleIds: [...simulatedIds],
    limitsModules: limitsModulesOf(simulated),
    heartbeatIntervalMs: 500,
    powermeterIntervalMs: 500,
    communicationCheckTimeoutS: 5,
    // 16 A x 3 phases = 11 kW per EVSE, as in config/demo.yaml: the scheduler sizes a waiting car by its EVSE.
    evse: { hwMaxCurrentA: 16, release: config.everest.release },
    logger,
    contract,
  });
  const watched = () => [...simulatedIds].map((id) => service.evse(id)).filter((e) => e !== undefined);
  await waitFor(
    () => watched().every((e) => e.heartbeat.status === 'online' && e.evse_id !== null && e.last_action?.status === 'completed'),
    { timeoutMs: 10_000, message: () => `EVSEs not ready: ${JSON.stringify(watched().map((e) => [e.module_id, e.heartbeat.status, e.evse_id, e.last_action?.status]))}` },
  );

  const defaultToken = config.http.tokens[0];
  const call = async (method: string, path: string, callOptions: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...callOptions.headers };
    const token = callOptions.token === undefined ? defaultToken : callOptions.token;
    if (token !== undefined && token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (callOptions.json !== undefined) body = JSON.stringify(callOptions.json);
    if (callOptions.raw !== undefined) body = callOptions.raw;
    if (body !== undefined && callOptions.contentType !== '') headers['content-type'] = callOptions.contentType ?? 'application/json';
    // fetch labels a string body text/plain; bytes go out with no Content-Type at all.
    const payload = body !== undefined && callOptions.contentType === '' ? new TextEncoder().encode(body) : body;
    const response = await fetch(`${server.url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (metrics text): keep the text.
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  return {
    config,
    module,
    service,
    server,
    metrics,
    sim,
    url: server.url,
    call,
    storeFile: () => {
      try {
        return readFileSync(join(storeDir, STORE_FILE_NAME), 'utf8');
      } catch {
        return '';
      }
    },
    stop: async () => {
      await app.stop();
      await sim.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
