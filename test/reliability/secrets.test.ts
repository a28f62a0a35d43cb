// No secret in any output (issue 13 item 5): every place a secret can be configured is filled (MQTT URL
// and password, webhook URL userinfo and query, webhook signing key, HTTP tokens from file and env,
// forwarding client secret, api key and token URL query), the real process runs with deliveries that
// fail, and then every output is read: the JSON log, the pretty log, the demo's --log-file, the debug
// config dump, check-config (ok and refused), config errors, everything published on the broker
// (retained status included), every /v1 GET, /healthz and /metrics.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { quietLogger, rawClient, sharedContract } from '../support/everest-stack.js';
import { freePort } from '../support/ports.js';
import { runCli, type CliRun } from '../support/real-process.js';
import { collect, waitFor, type Collector } from '../support/wait.js';

const S = {
  mqttUrlPassword: 'mqtt-url-pass/7Q2',
  mqttPassword: 'mqtt-env-pass-K9',
  fileToken: 'file-token-0123456789abcdef',
  envToken: 'env-token-0123456789abcdef',
  hookUrlPassword: 'hook-url-pass-R4',
  hookQueryKey: 'hook-query-key-M3',
  hookSecret: 'hook-sign-secret-Z8',
  clientSecret: 'fwd-client-secret-H6',
  cloudUrlPassword: 'cloud-url-pass-W5',
  apiKey: 'fwd-api-key-J1',
  tokenUrlKey: 'fwd-token-url-key-B2',
  accessToken: 'cloud-access-token-T3',
};
/** Each secret as it could leak: raw, URL-encoded, and the fragments a partial leak would show. */
const FORMS: readonly string[] = [
  ...Object.values(S),
  encodeURIComponent(S.mqttUrlPassword),
  '7Q2',
  Buffer.from(`hookuser:${S.hookUrlPassword}`).toString('base64'),
];

function expectNoSecret(where: string, text: string): void {
  for (const form of FORMS) expect(text.includes(form), `${where} shows "${form}":\n${excerpt(text, form)}`).toBe(false);
}

function excerpt(text: string, form: string): string {
  const at = text.indexOf(form);
  return at < 0 ? '' : text.slice(Math.max(0, at - 300), at + 100);
}

/** Webhook receiver, OAuth token endpoint and cloud in one: tokens are handed out (or refused), deliveries fail. */
class FailingReceiver {
  readonly requests: { path: string; authorization: string | undefined }[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        const path = req.url ?? '';
        this.requests.push({ path, authorization: req.headers.authorization });
        if (path.startsWith('/token?')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: S.accessToken, token_type: 'Bearer', expires_in: 3600 }));
        } else if (path.startsWith('/token-refused')) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        } else {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

let broker: TestBroker;
let receiver: FailingReceiver;
let sim: Simulator;
let dir: string;
let client: MqttClient;
let everything: Collector;
const runs: CliRun[] = [];

/** Secrets an operator passes in the environment rather than the file. */
const secretEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  EVSE_PRIORITY_MQTT_USERNAME: 'mqttuser',
  EVSE_PRIORITY_MQTT_PASSWORD: S.mqttPassword,
  EVSE_PRIORITY_HTTP_TOKEN: S.envToken,
  EVSE_PRIORITY_FORWARDING_CLIENT_SECRET: S.clientSecret,
});

/**
 * The JSON run writes its MQTT password unencoded (a `/` in it: no URL parser reads that); the pretty
 * run encodes the password and is refused a token. (A cloud URL with credentials is refused by the
 * config: the refusal below must not show them.)
 */
function siteYaml(options: { instance: string; module: string; httpPort: number; pretty: boolean; tokenPath: string }): string {
  const mqttPassword = options.pretty ? encodeURIComponent(S.mqttUrlPassword) : S.mqttUrlPassword;
  const hook = `http://hookuser:${S.hookUrlPassword}@127.0.0.1:${receiver.port}/hook?key=${S.hookQueryKey}&plain`;
  return [
    `instance: ${options.instance}`,
    `mqtt: { url: "mqtt://mqttuser:${mqttPassword}@127.0.0.1:${broker.port}", reconnect_min_ms: 100, reconnect_max_ms: 500 }`,
    `evses: [{ module_id: ${options.module}, charge_box_identity: CP-${options.module} }]`,
    `store: { dir: "${join(dir, options.instance)}" }`,
    `http: { host: 127.0.0.1, port: ${options.httpPort}, tokens: ["${S.fileToken}"] }`,
    `log: { level: debug, pretty: ${options.pretty} }`,
    `webhooks: [{ url: "${hook}", secret: "${S.hookSecret}" }]`,
    'forwarding:',
    `  url: "http://127.0.0.1:${receiver.port}/cloud"`,
    `  token_url: "http://127.0.0.1:${receiver.port}${options.tokenPath}?tenant_key=${S.tokenUrlKey}"`,
    '  client_id: client-1',
    `  api_key: ${S.apiKey}`,
    '  meter_interval_s: 1',
  ].join('\n');
}

function writeFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function cli(args: readonly string[], env: NodeJS.ProcessEnv = secretEnv()): CliRun {
  const run = runCli(args, env);
  runs.push(run);
  return run;
}

async function stopped(run: CliRun): Promise<string> {
  run.child.kill('SIGTERM');
  await run.exited;
  return run.output();
}

beforeAll(async () => {
  broker = await startBroker({ name: 'secrets' });
  receiver = await new FailingReceiver().start();
  dir = mkdtempSync(join(tmpdir(), 'evse-priority-secrets-'));
  sim = await startSimulator({ url: broker.url, moduleIds: ['evse_1', 'evse_2'], heartbeatIntervalMs: 250, powermeterIntervalMs: 250, logger: quietLogger(), contract: await sharedContract() });
  client = await rawClient(broker.url);
  everything = await collect(client, '#');
});
afterAll(async () => {
  for (const run of runs) run.child.kill('SIGKILL');
  await everything?.stop();
  await client?.endAsync();
  await sim?.stop();
  await receiver?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets configured everywhere they can be', () => {
  it('appear in no log format, no broker message, no HTTP answer, while webhook and forwarding deliveries fail', { timeout: 240_000 }, async () => {
    const [jsonPort, prettyPort] = [await freePort(), await freePort()];
    const jsonRun = cli(['run', '--config', writeFile('json.yaml', siteYaml({ instance: 'secrets_json', module: 'evse_1', httpPort: jsonPort, pretty: false, tokenPath: '/token' }))]);
    const prettyRun = cli(['run', '--config', writeFile('pretty.yaml', siteYaml({ instance: 'secrets_pretty', module: 'evse_2', httpPort: prettyPort, pretty: true, tokenPath: '/token-refused' }))]);
    const online = (ns: string) => waitFor(() => everything.messages.some((m) => m.topic === `${ns}/site/state`), { timeoutMs: 90_000, message: `${ns} online` });
    await Promise.all([online('evse_priority/secrets_json'), online('evse_priority/secrets_pretty')]);

    // A session on each EVSE: events for the webhooks, TransactionEvents for forwarding.
    for (const module_id of ['evse_1', 'evse_2']) {
      sim.apply({ module_id, action: 'plug_in', max_power_w: 11_000 });
      sim.apply({ module_id, action: 'authorize', id_tag: `TAG-${module_id}` });
    }
    await waitFor(() => jsonRun.output().includes('webhook delivery failed') && prettyRun.output().includes('webhook delivery failed'), {
      timeoutMs: 60_000,
      message: () => `both webhooks failed at least once:\n${jsonRun.output().slice(-2000)}`,
    });
    await waitFor(() => jsonRun.output().includes('forwarding: cloud unreachable or failing'), { timeoutMs: 30_000, message: 'a forwarding delivery failed' });
    await waitFor(() => prettyRun.output().includes('forwarding: the cloud refuses even a freshly fetched token'), { timeoutMs: 30_000, message: 'a token request refused' });
    // The webhook's user:password went as a Basic header, not into a log.
    const hookAuth = receiver.requests.find((r) => r.path.startsWith('/hook'))?.authorization;
    expect(hookAuth).toBe(`Basic ${Buffer.from(`hookuser:${S.hookUrlPassword}`).toString('base64')}`);

    // Every answer of both HTTP APIs, with a valid token and with a wrong one that looks like a secret.
    for (const port of [jsonPort, prettyPort]) {
      const base = `http://127.0.0.1:${port}`;
      const paths = ['/healthz', '/metrics', '/v1/openapi.json', '/v1/site', '/v1/evses', '/v1/evses/evse_1', '/v1/evses/evse_2', '/v1/priorities', '/v1/actions/1', '/'];
      for (const path of paths) {
        for (const token of [S.fileToken, S.envToken, `${S.fileToken}x`]) {
          const r = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
          expect(r.status, path).toBeLessThan(500);
          expectNoSecret(`GET ${path} on ${port}`, JSON.stringify([...r.headers]) + (await r.text()));
        }
      }
      const ticket = await fetch(`${base}/v1/events/tickets`, { method: 'POST', headers: { authorization: `Bearer ${S.envToken}` } });
      expectNoSecret('POST /v1/events/tickets', await ticket.text());
    }

    const json = await stopped(jsonRun);
    const pretty = await stopped(prettyRun);
    // The debug config dump is in both, and the JSON one is JSON lines throughout.
    expect(json).toContain('"msg":"configuration"');
    expect(pretty).toContain('configuration');
    expect(pretty).not.toContain('"msg":');
    expectNoSecret('JSON log', json);
    expectNoSecret('pretty log', pretty);
    expectNoSecret('MQTT', everything.messages.map((m) => `${m.topic} ${m.payload}`).join('\n'));
  });

  it('appear in neither the demo console nor its --log-file', { timeout: 120_000 }, async () => {
    const logFile = join(dir, 'demo.log');
    const env = { ...secretEnv(), EVSE_PRIORITY_HTTP_TOKEN: S.fileToken };
    const demo = cli(['demo', '--log-level', 'debug', '--log-file', logFile, '--http-port', '0'], env);
    await waitFor(() => demo.output().includes('Ctrl-C stops everything'), { timeoutMs: 90_000, message: () => `demo up:\n${demo.output().slice(-2000)}` });
    const console = await stopped(demo);
    // The banner shows the token on purpose (it is the person's own, for the dashboard link); nothing else.
    expect(console).toContain(`token:       ${S.fileToken}`);
    expectNoSecret('demo console without the banner', console.replaceAll(S.fileToken, '<banner token>'));
    const file = readFileSync(logFile, 'utf8');
    expect(file).toContain('HTTP API listening');
    expectNoSecret('demo --log-file', file);
  });

  it('appear neither in check-config (accepted or refused) nor in the configuration errors of run', { timeout: 120_000 }, async () => {
    const good = writeFile('good.yaml', siteYaml({ instance: 'secrets_check', module: 'evse_1', httpPort: 0, pretty: false, tokenPath: '/token' }));
    // Each secret where a value is wrong, so the message has reason to quote it.
    const bad = writeFile(
      'bad.yaml',
      [
        `mqtt: { url: "mqtt://mqttuser:${S.mqttUrlPassword}@broker:1883", password: 42 }`,
        'evses: [{ module_id: evse_1 }]',
        `http: { tokens: ["${S.fileToken}", "7Q2"] }`,
        `webhooks: [{ url: "ftp://hookuser:${S.hookUrlPassword}@hooks.example/x?key=${S.hookQueryKey}", secret: "${S.hookSecret}", unknown: "${S.hookSecret}" }]`,
        'forwarding:',
        `  url: "https://clouduser:${S.cloudUrlPassword}@cloud.example/?k=${S.apiKey}"`,
        `  token_url: "gopher://auth.example/token?tenant_key=${S.tokenUrlKey}"`,
        `  client_secret: ["${S.clientSecret}"]`,
        `  api_key: { key: "${S.apiKey}" }`,
      ].join('\n'),
    );
    const badEnv = { ...secretEnv(), EVSE_PRIORITY_MQTT_URL: `http://u:${S.mqttUrlPassword}@host:1883/?key=${S.hookQueryKey}`, EVSE_PRIORITY_HTTP_TOKEN: 'short-7Q2' };
    const [ok, refused, refusedByEnv, runRefused] = [
      cli(['check-config', good]),
      cli(['check-config', bad], process.env),
      cli(['check-config', good], badEnv),
      cli(['run', '--config', bad], process.env),
    ];
    expect(await ok.exited).toBe(0);
    expect(ok.output()).toContain('OK (1 EVSE(s)');
    expect(ok.output()).toContain('[redacted]');
    expectNoSecret('check-config (ok)', ok.output());
    for (const [name, run] of [['check-config (refused)', refused], ['check-config (refused by env)', refusedByEnv], ['run (refused)', runRefused]] as const) {
      expect(await run.exited, name).toBe(2);
      expect(run.output(), name).toContain('Invalid configuration');
      expectNoSecret(name, run.output());
    }
    // The refusals name what is wrong, so hiding the values did not hide the problems.
    for (const key of ['mqtt.password', 'http.tokens[1]', 'webhooks[0].url', 'forwarding.url', 'forwarding.token_url', 'forwarding.client_secret', 'forwarding.api_key']) {
      expect(refused.output(), key).toContain(key);
    }
    expect(refusedByEnv.output()).toContain('EVSE_PRIORITY_MQTT_URL');
  });
});
