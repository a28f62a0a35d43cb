import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, envOverrideNames, loadConfig, unrecognisedEnvNames } from '../../../src/config/load.js';
import type { Config, DeepPartial, EnableSourceName } from '../../../src/config/types.js';
import type { EnableSource } from '../../../src/everest/payloads.js';
import { errorOf, issuesOf, tempConfigDir } from '../../support/config-files.js';

const tmp = tempConfigDir();
afterAll(() => tmp.cleanup());

/** No ambient EVSE_PRIORITY_* variable of the machine running the tests may leak in. */
const noEnv = {};

describe('defaults', () => {
  it('fills every defaulted key when there is no file', () => {
    const config = loadConfig({ env: noEnv });
    expect(config).toEqual({
      instance: 'default',
      namespace: 'evse_priority/default',
      mqtt: {
        url: 'mqtt://127.0.0.1:1883',
        protocol_version: 4,
        client_id: 'evse-priority-default',
        keepalive_s: 30,
        reconnect_min_ms: 500,
        reconnect_max_ms: 1000,
      },
      everest: {
        release: '2026.02',
        topic_prefix: '',
        api_version: '1',
        communication_check_interval_ms: 1000,
        communication_check_timeout_s: 5,
        heartbeat_timeout_ms: 3000,
        request_timeout_ms: 5000,
        send_false_on_shutdown: false,
      },
      evses: [],
      site: { max_power_w: 22000, nominal_voltage_v: 230 },
      scheduler: { sharing: 'priority_levels', protect_after_interruptions: 1, min_on_time_s: 120, min_off_time_s: 30, overrun_tolerance_w: 500, reservation_timeout_s: 30 },
      limits: { min_current_a: 6, failsafe_s: 60, refresh_s: 20 },
      enforcer: {
        enable_source: 'LocalAPI',
        enable_priority: 100,
        confirm_timeout_ms: 10000,
        max_retries: 3,
        retry_backoff_ms: 1000,
        escalate_after_failures: 2,
      },
      store: { dir: './data' },
      http: {
        enabled: true,
        host: '127.0.0.1',
        port: 8080,
        tokens: [],
        allow_anonymous: false,
        allowed_hosts: [],
        auth_failures_per_minute: 10,
        metrics_public: false,
        health_public: true,
        body_limit_bytes: 65536,
      },
      mqtt_api: { enabled: true, read_only: false },
      webhooks: [],
      forwarding: { meter_interval_s: 60, max_queue_mb: 50 },
      log: { level: 'info' },
    } satisfies Config);
  });

  it('fills defaults inside list elements and optional sections that are present', () => {
    const file = tmp.write(
      'partial.yaml',
      ['instance: garage', 'mqtt:', '  tls:', '    ca_file: /ca.pem', 'evses:', '  - module_id: a', '  - module_id: b', '    phases: 1'].join('\n'),
    );
    const config = loadConfig({ file, env: noEnv });
    expect(config.evses).toEqual([
      { module_id: 'a', connectors: [1], phases: 3 },
      { module_id: 'b', connectors: [1], phases: 1 },
    ]);
    expect(config.mqtt.tls).toEqual({ ca_file: '/ca.pem', reject_unauthorized: true });
    expect(config.namespace).toBe('evse_priority/garage');
    expect(config.mqtt.client_id).toBe('evse-priority-garage');
  });

  it('keeps an explicit namespace and client_id', () => {
    const config = loadConfig({ env: noEnv, overrides: { namespace: 'site/ns', mqtt: { client_id: 'me' } } });
    expect(config.namespace).toBe('site/ns');
    expect(config.mqtt.client_id).toBe('me');
  });

  it('treats an empty YAML section or file as absent', () => {
    expect(loadConfig({ file: tmp.write('empty.yaml', ''), env: noEnv }).http.port).toBe(8080);
    const file = tmp.write('empty-section.yaml', 'mqtt:\n  # url: mqtt://x\nhttp:\n');
    expect(loadConfig({ file, env: noEnv }).mqtt.url).toBe('mqtt://127.0.0.1:1883');
  });

  it('does not write defaults into the caller’s overrides', () => {
    const overrides: DeepPartial<Config> = { evses: [{ module_id: 'x' }], http: { tokens: ['t-0123456789abcdef'] } };
    const before = structuredClone(overrides);
    expect(loadConfig({ env: noEnv, overrides }).evses).toEqual([{ module_id: 'x', connectors: [1], phases: 3 }]);
    expect(overrides).toEqual(before);
  });

  it('matches the EVerest EnableSource type', () => {
    expectTypeOf<EnableSourceName>().toEqualTypeOf<EnableSource>();
  });
});

