// Child process: the EVerest side of the ingest benchmark. Every burst is pre-encoded and written as
// one buffer on a raw socket, so the publisher costs nearly no CPU and Mosquitto queues whatever the
// subscriber has not read yet: the subscriber, not the publisher, sets the pace.
import { benchModuleIds, ingestMessages } from './core-messages.js';
import { isCommand, report } from './core-ipc.js';
import { publishPacket, rawConnect } from './core-mqtt-raw.js';

const url = process.env.BENCH_MQTT_URL ?? '';
const evses = Number(process.env.BENCH_EVSES ?? '100');

async function main(): Promise<void> {
  const packets = ingestMessages(benchModuleIds(evses)).map((m) => publishPacket(m.topic, m.payload));
  const bursts = new Map<number, Buffer>();
  const burstOf = (count: number): Buffer => {
    let buf = bursts.get(count);
    if (!buf) {
      buf = Buffer.concat(Array.from({ length: count }, (_, i) => packets[i % packets.length] ?? Buffer.alloc(0)));
      bursts.set(count, buf);
    }
    return buf;
  };
  const conn = await rawConnect(url, `bench-publisher-${process.pid}`);
  conn.socket.once('close', () => process.exit(0));
  process.on('message', (msg: unknown) => {
    if (!isCommand(msg)) return;
    if (msg.type === 'stop') {
      void conn.close().then(() => process.exit(0));
      return;
    }
    const buf = burstOf(msg.count);
    const t0 = performance.now();
    conn.socket.write(buf, (err) => {
      if (err) void report({ type: 'error', message: `burst write failed: ${err.message}` });
      else void report({ type: 'sent', count: msg.count, writeMs: performance.now() - t0 });
    });
  });
  await report({ type: 'ready' });
}

main().catch(async (err: unknown) => {
  await report({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
