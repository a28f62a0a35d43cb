// Hostile e2m traffic (what bench:soak mixes into its load, here every message once on every EVSE):
// whatever a broken or malicious EVerest peer publishes, every read of the API still answers without a
// 5xx and the communication check keeps going.
import { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { EVSES, startHarness, type Harness } from '../support/api-harness.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { fuzzDeck } from '../support/e2m-fuzz.js';
import { sleep, waitFor } from '../support/wait.js';

const TOKEN = 'e2m-fuzz-token-0123456789';
const READS = ['/v1/evses', ...EVSES.map((e) => `/v1/evses/${e.module_id}`), '/v1/site', '/v1/priorities', '/metrics', '/healthz'];

let broker: TestBroker;
let h: Harness;
let client: MqttClient;
const errors: string[] = [];
const checks: number[] = [];

beforeAll(async () => {
  broker = await startBroker({ name: 'e2m-fuzz' });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.includes('"level":50')) errors.push(line.slice(0, 2000));
      done();
    },
  });
  h = await startHarness(broker, { tokens: [TOKEN], logger: createLogger({ level: 'error', pretty: false, destination: sink }) });
  client = await mqtt.connectAsync(broker.url);
  client.on('message', () => checks.push(performance.now()));
  await client.subscribeAsync('everest_api/1/evse_manager_consumer/evse_1/m2e/communication_check');
  await waitFor(() => checks.length >= 2, { message: 'communication checks flowing' });
});
afterAll(async () => {
  await client?.endAsync();
  await h?.stop();
  await broker?.stop();
});

describe('every hostile e2m message on every EVSE', () => {
  it('leaves every read answering without a 5xx, logs no request failure, and the communication check going', { timeout: 120_000 }, async () => {
    const deck = fuzzDeck();
    const failures: string[] = [];
    for (const [i, message] of deck.entries()) {
      for (const evse of EVSES) await client.publishAsync(`everest_api/1/evse_manager_consumer/${evse.module_id}/e2m/${message.variable}`, message.payload);
      // Read after every few messages, so a state that breaks a read is met before the next one replaces it.
      if (i % 8 !== 7) continue;
      for (const path of READS) {
        const r = await h.call('GET', path);
        if (r.status >= 500) failures.push(`${path} after ${message.variable} ${String(message.payload).slice(0, 60)}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    await sleep(500);
    for (const path of READS) {
      const r = await h.call('GET', path);
      if (r.status >= 500) failures.push(`${path} at the end: ${r.status} ${r.text.slice(0, 200)}`);
    }
    expect(failures.slice(0, 5), `${failures.length} reads failed; logged: ${errors.slice(0, 3).join('\n')}`).toEqual([]);
    expect(errors).toEqual([]);
    const after = performance.now();
    await waitFor(() => checks.some((c) => c > after), { message: 'a communication check after the fuzz' });
  });
});