describe('validation errors name the key', () => {
  const load = (name: string, text: string): ConfigError => errorOf(() => loadConfig({ file: tmp.write(name, text), env: noEnv }));

  it('unknown key, with a suggestion and the file position', () => {
    const err = load('unknown.yaml', 'mqtt:\n  urll: mqtt://x\n');
    expect(err.issues).toEqual([
      {
        path: 'mqtt.urll',
        message: 'is not a known field; did you mean "url"?',
        source: `${err.file}:2:3`,
        line: 2,
        column: 3,
      },
    ]);
    expect(err.message).toContain('mqtt.urll');
    expect(err.message).toContain(`${err.file}:2:3`);
  });

  it('unknown key at the top level and inside a list element', () => {
    const err = load('unknown2.yaml', 'sitee: {}\nevses:\n  - module_id: a\n    phase: 3\n');
    expect(err.issues.map((i) => [i.path, i.message])).toEqual([
      ['sitee', 'is not a known field; did you mean "site"?'],
      ['evses[0].phase', 'is not a known field; did you mean "phases"?'],
    ]);
  });

  it('wrong type', () => {
    const issues = load('type.yaml', 'site:\n  max_power_w: lots\nhttp:\n  enabled: "yes"\n').issues;
    expect(issues.map((i) => [i.path, i.message, i.line])).toEqual([
      ['site.max_power_w', 'must be a number (got the string "lots")', 2],
      ['http.enabled', 'must be true or false (got the string "yes")', 4],
    ]);
  });

  it('a wrong type is reported once, not also as an enum or range failure', () => {
    const issues = load('type-enum.yaml', 'mqtt:\n  protocol_version: "5"\n').issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'mqtt.protocol_version', message: 'must be an integer (got the string "5")' });
  });

  it('enum lists the allowed values', () => {
    const [issue] = load('enum.yaml', 'enforcer:\n  enable_source: localapi\n').issues;
    expect(issue?.path).toBe('enforcer.enable_source');
    expect(issue?.message).toBe(
      'must be one of "Unspecified", "LocalAPI", "LocalKeyLock", "ServiceTechnician", "RemoteKeyLock", "MobileApp", "FirmwareUpdate", "CSMS" (got the string "localapi")',
    );
  });

  it('out of range', () => {
    const issues = load('range.yaml', 'enforcer:\n  enable_priority: 10001\nevses:\n  - module_id: a\n  - module_id: b\n  - module_id: c\n    phases: 4\n').issues;
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['enforcer.enable_priority', 'must be an integer from 0 to 10000 (got 10001)'],
      ['evses[2].phases', 'must be an integer from 1 to 3 (got 4)'],
    ]);
  });

  it('a module_id that would break MQTT topics', () => {
    const [issue] = load('module-id.yaml', 'evses:\n  - module_id: "evse/1"\n').issues;
    expect(issue).toMatchObject({ path: 'evses[0].module_id', line: 2 });
    expect(issue?.message).toContain("without '/', '#', '+' or whitespace");
  });

  it('missing required key', () => {
    const [issue] = load('required.yaml', 'evses:\n  - phases: 3\n').issues;
    expect(issue).toMatchObject({ path: 'evses[0].module_id', message: 'is required' });
  });

  it('bad webhook URL', () => {
    const [issue] = load('webhook.yaml', 'webhooks:\n  - url: ftp://example.com\n    secret: s\n').issues;
    expect(issue).toMatchObject({ path: 'webhooks[0].url', message: 'must start with http:// or https:// (got the string "ftp://example.com")' });
  });

  it('never echoes a secret value in an error', () => {
    const err = load('secret.yaml', 'mqtt:\n  url: "xmqtt://u:pw-in-url@h"\n  password: 135792468\nhttp:\n  tokens: [987654321]\n');
    expect(err.issues.map((i) => i.path)).toEqual(['mqtt.url', 'mqtt.password', 'http.tokens[0]']);
    expect(err.message).not.toMatch(/pw-in-url|135792468|987654321/);
  });

  it('reports every issue at once', () => {
    const issues = load('many.yaml', 'http:\n  port: -1\n  host: ""\nlog:\n  level: loud\n').issues;
    expect(issues.map((i) => i.path).sort()).toEqual(['http.host', 'http.port', 'log.level']);
  });

  it('duplicate module_id names the duplicate and the first occurrence', () => {
    const err = load('dup.yaml', 'evses:\n  - module_id: evse_1\n  - module_id: evse_2\n  - module_id: evse_1\n');
    expect(err.issues).toEqual([
      {
        path: 'evses[2].module_id',
        message: 'duplicate module_id "evse_1" (also evses[0].module_id)',
        source: `${err.file}:4:16`,
        line: 4,
        column: 16,
      },
    ]);
  });

  it('duplicate serial_number', () => {
    const [issue] = load('dup-serial.yaml', 'evses:\n  - {module_id: a, serial_number: S}\n  - {module_id: b, serial_number: S}\n').issues;
    expect(issue).toMatchObject({ path: 'evses[1].serial_number', message: 'duplicate serial_number "S" (also evses[0].serial_number)' });
  });

  it('communication check interval not below the EVerest timeout names both keys', () => {
    for (const [interval, timeout] of [
      [5000, 5],
      [6000, 5],
    ] as const) {
      const [issue] = issuesOf(() =>
        loadConfig({
          env: noEnv,
          overrides: { everest: { communication_check_interval_ms: interval, communication_check_timeout_s: timeout } },
        }),
      );
      expect(issue?.path).toBe('everest.communication_check_interval_ms');
      expect(issue?.message).toContain('everest.communication_check_interval_ms');
      expect(issue?.message).toContain('everest.communication_check_timeout_s');
    }
    expect(loadConfig({ env: noEnv, overrides: { everest: { communication_check_interval_ms: 4999 } } }).everest.communication_check_timeout_s).toBe(5);
  });

  it('limits_module_id: optional, unique, and never an EVSE module_id', () => {
    const ok = loadConfig({ env: noEnv, overrides: { evses: [{ module_id: 'a', limits_module_id: 'a_limits' }, { module_id: 'b' }] } });
    expect(ok.evses.map((e) => e.limits_module_id)).toEqual(['a_limits', undefined]);
    const err = load(
      'limits-ids.yaml',
      'evses:\n  - {module_id: a, limits_module_id: lim}\n  - {module_id: b, limits_module_id: lim}\n  - {module_id: c, limits_module_id: a}\n',
    );
    expect(err.issues.map((i) => [i.path, i.line])).toEqual([
      ['evses[1].limits_module_id', 3],
      ['evses[2].limits_module_id', 4],
    ]);
    expect(err.issues[0]?.message).toBe(
      'duplicate limits_module_id "lim" (also evses[0].limits_module_id): each EVSE needs its own EnergyNode and limits module',
    );
    expect(err.issues[1]?.message).toBe('limits_module_id "a" is the module_id of evses[0]: the external_energy_limits_consumer_API module has its own id');
    const [bad] = issuesOf(() => loadConfig({ env: noEnv, overrides: { evses: [{ module_id: 'a', limits_module_id: 'x/y' }] } }));
    expect(bad?.path).toBe('evses[0].limits_module_id');
  });

  it('limits: refresh at most half the fail-safe time, a sharing policy from the list, a minimum of at least 6 A', () => {
    const [refresh] = issuesOf(() => loadConfig({ env: noEnv, overrides: { limits: { failsafe_s: 30, refresh_s: 16 } } }));
    expect(refresh).toMatchObject({ path: 'limits.refresh_s', source: 'overrides' });
    expect(refresh?.message).toContain('limits.failsafe_s (30)');
    expect(loadConfig({ env: noEnv, overrides: { limits: { failsafe_s: 4, refresh_s: 2 } } }).limits).toEqual({
      min_current_a: 6,
      failsafe_s: 4,
      refresh_s: 2,
    });
    const [sharing] = issuesOf(() => loadConfig({ env: { EVSE_PRIORITY_SCHEDULER_SHARING: 'equal' } }));
    expect(sharing).toMatchObject({ path: 'scheduler.sharing', source: 'EVSE_PRIORITY_SCHEDULER_SHARING' });
    expect(sharing?.message).toContain('"priority_levels", "minimum_first"');
    const [min] = issuesOf(() => loadConfig({ env: noEnv, overrides: { limits: { min_current_a: 5 } } }));
    expect(min?.path).toBe('limits.min_current_a');
    const fromEnv = loadConfig({ env: { EVSE_PRIORITY_LIMITS_FAILSAFE_CURRENT_A: '8', EVSE_PRIORITY_SCHEDULER_SHARING: 'minimum_first' } });
    expect([fromEnv.limits.failsafe_current_a, fromEnv.scheduler.sharing]).toEqual([8, 'minimum_first']);
  });

  it('scheduler.protect_after_interruptions: 1 by default, 0 from the environment turns protection off, fractions and negatives refused', () => {
    expect(loadConfig({ env: noEnv }).scheduler.protect_after_interruptions).toBe(1);
    expect(loadConfig({ env: { EVSE_PRIORITY_SCHEDULER_PROTECT_AFTER_INTERRUPTIONS: '0' } }).scheduler.protect_after_interruptions).toBe(0);
    for (const bad of ['1.5', '-1']) {
      const [issue] = issuesOf(() => loadConfig({ env: { EVSE_PRIORITY_SCHEDULER_PROTECT_AFTER_INTERRUPTIONS: bad } }));
      expect(issue).toMatchObject({ path: 'scheduler.protect_after_interruptions', source: 'EVSE_PRIORITY_SCHEDULER_PROTECT_AFTER_INTERRUPTIONS' });
    }
  });

  it('reconnect_min_ms above reconnect_max_ms', () => {
    const [issue] = issuesOf(() => loadConfig({ env: noEnv, overrides: { mqtt: { reconnect_min_ms: 5000, reconnect_max_ms: 1000 } } }));
    expect(issue).toMatchObject({ path: 'mqtt.reconnect_min_ms', source: 'overrides' });
  });

  it('reconnect_max_ms at or above the communication check window names both keys', () => {
    const [issue] = issuesOf(() => loadConfig({ env: noEnv, overrides: { mqtt: { reconnect_max_ms: 5000 } } }));
    expect(issue).toMatchObject({ path: 'mqtt.reconnect_max_ms', source: 'overrides' });
    expect(issue?.message).toContain('everest.communication_check_timeout_s (5000 ms)');
    expect(loadConfig({ env: noEnv, overrides: { mqtt: { reconnect_max_ms: 4999 } } }).mqtt.reconnect_max_ms).toBe(4999);
  });

  it('a bearer token shorter than 16 characters, from the file or the environment, without echoing it', () => {
    const [short] = issuesOf(() => loadConfig({ env: noEnv, overrides: { http: { tokens: ['0123456789abcdef', 'short-secret'] } } }));
    expect(short?.path).toBe('http.tokens[1]');
    expect(short?.message).toContain('16');
    expect(JSON.stringify(short)).not.toContain('short-secret');
    const [fromEnv] = issuesOf(() => loadConfig({ env: { EVSE_PRIORITY_HTTP_TOKEN: 'x' } }));
    expect(fromEnv).toMatchObject({ source: 'EVSE_PRIORITY_HTTP_TOKEN' });
    expect(loadConfig({ env: { EVSE_PRIORITY_HTTP_TOKEN: '0123456789abcdef' } }).http.tokens).toEqual(['0123456789abcdef']);
  });

  it('a cloud URL carrying user:password (fetch would refuse it), without echoing the password', () => {
    for (const key of ['url', 'token_url'] as const) {
      const [issue] = issuesOf(() => loadConfig({ env: noEnv, overrides: { forwarding: { [key]: 'https://me:pa55-word@cloud.example/v1' } } }));
      expect(issue?.path).toBe(`forwarding.${key}`);
      expect(issue?.message).toContain('user:password');
      expect(JSON.stringify(issue)).not.toContain('pa55-word');
    }
    // An '@' after the host is part of the path, not a credential.
    const cloud = { url: 'https://cloud.example/a@b?x=1', token_url: 'https://auth.example/token', client_id: 'c', client_secret: 's', api_key: 'k' };
    expect(loadConfig({ env: noEnv, overrides: { forwarding: cloud } }).forwarding.url).toBe(cloud.url);
  });

  it('a TLS client certificate without its key', () => {
    const [issue] = issuesOf(() => loadConfig({ env: noEnv, overrides: { mqtt: { tls: { cert_file: '/c.pem', reject_unauthorized: true } } } }));
    expect(issue?.path).toBe('mqtt.tls.key_file');
  });
});

