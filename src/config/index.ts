export type {
  Config,
  ConfigFile,
  DeepPartial,
  EnableSourceName,
  EnforcerConfig,
  EverestConfig,
  EvseConfig,
  HttpConfig,
  LimitsConfig,
  LogConfig,
  LogLevel,
  MqttConfig,
  SchedulerConfig,
  SharingPolicy,
  SiteConfig,
  StoreConfig,
  TlsConfig,
  WebhookConfig,
} from './types.js';
export { ENABLE_SOURCES, LOG_LEVELS, SHARING_POLICIES } from './types.js';
export { configSchema } from './schema.js';
export { ConfigError, ENV_PREFIX, HTTP_TOKEN_ENV, envOverrideNames, loadConfig, unrecognisedEnvNames } from './load.js';
export type { ConfigIssue, LoadConfigOptions } from './load.js';
export { describeConfigKeys, describeConfigMarkdown } from './describe.js';
export type { KeyDescription } from './describe.js';
export { REDACTED, redactConfig, redactUrl } from './redact.js';
export { NO_CURRENT_CONTROL_WARNING, evsesAboveBudget } from './current-control.js';
export type { EvseAboveBudget } from './current-control.js';
