/**
 * vitest globalSetup: decide once, up front, which real-broker strategy the integration tests will use and say so.
 * Runs in the main vitest process; it starts nothing (each test file starts its own broker via startBroker()).
 */
import { probeStrategy } from './broker.js';

export default async function setup(): Promise<void> {
  const started = Date.now();
  const probe = await probeStrategy();
  const ms = Date.now() - started;
  if (probe.strategy !== null) {
    console.log(`[broker] strategy=${probe.strategy} (${probe.detail})${ms > 500 ? ` [probe ${ms} ms]` : ''}`);
    return;
  }
  const report = [
    '[broker] strategy=NONE: no real MQTT broker is available for integration tests.',
    ...probe.failures.map((f) => `[broker]   - ${f}`),
    '[broker] Install mosquitto (apt-get install -y mosquitto), make a container runtime reachable, or set MQTT_TEST_URL.',
  ].join('\n');
  if (process.env.CI) {
    // CI must prove behaviour against a real broker; refuse to run rather than let integration tests limp along.
    throw new Error(report);
  }
  console.warn(report);
}
