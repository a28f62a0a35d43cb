/**
 * The configuration's TypeScript shape. `schema.ts` is typed against `ConfigFile` through
 * ajv's `JSONSchemaType`, so a key added here without the schema (or the reverse) fails to compile.
 */
import { ENABLE_SOURCES, type EnableSource } from '../everest/payloads.js';
import type { EverestRelease } from '../everest/release.js';

// EVerest's enum: the wire owns the list, the schema offers it.
export { ENABLE_SOURCES };
export type EnableSourceName = EnableSource;
export type { CamelCased } from './camel-case.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TlsConfig {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  reject_unauthorized: boolean;
}

export interface MqttConfig {
  url: string;
  username?: string;
  password?: string;
  protocol_version: 4 | 5;
  client_id?: string;
  keepalive_s: number;
  reconnect_min_ms: number;
  reconnect_max_ms: number;
  tls?: TlsConfig;
}

export interface EverestConfig {
  release: EverestRelease;
  topic_prefix: string;
  api_version: string;
  communication_check_interval_ms: number;
  communication_check_timeout_s: number;
  heartbeat_timeout_ms: number;
  request_timeout_ms: number;
  send_false_on_shutdown: boolean;
}

export interface EvseConfig {
  module_id: string;
  serial_number?: string;
  charge_box_identity?: string;
  connectors: number[];
  phases: number;
  max_current_a?: number;
  limits_module_id?: string;
  station_uid?: string;
}

export interface SiteConfig {
  max_power_w: number;
  nominal_voltage_v: number;
}

export const SHARING_POLICIES = ['priority_levels', 'minimum_first'] as const;
export type SharingPolicy = (typeof SHARING_POLICIES)[number];

export interface SchedulerConfig {
  sharing: SharingPolicy;
  protect_after_interruptions: number;
  min_on_time_s: number;
  min_off_time_s: number;
  overrun_tolerance_w: number;
  reservation_timeout_s: number;
}

export interface LimitsConfig {
  min_current_a: number;
  failsafe_s: number;
  refresh_s: number;
  failsafe_current_a?: number;
}

export interface EnforcerConfig {
  enable_source: EnableSourceName;
  enable_priority: number;
  confirm_timeout_ms: number;
  max_retries: number;
  retry_backoff_ms: number;
  escalate_after_failures: number;
}

export interface StoreConfig {
  dir: string;
}

export interface HttpConfig {
  enabled: boolean;
  host: string;
  port: number;
  tokens: string[];
  allow_anonymous: boolean;
  public_base_url?: string;
  allowed_hosts: string[];
  auth_failures_per_minute: number;
  metrics_public: boolean;
  health_public: boolean;
  body_limit_bytes: number;
}

export interface MqttApiConfig {
  enabled: boolean;
  read_only: boolean;
}

export interface WebhookConfig {
  url: string;
  secret: string;
  events?: string[];
}

export interface ForwardingConfig {
  url?: string;
  token_url?: string;
  client_id?: string;
  client_secret?: string;
  scope?: string;
  api_key?: string;
  meter_interval_s: number;
  max_queue_mb: number;
}

export interface LogConfig {
  level: LogLevel;
  pretty?: boolean;
}

/** What the schema guarantees after ajv has filled in its defaults, before derived defaults. */
export interface ConfigFile {
  instance: string;
  namespace?: string;
  mqtt: MqttConfig;
  everest: EverestConfig;
  evses: EvseConfig[];
  site: SiteConfig;
  scheduler: SchedulerConfig;
  limits: LimitsConfig;
  enforcer: EnforcerConfig;
  store: StoreConfig;
  http: HttpConfig;
  mqtt_api: MqttApiConfig;
  webhooks: WebhookConfig[];
  forwarding: ForwardingConfig;
  log: LogConfig;
}

/** The loaded configuration: keys derived from `instance` are always present. */
export interface Config extends Omit<ConfigFile, 'namespace' | 'mqtt'> {
  namespace: string;
  mqtt: MqttConfig & { client_id: string };
}

/**
 * Overrides for `loadConfig`. Arrays replace the loaded array wholesale; their elements may be
 * partial too, since the schema's defaults fill them and validation rejects what is missing.
 */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
