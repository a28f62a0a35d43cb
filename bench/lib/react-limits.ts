// Reaction under current control: trigger (a budget change on our MQTT API) -> the first
// set_external_limits on the wire, for two cars sharing a site through their limits modules. The budget
// alternates between two values whose shares differ by more than 1 A, so every trial calls for new limits:
// a drop (a decrease, sent at once) and a raise (an increase, sent at most once a second per EVSE: trials
// are spaced further apart than that, so the rate limit never holds one back).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { sharingStack } from '../../test/support/sharing-stack.js';
import { sleep, waitFor } from '../../test/support/wait.js';

export const LIMITS_FILTER = 'everest_api/1/external_energy_limits_consumer/+/m2e/set_external_limits';
const MODULES = ['evse_1', 'evse_2'];
/** 16 kW: 11.5 A each; 9 kW: 6.5 A each. */
const BUDGETS_W = [9_000, 16_000] as const;

export interface LimitTrial {
  kind: 'drop' | 'raise';
  totalMs: number;
}

export async function measureLimitReaction(url: string, trials: number, settleMs: number): Promise<LimitTrial[]> {
  // Refresh far apart, so no refresh lands inside a trial and counts as its reaction.
  const stack = await sharingStack(url, MODULES, BUDGETS_W[1], { limits: { failsafe_s: 600, refresh_s: 300 } });
  const [watcher, ops] = await Promise.all(
    ['watcher', 'ops'].map((role) => mqtt.connectAsync(url, { clientId: `react-limits-${role}-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0 })),
  );
  const seen: number[] = [];
  watcher!.on('message', () => seen.push(performance.now()));
  await watcher!.subscribeAsync(LIMITS_FILTER, { qos: 0 });
  const results: LimitTrial[] = [];
  try {
    for (const id of MODULES) {
      stack.sim.apply({ module_id: id, action: 'plug_in', max_power_w: 11_000 });
      stack.sim.apply({ module_id: id, action: 'authorize', id_tag: `TAG-${id}` });
    }
    await waitFor(() => MODULES.every((id) => stack.limitA(id) === 11.5), { timeoutMs: 20_000, message: 'both cars sharing 16 kW' });
    const topic = `${stack.app.module.config.namespace}/request/site/set`;
    for (let i = 0; i < trials; i++) {
      const budget = BUDGETS_W[i % 2]!;
      await sleep(settleMs + Math.random() * 100);
      const from = seen.length;
      const t0 = performance.now();
      ops!.publish(topic, JSON.stringify({ max_power_w: budget }), { qos: 0 });
      await waitFor(() => seen.length > from, { timeoutMs: 3_000, intervalMs: 1, message: `no limit on the wire after the budget went to ${budget} W` });
      results.push({ kind: budget === BUDGETS_W[0] ? 'drop' : 'raise', totalMs: seen[from]! - t0 });
      const share = Math.floor((budget / (MODULES.length * 690)) * 10) / 10;
      await waitFor(() => MODULES.every((id) => stack.limitA(id) === share), { timeoutMs: 3_000, message: `limits ${share} A in force` });
    }
  } finally {
    await Promise.all([watcher!.endAsync(), ops!.endAsync()]);
    await stack.close();
  }
  return results;
}
