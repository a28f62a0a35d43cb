// Child process: stands in for EVerest in the round-trip benchmark. It answers every request envelope
// with `true` on its replyTo, exactly like evse_manager_consumer_API does for pause_charging. The bare
// echo baseline sends the same envelope to another topic, so the responder's work is identical for
// both and the difference is what our client adds.
import mqtt from 'mqtt';
import { BARE_REQUEST_TOPIC, BENCH_TOPICS } from './core-messages.js';
import { isCommand, report } from './core-ipc.js';

function replyToOf(payload: Buffer): string | undefined {
  const data: unknown = JSON.parse(payload.toString('utf8'));
  if (typeof data !== 'object' || data === null || !('headers' in data)) return undefined;
  const headers = data.headers;
  if (typeof headers !== 'object' || headers === null || !('replyTo' in headers)) return undefined;
  return typeof headers.replyTo === 'string' ? headers.replyTo : undefined;
}

async function main(): Promise<void> {
  const client = await mqtt.connectAsync(process.env.BENCH_MQTT_URL ?? '', {
    clientId: `bench-responder-${process.pid}`,
    reconnectPeriod: 0,
    keepalive: 60,
  });
  client.on('message', (_topic, payload) => {
    const replyTo = replyToOf(payload);
    if (replyTo !== undefined) client.publish(replyTo, 'true', { qos: 0 });
  });
  await client.subscribeAsync([`${BENCH_TOPICS.base}/+/m2e/+`, BARE_REQUEST_TOPIC], { qos: 0 });
  process.on('message', (msg: unknown) => {
    if (isCommand(msg) && msg.type === 'stop') void client.endAsync().then(() => process.exit(0));
  });
  await report({ type: 'ready' });
}

main().catch(async (err: unknown) => {
  await report({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
