// The reaction benchmark's view of the wire: a raw mqtt.js watcher that timestamps every EVerest command
// the module sends, plus the bare round trips it is compared with. All clients live in the benchmark's own
// process, so every timestamp comes from the same performance.now() clock.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';

export const COMMAND_FILTER = 'everest_api/1/evse_manager_consumer/+/m2e/#';
/** What counts as a command; communication_check and get_evse also travel on m2e but decide nothing. */
export const COMMAND_NAMES: ReadonlySet<string> = new Set(['pause_charging', 'resume_charging', 'enable_disable']);

export interface WireCommand {
  /** performance.now() as the watcher's `message` event fired. */
  at: number;
  moduleId: string;
  name: string;
}

export interface Wire {
  readonly commands: readonly WireCommand[];
  /** The command at index `from` of `commands`, as soon as it has arrived. */
  nextCommand(from: number, timeoutMs: number): Promise<WireCommand>;
  /** Publishes on the ops client; returns performance.now() taken just before the publish call. */
  publish(topic: string, payload: string): number;
  /** One broker hop: publisher -> Mosquitto -> subscriber. Milliseconds. */
  ping(timeoutMs?: number): Promise<number>;
  /** Two broker hops with an mqtt.js client in between, the shape of the module's own path. Milliseconds. */
  relayPing(timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

interface Waiter {
  from: number;
  resolve: (c: WireCommand) => void;
  timer: NodeJS.Timeout;
}

async function connect(url: string, role: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: `react-bench-${role}-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0, clean: true });
}

export async function openWire(url: string): Promise<Wire> {
  const base = `bench/react/${randomUUID().slice(0, 8)}`;
  const pingTopic = `${base}/ping`;
  const relayIn = `${base}/relay/in`;
  const relayOut = `${base}/relay/out`;
  // Baseline traffic has clients of its own: with Nagle's algorithm on (mqtt.js and Mosquitto leave it on),
  // a ping still unacknowledged on the watcher's or the trigger client's connection could hold back the
  // next command or trigger behind it, and the benchmark would be measuring itself.
  const [watcher, ops, pinger, echo, relay] = await Promise.all(
    ['watcher', 'ops', 'pinger', 'echo', 'relay'].map((role) => connect(url, role)),
  ) as [MqttClient, MqttClient, MqttClient, MqttClient, MqttClient];

  const commands: WireCommand[] = [];
  const waiters = new Set<Waiter>();
  const pongs = new Map<string, (at: number) => void>();

  watcher.on('message', (topic: string) => {
    // First thing in the handler: anything done before it would be billed to the module.
    const at = performance.now();
    const parts = topic.split('/');
    const name = parts[5];
    if (parts[4] !== 'm2e' || name === undefined || !COMMAND_NAMES.has(name)) return;
    commands.push({ at, moduleId: parts[3] ?? '', name });
    for (const w of waiters) {
      if (w.from < commands.length) {
        clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve(commands[w.from]!);
      }
    }
  });
  echo.on('message', (_topic: string, payload: Buffer) => {
    const at = performance.now();
    pongs.get(payload.toString('utf8'))?.(at);
  });
  relay.on('message', (_topic: string, payload: Buffer) => {
    relay.publish(relayOut, payload, { qos: 0 });
  });
  await Promise.all([
    watcher.subscribeAsync(COMMAND_FILTER, { qos: 0 }),
    echo.subscribeAsync([pingTopic, relayOut], { qos: 0 }),
    relay.subscribeAsync(relayIn, { qos: 0 }),
  ]);

  let seq = 0;
  const roundTrip = (topic: string, timeoutMs: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const id = String(++seq);
      const timer = setTimeout(() => {
        pongs.delete(id);
        reject(new Error(`no echo on ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      let t0 = 0;
      pongs.set(id, (at) => {
        clearTimeout(timer);
        pongs.delete(id);
        resolve(at - t0);
      });
      t0 = performance.now();
      pinger.publish(topic, id, { qos: 0 });
    });

  return {
    commands,
    nextCommand(from, timeoutMs) {
      if (from < commands.length) return Promise.resolve(commands[from]!);
      return new Promise<WireCommand>((resolve, reject) => {
        const waiter: Waiter = {
          from,
          resolve,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no command on the wire within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    publish(topic, payload) {
      const t0 = performance.now();
      ops.publish(topic, payload, { qos: 0 });
      return t0;
    },
    ping: (timeoutMs = 2000) => roundTrip(pingTopic, timeoutMs),
    relayPing: (timeoutMs = 2000) => roundTrip(relayIn, timeoutMs),
    async close() {
      for (const w of waiters) clearTimeout(w.timer);
      waiters.clear();
      await Promise.all([watcher, ops, pinger, echo, relay].map((c) => c.endAsync()));
    },
  };
}
