// The two subscribers the ingest and round-trip benchmarks compare, plus the frame-counting ceiling.
// Each one is opened and closed per round, so every round starts from the same connection state.
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { EverestClient, type EvseChannel } from '../../src/everest/client.js';
import type { Contract } from '../../src/everest/contract.js';
import { MqttTransport } from '../../src/transport/mqtt-transport.js';
import { BENCH_TOPICS } from './core-messages.js';
import { rawConnect, rawSubscribe } from './core-mqtt-raw.js';

export type IngestKind = 'bare' | 'ours' | 'ceiling';

export interface OpenSubscriber {
  /** The MQTT client id, as Mosquitto names this subscriber in its log. */
  clientId: string;
  /** Messages our pipeline rejected; must stay 0 for a valid message set. */
  invalid(): number;
  close(): Promise<void>;
}

const clientId = (what: string): string => `bench-${what}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;

/** Our pipeline as the module builds it: one MqttTransport, one EverestClient, all EVSEs registered. */
export interface OurStack {
  clientId: string;
  transport: MqttTransport;
  client: EverestClient;
  channels: EvseChannel[];
  close(): Promise<void>;
}

export async function openOurStack(url: string, contract: Contract, moduleIds: readonly string[]): Promise<OurStack> {
  const logger = pino({ level: 'silent' });
  const id = clientId('ours');
  const transport = new MqttTransport({ url, clientId: id, logger, reconnectMinMs: 100, reconnectMaxMs: 500 });
  const client = new EverestClient({ transport, contract, topics: BENCH_TOPICS, logger, requestTimeoutMs: 2000 });
  // Before the connection is up this only records the filters; the transport subscribes them on connect
  // and reports `online` after the SUBACK, so waiting for `online` means every filter is live.
  await client.addEvses(moduleIds);
  await firstValueFrom(transport.status$.pipe(filter((s) => s === 'online'), timeout(10_000)));
  return {
    clientId: id,
    transport,
    client,
    channels: moduleIds.map((id) => client.evse(id)),
    close: async () => {
      client.dispose();
      await transport.close();
    },
  };
}

export async function openBareClient(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: clientId('bare'), reconnectPeriod: 0, keepalive: 30, clean: true });
}

export async function openSubscriber(
  kind: IngestKind,
  url: string,
  contract: Contract,
  moduleIds: readonly string[],
  onMessage: () => void,
): Promise<OpenSubscriber> {
  // The same filters for all three, so Mosquitto does the same matching work whoever listens.
  const filters = moduleIds.map((id) => BENCH_TOPICS.e2mFilter(id));
  if (kind === 'bare') {
    const client = await openBareClient(url);
    client.on('message', onMessage);
    await client.subscribeAsync(filters, { qos: 0 });
    return { clientId: client.options.clientId ?? '', invalid: () => 0, close: () => client.endAsync() };
  }
  if (kind === 'ceiling') {
    const id = clientId('ceiling');
    const conn = await rawConnect(url, id);
    await rawSubscribe(conn, filters, onMessage);
    return { clientId: id, invalid: () => 0, close: () => conn.close() };
  }
  const stack = await openOurStack(url, contract, moduleIds);
  let invalid = 0;
  const subs = [stack.client.invalid$.subscribe(() => (invalid += 1))];
  for (const evse of stack.channels) {
    subs.push(evse.on('powermeter').subscribe(onMessage));
    subs.push(evse.on('session_info').subscribe(onMessage));
  }
  return {
    clientId: stack.clientId,
    invalid: () => invalid,
    close: async () => {
      for (const s of subs) s.unsubscribe();
      await stack.close();
    },
  };
}