describe('file errors', () => {
  it('YAML syntax error names file, line and column', () => {
    const file = tmp.write('broken.yaml', 'mqtt:\n  url: mqtt://x\nevses: [\n  a, b\nhttp:\n  port: 1\n');
    const err = errorOf(() => loadConfig({ file, env: noEnv }));
    expect(err.issues.length).toBeGreaterThan(0);
    const [issue] = err.issues;
    expect(issue?.message).toMatch(/^YAML syntax error: /);
    expect(issue?.line).toBeTypeOf('number');
    expect(issue?.source).toBe(`${file}:${issue?.line}:${issue?.column}`);
    expect(err.message).toContain(file);
  });

  it('duplicate YAML keys are a syntax error on the second one', () => {
    const file = tmp.write('dupkey.yaml', 'http:\n  port: 1\n  port: 2\n');
    const [issue] = issuesOf(() => loadConfig({ file, env: noEnv }));
    expect(issue?.line).toBe(3);
  });

  it('a document that is not a mapping', () => {
    const file = tmp.write('list.yaml', '- a\n- b\n');
    const [issue] = issuesOf(() => loadConfig({ file, env: noEnv }));
    expect(issue?.message).toContain('mapping');
  });

  it('missing file', () => {
    const file = '/nonexistent/evse-priority.yaml';
    const err = errorOf(() => loadConfig({ file, env: noEnv }));
    expect(err.message).toContain(`config file not found: ${file}`);
  });
});

