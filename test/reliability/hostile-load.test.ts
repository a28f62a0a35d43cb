// The quadratic-message case (issue 13 item 3): 8 parallel 60 KB bodies with 8 557 unknown fields
// once took ~2 s each to answer, 300 KB answers, and a 5.2 s gap in the communication check. Measured
// here against a baseline burst of 8 small valid requests in the same run: ratios and margins, not a
// fixed time, so a busy 2-core machine does not make it flake.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type ApiResponse, type Harness } from '../support/api-harness.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'hostile-token-0123456789';
const PARALLEL = 8;

let broker: TestBroker;
let h: Harness;
let watcher: MqttClient;
const checks: number[] = [];

beforeAll(async () => {
  broker = await startBroker({ name: 'hostile-load' });
  h = await startHarness(broker, { tokens: [TOKEN], bodyLimitBytes: 131_072 });
  watcher = mqtt.connect(broker.url, { reconnectPeriod: 50 });
  watcher.on('message', () => checks.push(performance.now()));
  await watcher.subscribeAsync('everest_api/1/evse_manager_consumer/evse_1/m2e/communication_check');
  await waitFor(() => checks.length >= 2, { message: 'communication checks flowing' });
});
afterAll(async () => {
  await watcher?.endAsync(true);
  await h?.stop();
  await broker?.stop();
});

/** Runs `PARALLEL` requests at once; answer times, and the largest communication-check gap around them. */
async function burst(send: () => Promise<ApiResponse>) {
  const start = performance.now();
  const times: number[] = [];
  const answers = await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      const t = performance.now();
      const r = await send();
      times.push(performance.now() - t);
      return r;
    }),
  );
  const end = performance.now();
  // Wait for the check after the burst, so a stall at its end is counted.
  await waitFor(() => checks.some((c) => c > end), { message: 'a communication check after the burst' });
  const around = checks.filter((c) => c >= start - 2000);
  const gaps = around.slice(1).map((c, i) => c - (around[i] ?? c));
  times.sort((a, b) => a - b);
  return { answers, p50: times[Math.floor(times.length / 2)] ?? 0, max: times.at(-1) ?? 0, gap: Math.max(...gaps) };
}

describe('8 parallel requests with 8 557 unknown fields each', () => {
  it('are refused in a few hundred bytes, about as fast as small valid requests, without stalling the communication check', { timeout: 60_000 }, async () => {
    const wide = `{${Array.from({ length: 8_557 }, (_, i) => `"f${i}":1`).join(',')}}`;
    expect(wide.length).toBeGreaterThan(60_000);
    const baseline = await burst(() => h.call('PUT', '/v1/site', { json: { max_power_w: 22_000 } }));
    const hostile = await burst(() => h.call('PUT', '/v1/priorities', { raw: wide }));
    console.log(
      `[hostile load] baseline p50/max ${baseline.p50.toFixed(1)}/${baseline.max.toFixed(1)} ms, gap ${baseline.gap.toFixed(0)} ms; ` +
        `hostile p50/max ${hostile.p50.toFixed(1)}/${hostile.max.toFixed(1)} ms, gap ${hostile.gap.toFixed(0)} ms; ` +
        `answer ${hostile.answers[0]?.text.length ?? 0} bytes`,
    );
    for (const r of baseline.answers) expect(r.status).toBe(200);
    for (const r of hostile.answers) {
      expect(r.status).toBe(400);
      expect(r.text.length).toBeLessThan(1000);
      expect(r.body).toMatchObject({ status_code: 2001, status_message: expect.stringContaining('more than 256 members') });
    }
    // Before the fix each of these took ~2 s; the margin absorbs scheduling noise on a loaded machine.
    expect(hostile.p50).toBeLessThan(baseline.p50 * 10 + 200);
    // No stall beyond what the baseline burst itself caused, plus one check interval.
    expect(hostile.gap).toBeLessThan(Math.max(baseline.gap, h.config.everest.communication_check_interval_ms) + 1000);
  });

  it('just inside the member limit (255 unknown 240-character fields, 64 KB) they reach validation and still get a short answer, fast, with no stall', { timeout: 60_000 }, async () => {
    // The structural limit above refuses before validation; this body passes it, so the validator and the
    // message builder (linear, capped at MAX_PROBLEMS sentences) do all the work.
    const atLimit = `{${Array.from({ length: 255 }, (_, i) => `"${`f${i}_`.padEnd(240, 'x')}":1`).join(',')}}`;
    expect(atLimit.length).toBeGreaterThan(60_000);
    const baseline = await burst(() => h.call('PUT', '/v1/site', { json: { max_power_w: 22_000 } }));
    const hostile = await burst(() => h.call('PUT', '/v1/site', { raw: atLimit }));
    console.log(`[hostile load, at the member limit] baseline p50 ${baseline.p50.toFixed(1)} ms, gap ${baseline.gap.toFixed(0)} ms; hostile p50 ${hostile.p50.toFixed(1)} ms, gap ${hostile.gap.toFixed(0)} ms`);
    for (const r of hostile.answers) {
      expect(r.status).toBe(400);
      // Ten fields named (each 240 characters) and the rest counted: bounded, not 255 sentences.
      expect(r.text.length).toBeLessThan(4_000);
      expect(r.body).toMatchObject({ status_code: 2001, status_message: expect.stringMatching(/and \d+ more problems$/) });
    }
    expect(hostile.p50).toBeLessThan(baseline.p50 * 10 + 200);
    expect(hostile.gap).toBeLessThan(Math.max(baseline.gap, h.config.everest.communication_check_interval_ms) + 1000);
  });
});
