import type { JSONSchemaType } from 'ajv';
import { ENABLE_SOURCES, LOG_LEVELS, SHARING_POLICIES } from './types.js';
import type { ConfigFile } from './types.js';
import { DEFAULT_EVEREST_RELEASE, EVEREST_RELEASES } from '../everest/release.js';
import { PATTERN_TEXT } from '../validation/describe.js';

/** Shorter bearer tokens are refused: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** Characters that would change an MQTT topic's meaning or split it into levels. */
const MQTT_SEGMENT = '^[^/#+\\s]+$';

/**
 * Annotation keyword naming a default computed at load time. It is registered with ajv as a
 * no-op so strict mode accepts it, and `describe.ts` prints it (Markdown) in place of a literal default.
 */
export const DERIVED_DEFAULT = 'x-derived-default';
/** Annotation keyword: a node's `pattern` in plain words, used in error messages (owned by the one message builder). */
export { PATTERN_TEXT };

// fetch() refuses a URL with user:password, so such a cloud URL could never deliver; the cloud's
// credentials belong in client_id/client_secret or api_key, where they are redacted by name.
const CLOUD_URL_PATTERN = '^https?://(?![^/?#]*@)';
const CLOUD_URL_TEXT = 'must start with https:// (or http:// for a local test cloud) and carry no user:password (use client_id/client_secret or api_key)';
const MQTT_SEGMENT_TEXT = "must be non-empty without '/', '#', '+' or whitespace";

/**
 * A section's default is an empty object that ajv then fills from the section's own property
 * defaults; the cast only tells `JSONSchemaType` that the filled result is a complete section.
 */
function section<T>(): T {
  return {} as T;
}