describe('env overrides', () => {
  const base = tmp.write('env-base.yaml', 'mqtt:\n  url: mqtt://file:1883\nhttp:\n  port: 9000\n  tokens: [from-file-0123456789]\n');

  it('derives names from the schema', () => {
    const names = envOverrideNames();
    expect(names).toEqual(expect.arrayContaining(['EVSE_PRIORITY_MQTT_URL', 'EVSE_PRIORITY_SITE_MAX_POWER_W', 'EVSE_PRIORITY_EVEREST_TOPIC_PREFIX', 'EVSE_PRIORITY_HTTP_PORT', 'EVSE_PRIORITY_HTTP_TOKEN']));
    expect(new Set(names).size).toBe(names.length);
    // List elements cannot be addressed by an env var.
    expect(names.some((n) => n.startsWith('EVSE_PRIORITY_EVSES_') || n.startsWith('EVSE_PRIORITY_WEBHOOKS_'))).toBe(false);
  });

  it('a string overrides the file, and an empty string is kept for string keys', () => {
    const config = loadConfig({ file: base, env: { EVSE_PRIORITY_MQTT_URL: 'mqtt://env:1883', EVSE_PRIORITY_EVEREST_TOPIC_PREFIX: '' } });
    expect(config.mqtt.url).toBe('mqtt://env:1883');
    expect(config.everest.topic_prefix).toBe('');
  });

  it('numbers and booleans are coerced by the schema type', () => {
    const config = loadConfig({
      file: base,
      env: {
        EVSE_PRIORITY_HTTP_PORT: '8181',
        EVSE_PRIORITY_SITE_MAX_POWER_W: ' 11000.5 ',
        EVSE_PRIORITY_HTTP_ENABLED: 'false',
        EVSE_PRIORITY_MQTT_PROTOCOL_VERSION: '5',
        EVSE_PRIORITY_EVEREST_API_VERSION: '1.0',
        EVSE_PRIORITY_MQTT_TLS_REJECT_UNAUTHORIZED: 'no',
      },
    });
    expect(config.http.port).toBe(8181);
    expect(config.site.max_power_w).toBe(11000.5);
    expect(config.http.enabled).toBe(false);
    expect(config.mqtt.protocol_version).toBe(5);
    expect(config.everest.api_version).toBe('1.0');
    expect(config.mqtt.tls).toEqual({ reject_unauthorized: false });
  });

  it('an empty value for a number or boolean counts as unset', () => {
    expect(loadConfig({ file: base, env: { EVSE_PRIORITY_HTTP_PORT: '' } }).http.port).toBe(9000);
  });

  it('a bad number names the env var', () => {
    const err = errorOf(() => loadConfig({ file: base, env: { EVSE_PRIORITY_HTTP_PORT: 'eighty', EVSE_PRIORITY_HTTP_ENABLED: 'maybe' } }));
    expect(err.issues).toEqual([
      { path: 'http.enabled', message: 'must be true or false (got the string "maybe")', source: 'EVSE_PRIORITY_HTTP_ENABLED' },
      { path: 'http.port', message: 'must be a number (got the string "eighty")', source: 'EVSE_PRIORITY_HTTP_PORT' },
    ]);
    expect(err.message).toContain('EVSE_PRIORITY_HTTP_PORT');
  });

  it('a fractional value for an integer key names the env var', () => {
    const [issue] = issuesOf(() => loadConfig({ env: { EVSE_PRIORITY_HTTP_PORT: '80.5' } }));
    expect(issue).toMatchObject({ path: 'http.port', source: 'EVSE_PRIORITY_HTTP_PORT' });
  });

  it('a schema violation from env names the env var as the source', () => {
    const [issue] = issuesOf(() => loadConfig({ file: base, env: { EVSE_PRIORITY_LOG_LEVEL: 'loud', EVSE_PRIORITY_HTTP_PORT: '70000' } }));
    expect(issue).toMatchObject({ path: 'http.port', source: 'EVSE_PRIORITY_HTTP_PORT' });
  });

  it('EVSE_PRIORITY_HTTP_TOKEN appends one token', () => {
    expect(loadConfig({ file: base, env: { EVSE_PRIORITY_HTTP_TOKEN: 'from-env-0123456789' } }).http.tokens).toEqual(['from-file-0123456789', 'from-env-0123456789']);
    expect(loadConfig({ env: { EVSE_PRIORITY_HTTP_TOKEN: 'only-token-0123456789' } }).http.tokens).toEqual(['only-token-0123456789']);
  });

  it('overrides win over env', () => {
    const config = loadConfig({ file: base, env: { EVSE_PRIORITY_HTTP_PORT: '8181' }, overrides: { http: { port: 0 } } });
    expect(config.http.port).toBe(0);
    expect(config.mqtt.url).toBe('mqtt://file:1883');
  });

  it('lists unrecognised EVSE_PRIORITY_ variables for a warning', () => {
    expect(unrecognisedEnvNames({ EVSE_PRIORITY_MQTT_URLL: 'x', EVSE_PRIORITY_HTTP_PORT: '1', PATH: '/bin' })).toEqual(['EVSE_PRIORITY_MQTT_URLL']);
  });
});
