import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { runModule, writeSiteConfig } from '../support/real-process.js';
import { collect, waitFor, type Collector } from '../support/wait.js';

const NS = 'evse_priority/hostile';

/** Request names that are properties of every JavaScript object. */
const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
];

const DEPTH = 100_000;
const deepArray = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
const deepObject = `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`;
const setBody = (rest: string) => `{"by":"module","module_id":"evse_1","connector_id":1,"priority":3,${rest}}`;

interface Response {
  status: 'ok' | 'error';
  error?: string;
  transaction?: unknown;
}

describe('hostile requests on our MQTT topics: answered or ignored with a log line, and the process lives on', () => {
  let broker: TestBroker;
  let dir: string;
  let client: MqttClient;
  let seen: Collector;
  let child: ChildProcess;
  const log: string[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    dir = mkdtempSync(join(tmpdir(), 'evse-priority-hostile-'));
    const configFile = writeSiteConfig(dir, { instance: 'hostile', brokerUrl: broker.url, evses: '[{ module_id: evse_1, connectors: [1, 2] }]' });
    client = await rawClient(broker.url);
    seen = await collect(client, `${NS}/#`);
    // Retained, so the process meets it on every start before anything else.
    await client.publishAsync(`${NS}/request/__proto__`, '{}', { retain: true });
    child = runModule(configFile, log);
    await waitFor(() => seen.messages.some((m) => m.topic === `${NS}/status` && m.payload.includes('"online"')), { timeoutMs: 50_000, message: 'module online' });
  });
  afterAll(async () => {
    child.kill('SIGKILL');
    await client.publishAsync(`${NS}/request/__proto__`, '', { retain: true });
    await seen.stop();
    await client.endAsync();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const responsesOn = (name: string) =>
    seen.messages.filter((m) => m.topic === `${NS}/response/${name}`).map((m) => JSON.parse(m.payload) as Response);

  async function ask(name: string, payload: string, match: (r: Response) => boolean, what: string): Promise<Response> {
    const before = responsesOn(name).length;
    await client.publishAsync(`${NS}/request/${name}`, payload);
    return waitFor(() => responsesOn(name).slice(before).find(match), { message: what });
  }

  it('a retained __proto__ request met at start-up got an error reply and a log line', async () => {
    const reply = await waitFor(() => responsesOn('__proto__')[0], { message: 'reply to the retained __proto__ request' });
    expect(reply.status).toBe('error');
    expect(reply.error).toMatch(/^unknown request "__proto__"; known: priority\/set/);
    // pino writes asynchronously: the line may follow the reply.
    await waitFor(() => log.join('').includes('rejected request on our MQTT API'), { message: 'log line for the rejected request' });
  });

  it.each(PROTOTYPE_NAMES)('request name %s is an unknown request', async (name) => {
    const reply = await ask(name, '{}', (r) => r.status === 'error', `reply on response/${name}`);
    expect(reply.error).toContain(`unknown request ${JSON.stringify(name)}`);
    expect(child.exitCode).toBeNull();
  });

  it.each([
    ['a deeply nested array as transaction', setBody(`"transaction":${deepArray}`)],
    ['a deeply nested object as transaction', setBody(`"transaction":${deepObject}`)],
    ['a deeply nested unknown field', setBody(`"extra":${deepArray}`)],
    ['a deeply nested identifier', `{"by":"module","module_id":${deepObject},"connector_id":1,"priority":3}`],
  ])('%s is refused without echoing it', async (_what, payload) => {
    const reply = await ask('priority/set', payload, (r) => r.status === 'error', 'error reply');
    expect(reply.transaction).toBeUndefined();
    expect(reply.error!.length).toBeLessThan(2_000);
    expect(child.exitCode).toBeNull();
  });

  it.each([
    ['connector 99999', { type: 'unlock', connector_id: 99999 }, /"connector_id" must be an integer from 1 to 255/],
    ['connector 1e300', { type: 'disable', connector_id: 1e300 }, /"connector_id" must be/],
    ['a connector the EVSE does not have', { type: 'disable', connector_id: 3 }, /connector 3 does not exist on evse_1/],
    ['a reason longer than HTTP allows', { type: 'pause', reason: 'x'.repeat(201) }, /"reason" must be at most 200 characters/],
  ])('an action with %s is refused as HTTP refuses it', async (_what, body, message) => {
    const transaction = `act-${Math.random()}`;
    const reply = await ask('action', JSON.stringify({ module_id: 'evse_1', ...body, transaction }), (r) => r.transaction === transaction, 'action reply');
    expect(reply.status).toBe('error');
    expect(reply.error).toMatch(message);
  });

  it('a long string transaction is not echoed; a short one is', async () => {
    const long = await ask('priority/set', setBody(`"transaction":"${'t'.repeat(10_000)}"`), (r) => r.status === 'error', 'error reply');
    expect(long.transaction).toBeUndefined();
    expect(long.error).toMatch(/"transaction"/);
    const ok = await ask('priority/set', setBody('"transaction":"still-alive"'), (r) => r.transaction === 'still-alive', 'valid request answered');
    expect(ok.status).toBe('ok');
    expect(child.exitCode).toBeNull();
  });
});
