// Child process of bench:soak: an independent MQTT client that watches the module's communication
// checks on the wire (what EVerest sees) and measures, per EVSE, the gap between consecutive checks.
// Own process, own connection: a stall in the module or in the bench's load generators cannot hide
// or inflate a gap. The bench asks for a phase's figures with { type: 'phase' }.
import mqtt from 'mqtt';

const url = process.env.SOAK_MQTT_URL ?? '';
const topic = process.env.SOAK_CHECK_TOPIC ?? '';
/** EVerest raises CommunicationFault when a check is this late. */
const FAULT_MS = Number(process.env.SOAK_FAULT_MS ?? '5000');

const last = new Map<string, number>();
let gaps: number[] = [];
let checks = 0;

const client = mqtt.connect(url, { clientId: `soak-observer-${process.pid}`, reconnectPeriod: 100 });
client.on('message', (t) => {
  const now = performance.now();
  checks += 1;
  const before = last.get(t);
  if (before !== undefined) gaps.push(now - before);
  last.set(t, now);
});
client.on('connect', () => {
  void client.subscribeAsync(topic, { qos: 0 }).then(() => process.send?.({ type: 'ready' }));
});

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'phase') {
    const sorted = Float64Array.from(gaps).sort();
    process.send?.({
      type: 'phase',
      evses: last.size,
      checks,
      gaps: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? 0,
      faults: sorted.filter((g) => g > FAULT_MS).length,
    });
    gaps = [];
    checks = 0;
  } else if (msg.type === 'stop') {
    void client.endAsync(true).then(() => process.exit(0));
  }
});
