// Shows where the core benchmark's "lost" ingest messages go (bench/README.md): a subscriber that stops
// reading while a burst arrives makes Mosquitto drop QoS 0 messages for it once more than
// max_queued_messages (1000) are queued. Run: `npx tsx bench/qos0-drop.ts [messages] [pause_ms]`.
import mqtt from 'mqtt';
import { startBroker } from '../test/support/broker.js';
import { BENCH_TOPICS, benchModuleIds, ingestMessages } from './lib/core-messages.js';
import { publishPacket, rawConnect, rawSubscribe } from './lib/core-mqtt-raw.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const count = Number(process.argv[2] ?? '150000');
const pauseMs = Number(process.argv[3] ?? '6000');
const broker = await startBroker({ name: 'qos0-drop' });
try {
  // $SYS is published every 10 s (Mosquitto's default sys_interval); the counter is cumulative.
  const sys = await mqtt.connectAsync(broker.url);
  let dropped = 0;
  sys.on('message', (_topic, payload) => (dropped = Number(payload.toString())));
  await sys.subscribeAsync('$SYS/broker/publish/messages/dropped');
  const ids = benchModuleIds(100);
  const packets = ingestMessages(ids).map((m) => publishPacket(m.topic, m.payload));
  const sub = await rawConnect(broker.url, 'qos0-drop-subscriber');
  let received = 0;
  await rawSubscribe(sub, ids.map((id) => BENCH_TOPICS.e2mFilter(id)), () => (received += 1));
  const pub = await rawConnect(broker.url, 'qos0-drop-publisher');
  sub.socket.pause();
  pub.socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => packets[i % packets.length] ?? Buffer.alloc(0))));
  await sleep(pauseMs);
  sub.socket.resume();
  // Until nothing has arrived for 5 s: what is missing then never comes.
  let seen = -1;
  let changedAt = Date.now();
  while (Date.now() - changedAt < 5000) {
    await sleep(50);
    if (received !== seen) {
      seen = received;
      changedAt = Date.now();
    }
  }
  await sleep(11_000);
  const notice = (await broker.readLog()).includes('Outgoing messages are being dropped for client qos0-drop-subscriber');
  process.stdout.write(
    `published ${count} QoS 0 messages while the subscriber did not read for ${pauseMs} ms\n` +
      `received ${received}, missing ${count - received}; broker counted ${dropped} dropped; drop notice for the subscriber in the broker log: ${notice}\n`,
  );
  await sub.close();
  await pub.close();
  await sys.endAsync();
} finally {
  await broker.stop();
}
