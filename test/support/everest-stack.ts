import mqtt, { type MqttClient } from 'mqtt';
import type { EverestRelease } from '../../src/everest/release.js';
import { pino, type Logger } from 'pino';
import { EverestClient } from '../../src/everest/client.js';
import { loadContract, type Contract } from '../../src/everest/contract.js';
import { CountingEverestMetrics } from '../../src/everest/metrics.js';
import { EverestTopics } from '../../src/everest/topics.js';
import { MqttTransport } from '../../src/transport/mqtt-transport.js';

let contractPromise: Promise<Contract> | undefined;

/** The contract of this build (generated validators), shared by the stacks of a test file. */
export function sharedContract(): Promise<Contract> {
  contractPromise ??= Promise.resolve(loadContract());
  return contractPromise;
}

export function quietLogger(): Logger {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

export interface ClientStack {
  transport: MqttTransport;
  client: EverestClient;
  topics: EverestTopics;
  metrics: CountingEverestMetrics;
  contract: Contract;
  close(): Promise<void>;
}

export async function clientStack(
  url: string,
  moduleIds: string[],
  opts: { requestTimeoutMs?: number; reconnectMaxMs?: number; statusTopic?: string; protocolVersion?: 4 | 5; prefix?: string; apiVersion?: string; release?: EverestRelease } = {},
): Promise<ClientStack> {
  const contract = await sharedContract();
  const logger = quietLogger();
  const topics = new EverestTopics({ prefix: opts.prefix ?? '', apiVersion: opts.apiVersion ?? '1' });
  const metrics = new CountingEverestMetrics();
  const transport = new MqttTransport({
    url,
    clientId: `test-${Math.random().toString(16).slice(2)}`,
    logger,
    reconnectMinMs: 100,
    reconnectMaxMs: opts.reconnectMaxMs ?? 500,
    ...(opts.protocolVersion ? { protocolVersion: opts.protocolVersion } : {}),
    ...(opts.statusTopic ? { statusTopic: opts.statusTopic } : {}),
  });
  const client = new EverestClient({ transport, contract, topics, logger, requestTimeoutMs: opts.requestTimeoutMs ?? 2000, metrics, ...(opts.release ? { release: opts.release } : {}) });
  await client.addEvses(moduleIds);
  return {
    transport,
    client,
    topics,
    metrics,
    contract,
    close: async () => {
      client.dispose();
      await transport.close();
    },
  };
}

/** A raw mqtt.js client, the way a person with mosquitto_pub/sub would poke the broker. */
export async function rawClient(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: `raw-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 100 });
}
