// A heartbeat counter that keeps resetting (issue 13 item 8: 645 get_evse in 37 s) costs the charger
// at most one get_evse per GET_EVSE_MIN_INTERVAL_MS, plus the trailing one.
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GET_EVSE_MIN_INTERVAL_MS } from '../../src/site/evse-reads.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { siteStack, type SiteStack } from '../support/site-stack.js';
import { sleep } from '../support/wait.js';

let broker: TestBroker;
let stack: SiteStack | undefined;

beforeAll(async () => {
  broker = await startBroker({ name: 'heartbeat-reset' });
});
afterAll(async () => {
  await stack?.close();
  await broker?.stop();
});

describe('fake heartbeat resets', () => {
  it('are noticed as restarts but do not turn into a get_evse storm', { timeout: 40_000 }, async () => {
    stack = await siteStack(broker.url);
    const getEvse: number[] = [];
    const watch: Subscription = stack.sim.events$.subscribe((e) => {
      if (e.kind === 'replied' && e.request === 'get_evse' && e.moduleId === 'evse_1') getEvse.push(Date.now());
    });
    const faker = await rawClient(broker.url);
    const restartsBefore = stack.app.module.heartbeat.current('evse_1')?.restarts ?? 0;
    const started = Date.now();
    try {
      // Between the simulator's own beats (counter n, n+1, …) a forged 0 every 50 ms: a reset each time.
      for (let i = 0; i < 60; i++) {
        await faker.publishAsync('everest_api/1/evse_manager_consumer/evse_1/e2m/heartbeat', '0');
        await sleep(50);
      }
    } finally {
      watch.unsubscribe();
      await faker.endAsync();
    }
    const elapsed = Date.now() - started;
    const restarts = (stack.app.module.heartbeat.current('evse_1')?.restarts ?? 0) - restartsBefore;
    expect(restarts).toBeGreaterThan(5);
    // Leading and trailing of each window; the test runs a few seconds, less than two windows.
    const allowed = 2 * Math.ceil(elapsed / GET_EVSE_MIN_INTERVAL_MS);
    expect(getEvse.length).toBeLessThanOrEqual(allowed);
  });
});
