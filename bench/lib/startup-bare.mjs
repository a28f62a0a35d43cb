// The baseline of bench:startup: a bare mqtt.js client that connects and publishes one communication check,
// then (with HOLD_MS) stays connected so its RSS can be read like the module's. Plain JS, no tsx: it must
// start the way the built artifact starts.
import process from 'node:process';
import { setTimeout } from 'node:timers';
import mqtt from 'mqtt';

const [url, topic] = process.argv.slice(2);
const holdMs = Number(process.env.HOLD_MS ?? 0);
const client = mqtt.connect(url, { reconnectPeriod: 0 });
client.on('connect', () => {
  client.publish(topic, 'true', { qos: 0 }, () => {
    setTimeout(() => client.end(), holdMs);
  });
});
client.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