/** The single source of the configuration's keys, types, ranges, defaults and documentation. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'evse-priority configuration.',
  required: [
    'instance',
    'mqtt',
    'everest',
    'evses',
    'site',
    'scheduler',
    'limits',
    'enforcer',
    'store',
    'http',
    'mqtt_api',
    'webhooks',
    'forwarding',
    'log',
  ],
  properties: {
    instance: {
      type: 'string',
      pattern: MQTT_SEGMENT,
      [PATTERN_TEXT]: MQTT_SEGMENT_TEXT,
      default: 'default',
      description:
        'Name of this deployment; goes into the MQTT namespace and client id, so several instances can share a broker.',
    },
    namespace: {
      type: 'string',
      nullable: true,
      pattern: '^[^#+]+$',
      [PATTERN_TEXT]: "must be non-empty without '#' or '+'",
      [DERIVED_DEFAULT]: '`evse_priority/<instance>`',
      description: 'Topic prefix of our own MQTT topics (status, priorities, events).',
    },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'Connection to the MQTT broker EVerest uses.',
      required: ['url', 'protocol_version', 'keepalive_s', 'reconnect_min_ms', 'reconnect_max_ms'],
      properties: {
        url: {
          type: 'string',
          format: 'uri',
          pattern: '^(mqtt|mqtts|tcp|tls|ssl|ws|wss)://',
          [PATTERN_TEXT]: 'must start with mqtt://, mqtts://, tcp://, tls://, ssl://, ws:// or wss://',
          default: 'mqtt://127.0.0.1:1883',
          description: 'Broker URL: mqtt://, mqtts://, ws:// or wss://.',
        },
        username: { type: 'string', nullable: true, description: 'Broker user name.' },
        password: { type: 'string', nullable: true, description: 'Broker password; redacted in logs.' },
        protocol_version: {
          type: 'integer',
          enum: [4, 5],
          default: 4,
          description: 'MQTT protocol version: 4 (3.1.1) or 5.',
        },
        client_id: {
          type: 'string',
          nullable: true,
          minLength: 1,
          [DERIVED_DEFAULT]: '`evse-priority-<instance>`',
          description: 'MQTT client id; must be unique on the broker or the two clients kick each other off.',
        },
        keepalive_s: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: 30,
          description: 'MQTT keepalive in seconds (0 disables).',
        },
        reconnect_min_ms: {
          type: 'integer',
          minimum: 1,
          default: 500,
          description: 'First reconnect delay; later attempts back off up to reconnect_max_ms.',
        },
        reconnect_max_ms: {
          type: 'integer',
          minimum: 1,
          default: 1000,
          description:
            "Upper bound of the reconnect delay; must stay below everest.communication_check_timeout_s, because EVerest's communication check times out that long after the last check before the outage.",
        },
        tls: {
          type: 'object',
          nullable: true,
          additionalProperties: false,
          description: 'TLS settings for mqtts:// or wss://; omit to use the system CAs.',
          required: ['reject_unauthorized'],
          properties: {
            ca_file: { type: 'string', nullable: true, description: 'PEM file of the CA that signed the broker certificate.' },
            cert_file: { type: 'string', nullable: true, description: 'PEM client certificate (needs key_file).' },
            key_file: { type: 'string', nullable: true, description: 'PEM private key of the client certificate.' },
            reject_unauthorized: {
              type: 'boolean',
              default: true,
              description: 'Refuse brokers whose certificate does not verify; false only for testing.',
            },
          },
        },
      },
    },
    everest: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'How EVerest speaks on the broker (evse_manager_consumer_API modules).',
      required: [
        'release',
        'topic_prefix',
        'api_version',
        'communication_check_interval_ms',
        'communication_check_timeout_s',
        'heartbeat_timeout_ms',
        'request_timeout_ms',
        'send_false_on_shutdown',
      ],
      properties: {
        release: {
          type: 'string',
          enum: [...EVEREST_RELEASES],
          default: DEFAULT_EVEREST_RELEASE,
          description:
            "The EVerest release on the chargers: 2026.02 has no e2m/limits (enforced_limits instead), pauses through StoppingCharging with reasons and dropped the reserve/authorization routes.",
        },
        topic_prefix: {
          type: 'string',
          pattern: '^[^#+]*$',
          [PATTERN_TEXT]: "must not contain '#' or '+'",
          default: '',
          description: "EVerest's mqtt_external_prefix, glued on with no separator.",
        },
        api_version: {
          type: 'string',
          pattern: MQTT_SEGMENT,
          [PATTERN_TEXT]: MQTT_SEGMENT_TEXT,
          default: '1',
          description: "Version segment of EVerest's API topics: '1' since 2025-10-28, '1.0' before.",
        },
        communication_check_interval_ms: {
          type: 'integer',
          minimum: 100,
          default: 1000,
          description:
            'How often we publish `true` on m2e/communication_check; must be below communication_check_timeout_s.',
        },
        communication_check_timeout_s: {
          type: 'integer',
          minimum: 1,
          default: 5,
          description: "The cfg_communication_check_to_s EVerest's API module is configured with.",
        },
        heartbeat_timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 3000,
          description: 'EVerest counts as gone after this long without e2m/heartbeat.',
        },
        request_timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 5000,
          description: 'Wait this long for a reply to an m2e request; EVerest sends none for requests it cannot parse.',
        },
        send_false_on_shutdown: {
          type: 'boolean',
          default: false,
          description:
            "Publish `false` on communication_check at shutdown; this switches EVerest's check off until it restarts.",
        },
      },
    },
    evses: {
      type: 'array',
      minItems: 0,
      default: [],
      description: 'The EVSEs to manage, one per evse_manager_consumer_API module.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['module_id', 'connectors', 'phases'],
        properties: {
          module_id: {
            type: 'string',
            pattern: MQTT_SEGMENT,
            [PATTERN_TEXT]: MQTT_SEGMENT_TEXT,
            description: "Id of the evse_manager_consumer_API module in EVerest's config; unique.",
          },
          serial_number: {
            type: 'string',
            nullable: true,
            minLength: 1,
            description: 'Charger serial number, accepted as an identifier in priority requests.',
          },
          charge_box_identity: {
            type: 'string',
            nullable: true,
            minLength: 1,
            description: 'OCPP charge box identity, accepted as an identifier in priority requests.',
          },
          connectors: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            default: [1],
            items: { type: 'integer', minimum: 1 },
            description: 'Connector ids of this EVSE.',
          },
          phases: {
            type: 'integer',
            minimum: 1,
            maximum: 3,
            default: 3,
            description: 'Phases wired to this EVSE.',
          },
          max_current_a: {
            type: 'number',
            nullable: true,
            exclusiveMinimum: 0,
            description: 'Per-phase hardware current cap, used until EVerest reports hw_capabilities.',
          },
          limits_module_id: {
            type: 'string',
            nullable: true,
            pattern: MQTT_SEGMENT,
            [PATTERN_TEXT]: MQTT_SEGMENT_TEXT,
            description:
              "Id of the external_energy_limits_consumer_API module on the EnergyNode directly above this EVSE's EvseManager; with it the EVSE gets a current limit, without it on/off control.",
          },
          station_uid: {
            type: 'string',
            nullable: true,
            minLength: 1,
            pattern: '^[^/?#\\s]+$',
            [PATTERN_TEXT]: "must be non-empty without '/', '?', '#' or whitespace",
            [DERIVED_DEFAULT]: 'charge_box_identity, else module_id',
            description: 'Charging station id the forwarding cloud knows this EVSE by (the {uid} of its URLs).',
          },
        },
      },
    },
    site: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'The site connection all EVSEs share.',
      required: ['max_power_w', 'nominal_voltage_v'],
      properties: {
        max_power_w: {
          type: 'number',
          minimum: 0,
          default: 22000,
          description: 'Power budget for all EVSEs together, in W.',
        },
        nominal_voltage_v: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 230,
          description: 'Phase-to-neutral voltage used to turn currents into power.',
        },
      },
    },
    scheduler: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'Who charges when the budget is short.',
      required: ['sharing', 'protect_after_interruptions', 'min_on_time_s', 'min_off_time_s', 'overrun_tolerance_w', 'reservation_timeout_s'],
      properties: {
        sharing: {
          type: 'string',
          enum: SHARING_POLICIES,
          default: 'priority_levels',
          description:
            'How current is shared among EVSEs with a limits module: priority_levels serves each priority level in full before the next (power a held higher session cannot use because its minimum does not fit goes to lower sessions: held ones start on it at their minimum, provisionally (they yield as soon as it fits) or, if held before, as a protected start; running ones share it); minimum_first gives everyone their minimum in priority order first, then tops up by level.',
        },
        protect_after_interruptions: {
          type: 'integer',
          minimum: 0,
          default: 1,
          description:
            'EVSEs with a limits module: a session we held this many times after it had charged (a yield after a provisional start counts too) keeps its minimum current once it charges again, even against higher priorities (they share what is left); a budget below the protected minimums still holds them, lowest priority first. 0: higher priorities always win (more pauses and resumes).',
        },
        min_on_time_s: {
          type: 'number',
          minimum: 0,
          default: 120,
          description: 'A car that started charging keeps charging at least this long before the scheduler pauses it.',
        },
        min_off_time_s: {
          type: 'number',
          minimum: 0,
          default: 30,
          description: 'A paused car stays paused at least this long before the scheduler resumes it, so contactors do not chatter.',
        },
        overrun_tolerance_w: {
          type: 'number',
          minimum: 0,
          default: 500,
          description: 'Headroom above site.max_power_w: the planner may use it (ratings are rounded: 2 x 11 040 W on 22 kW), and beyond it the lowest priorities are paused at once, min on-time or not. 0 makes max_power_w a hard line.',
        },
        reservation_timeout_s: {
          type: 'number',
          minimum: 0,
          default: 30,
          description: 'Power granted to a resumed car stays reserved this long until its meter shows it.',
        },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: "Current control through EVerest's external_energy_limits_consumer_API (EVSEs with limits_module_id).",
      required: ['min_current_a', 'failsafe_s', 'refresh_s'],
      properties: {
        min_current_a: {
          type: 'number',
          minimum: 6,
          default: 6,
          description: 'Smallest current per phase a session is admitted with; EVerest pauses AC charging at 5.9 A or less.',
        },
        failsafe_s: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 60,
          description:
            'Every limit message carries a second schedule entry this many seconds ahead with failsafe_current_a; EVerest never expires a limit, so this entry is what applies if evse-priority dies.',
        },
        refresh_s: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 20,
          description:
            'An unchanged limit is re-sent this often, pushing the fail-safe entry ahead; at most half of failsafe_s, so one lost message does not let the fail-safe take over.',
        },
        failsafe_current_a: {
          type: 'number',
          nullable: true,
          minimum: 0,
          [DERIVED_DEFAULT]: 'site.max_power_w shared equally over the EVSEs with a limits module, at nominal_voltage_v x 3 phases',
          description: 'Current per phase each EVSE with a limits module falls back to when evse-priority is gone; 5.9 A or less pauses charging.',
        },
      },
    },
    enforcer: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'How decisions become EVerest commands.',
      required: ['enable_source', 'enable_priority', 'confirm_timeout_ms', 'max_retries', 'retry_backoff_ms', 'escalate_after_failures'],
      properties: {
        enable_source: {
          type: 'string',
          enum: ENABLE_SOURCES,
          default: 'LocalAPI',
          description: 'enable_source we claim in enable_disable; EVerest keeps one entry per source.',
        },
        enable_priority: {
          type: 'integer',
          minimum: 0,
          maximum: 10000,
          default: 100,
          description: 'enable_priority of our claim; lower wins (OCPP uses 5000, the seed entry 10000).',
        },
        confirm_timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 10000,
          description: 'Wait this long for the session_event confirming a pause or resume.',
        },
        max_retries: {
          type: 'integer',
          minimum: 0,
          default: 3,
          description: 'Retries of an unconfirmed command before it is reported as failed.',
        },
        retry_backoff_ms: {
          type: 'integer',
          minimum: 0,
          default: 1000,
          description: 'Delay between retries of an unconfirmed command.',
        },
        escalate_after_failures: {
          type: 'integer',
          minimum: 1,
          default: 2,
          description:
            'Failed holds (pause not answered, answered false, or without effect) on one lever before the next is tried: pause, then limit 0 A where a limits module exists, then enable_disable; each step raises a hold_alarm.',
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'Durable state.',
      required: ['dir'],
      properties: {
        dir: {
          type: 'string',
          minLength: 1,
          default: './data',
          description: 'Directory for priority records, relative to the working directory.',
        },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'HTTP API.',
      required: [
        'enabled',
        'host',
        'port',
        'tokens',
        'allow_anonymous',
        'allowed_hosts',
        'auth_failures_per_minute',
        'metrics_public',
        'health_public',
        'body_limit_bytes',
      ],
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Serve the HTTP API.' },
        host: {
          type: 'string',
          minLength: 1,
          default: '127.0.0.1',
          description: 'Address to listen on; 0.0.0.0 exposes the API to the network.',
        },
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: 8080,
          description: 'TCP port (0 picks a free one).',
        },
        tokens: {
          type: 'array',
          default: [],
          items: { type: 'string', minLength: MIN_TOKEN_LENGTH },
          description: `Bearer tokens accepted by the API, at least ${MIN_TOKEN_LENGTH} characters each; redacted in logs.`,
        },
        allow_anonymous: {
          type: 'boolean',
          default: false,
          description:
            'Without tokens, serve changes (PUT, POST, DELETE) to anyone who reaches the port; otherwise they are refused with 403 until a token is configured.',
        },
        public_base_url: {
          type: 'string',
          nullable: true,
          format: 'uri',
          pattern: '^https?://',
          [PATTERN_TEXT]: 'must start with http:// or https://',
          description: 'Absolute URL clients reach the API at (behind a proxy); used for links. Without it links are relative; the Host header is never used.',
        },
        allowed_hosts: {
          type: 'array',
          default: [],
          items: { type: 'string', minLength: 1 },
          description:
            'Host header values (name or name:port, case-insensitive) the API answers; others get 421. Empty: not checked. Set it when the API is reachable by name (DNS rebinding).',
        },
        auth_failures_per_minute: {
          type: 'integer',
          minimum: 1,
          default: 10,
          description: 'Failed authentications allowed per client address and minute; beyond that the address gets 429 with Retry-After.',
        },
        metrics_public: {
          type: 'boolean',
          default: false,
          description: 'Serve /metrics without a token.',
        },
        health_public: {
          type: 'boolean',
          default: true,
          description: 'Serve the health endpoint without a token.',
        },
        body_limit_bytes: {
          type: 'integer',
          minimum: 1,
          default: 65536,
          description: 'Largest request body accepted.',
        },
      },
    },
    mqtt_api: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'Our own MQTT topics under the namespace.',
      required: ['enabled', 'read_only'],
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description: 'Publish our state topics and serve the request topics; false publishes nothing but status and subscribes to nothing of ours.',
        },
        read_only: {
          type: 'boolean',
          default: false,
          description: 'Publish the state topics but do not subscribe to request topics: nobody on the broker can change priorities, the budget or command EVSEs.',
        },
      },
    },
    webhooks: {
      type: 'array',
      default: [],
      description: 'HTTP endpoints that receive event notifications.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'secret'],
        properties: {
          url: {
            type: 'string',
            format: 'uri',
            pattern: '^https?://',
            [PATTERN_TEXT]: 'must start with http:// or https://',
            description: 'http:// or https:// URL to POST events to.',
          },
          secret: {
            type: 'string',
            minLength: 1,
            description: 'Key for the request signature; redacted in logs.',
          },
          events: {
            type: 'array',
            nullable: true,
            items: { type: 'string', minLength: 1 },
            description: 'Event types to send; omit for all but the once-a-second `site` figures.',
          },
        },
      },
    },
    forwarding: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'OCPP 2.0.1 TransactionEvent and MeterValues to a smart-charging cloud (seed 002); off while url is unset.',
      required: ['meter_interval_s', 'max_queue_mb'],
      properties: {
        url: {
          type: 'string',
          nullable: true,
          format: 'uri',
          pattern: CLOUD_URL_PATTERN,
          [PATTERN_TEXT]: CLOUD_URL_TEXT,
          description: 'Base URL of the cloud; events go to {url}/v1/scsp/chargingstations/{uid}/events/ocpp2.0.1/... Forwarding is off while unset.',
        },
        token_url: {
          type: 'string',
          nullable: true,
          format: 'uri',
          pattern: CLOUD_URL_PATTERN,
          [PATTERN_TEXT]: CLOUD_URL_TEXT,
          description: 'OAuth2 token endpoint (client credentials grant).',
        },
        client_id: { type: 'string', nullable: true, minLength: 1, description: 'OAuth2 client id.' },
        client_secret: { type: 'string', nullable: true, minLength: 1, description: 'OAuth2 client secret; redacted in logs.' },
        scope: { type: 'string', nullable: true, minLength: 1, description: 'OAuth2 scope to ask for; omit for the client default.' },
        api_key: { type: 'string', nullable: true, minLength: 1, description: 'Static key sent as the ApiKey header on every request; redacted in logs.' },
        meter_interval_s: {
          type: 'integer',
          minimum: 1,
          maximum: 300,
          default: 60,
          description: 'MeterValues are sent this often during a transaction; the cloud wants at least every 300 s.',
        },
        max_queue_mb: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 50,
          description: 'Disk the outbox may use while the cloud is unreachable; when full the oldest MeterValues are dropped (and counted), never a TransactionEvent.',
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: section(),
      description: 'Logging.',
      required: ['level'],
      properties: {
        level: {
          type: 'string',
          enum: LOG_LEVELS,
          default: 'info',
          description: 'Lowest level written.',
        },
        pretty: {
          type: 'boolean',
          nullable: true,
          [DERIVED_DEFAULT]: 'true when stdout is a terminal',
          description: 'Human-readable output instead of JSON lines.',
        },
      },
    },
  },
} satisfies JSONSchemaType<ConfigFile>;

/** The structural view of a schema node that the walkers (env overrides, docs) need. */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  nullable?: boolean;
  properties?: Readonly<Record<string, SchemaNode>>;
  required?: readonly string[];
  items?: SchemaNode;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  [DERIVED_DEFAULT]?: string;
  [PATTERN_TEXT]?: string;
}

export const schemaTree: SchemaNode = configSchema;
