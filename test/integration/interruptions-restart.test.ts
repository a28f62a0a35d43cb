// The interruption count survives a restart of the module: a car we held once and gave power back to
// keeps its minimum against a later priority car (scheduler.protect_after_interruptions, default 1)
// whether or not evse-priority restarted in between; a new session on that EVSE starts from 0. The
// module (startApp) and the simulator with a limits module above each EVSE, over a real Mosquitto.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InterruptionRecord } from '../../src/priorities/interruptions.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { sharingStack, type SharingStack } from '../support/sharing-stack.js';
import { arrive } from '../support/site-stack.js';
import { sleep, waitFor } from '../support/wait.js';

/** One 11 kW car fits; a priority car beside a protected one gets what is left above its minimum. */
const BUDGET_W = 11_000;
const PRIORITY = 5;

describe('the interruption count across a restart of the module (simulator with limits modules, real Mosquitto)', () => {
  let broker: TestBroker;
  let s: SharingStack | undefined;
  beforeAll(async () => {
    broker = await startBroker({ name: 'interruptions-restart' });
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const decision = (site: SharingStack, id: string) => site.app.service.evse(id)?.decision ?? null;
  const show = (site: SharingStack) =>
    ['evse_1', 'evse_2'].map((id) => `${id}: ${site.limitA(id)} A, ${site.drawW(id)} W, ${decision(site, id)?.reason_code ?? 'no decision'}`).join('; ');
  const stored = (site: SharingStack): InterruptionRecord[] => (JSON.parse(readFileSync(site.app.module.store.file, 'utf8')) as { interruptions?: InterruptionRecord[] }).interruptions ?? [];

  /** The site with evse_1 charging alone, and a persistent priority for the car that comes to evse_2. */
  async function start(): Promise<SharingStack> {
    const site = await sharingStack(broker.url, ['evse_1', 'evse_2'], BUDGET_W, { scheduler: { min_on_time_s: 2, min_off_time_s: 1, reservation_timeout_s: 3 } });
    s = site;
    await site.app.service.setPriority({ by: 'module', module_id: 'evse_2', connector_id: 1 }, PRIORITY, 'persistent', 'test');
    arrive(site.sim, 'evse_1');
    await waitFor(() => site.drawW('evse_1') > 10_000, { timeoutMs: 20_000, message: () => `evse_1 alone at full current: ${show(site)}` });
    return site;
  }

  /** The priority car arrives; evse_1 is held for it (its first interruption this session), then it leaves and evse_1 gets its power back. */
  async function bounceOnce(site: SharingStack): Promise<void> {
    arrive(site.sim, 'evse_2');
    await waitFor(() => site.limitA('evse_1') < 6 && site.drawW('evse_1') === 0 && site.drawW('evse_2') > 10_000, { timeoutMs: 20_000, message: () => `evse_1 held for the priority car: ${show(site)}` });
    expect(site.app.module.site.enforcer.hold('evse_1')).toMatchObject({ pausedByUs: true, interruptions: 1 });
    site.sim.apply({ module_id: 'evse_2', action: 'unplug' });
    await waitFor(() => site.limitA('evse_1') > 15 && site.drawW('evse_1') > 10_000, { timeoutMs: 20_000, message: () => `evse_1 has its power back: ${show(site)}` });
  }

  /** The priority car arrives again: evse_1 keeps its minimum (protected), the priority car gets the rest. */
  async function expectProtected(site: SharingStack): Promise<void> {
    arrive(site.sim, 'evse_2');
    await waitFor(() => site.drawW('evse_2') > 5_000 && decision(site, 'evse_1')?.reason_code === 'protected', { timeoutMs: 20_000, message: () => `evse_1 protected beside the priority car: ${show(site)}` });
    expect(decision(site, 'evse_1')).toMatchObject({ current_a: 6, reason_code: 'protected' });
    expect(decision(site, 'evse_1')?.reason).toMatch(/held once already this session, it keeps its minimum against higher priorities/);
    // It stays so, and the car keeps drawing at its minimum: not held at 0 A for a moment.
    await sleep(2_000);
    expect(site.limitA('evse_1')).toBe(6);
    expect(site.drawW('evse_1')).toBeGreaterThan(3_500);
    expect(decision(site, 'evse_2')?.current_a).toBeCloseTo(9.9, 1);
  }

  it('held once and resumed, then the module restarts: a later priority car finds it protected at its minimum, as without the restart', { timeout: 120_000 }, async () => {
    const site = await start();
    await bounceOnce(site);
    // Without a restart: protected.
    await expectProtected(site);
    site.sim.apply({ module_id: 'evse_2', action: 'unplug' });
    await waitFor(() => site.limitA('evse_1') > 15, { timeoutMs: 20_000, message: () => `evse_1 has its power back: ${show(site)}` });
    expect(stored(site)).toEqual([expect.objectContaining({ module_id: 'evse_1', interruptions: 1, provisional_yields: 0 })]);

    await site.restartApp();
    await waitFor(() => decision(site, 'evse_1') !== null, { timeoutMs: 20_000, message: () => `evse_1 planned after the restart: ${show(site)}` });
    await expectProtected(site);
    expect(site.app.module.site.enforcer.hold('evse_1').interruptions).toBe(1);

    // That session ends: its count goes with it, on disk too.
    site.sim.apply({ module_id: 'evse_2', action: 'unplug' });
    site.sim.apply({ module_id: 'evse_1', action: 'unplug' });
    await waitFor(() => stored(site).length === 0, { timeoutMs: 10_000, message: () => `count dropped at the session's end: ${JSON.stringify(stored(site))}` });
  });

  it('a new car on that EVSE while the module was down starts from 0: held for the priority car, not protected', { timeout: 120_000 }, async () => {
    const site = await start();
    // Charged long enough that the count records clearly more energy than a fresh session has at the restart.
    await sleep(15_000);
    await bounceOnce(site);
    const [count] = stored(site);
    expect(count).toMatchObject({ module_id: 'evse_1', interruptions: 1 });
    expect(count!.energy_wh).toBeGreaterThan(40);

    await site.restartApp(() => {
      site.sim.apply({ module_id: 'evse_1', action: 'unplug' });
      arrive(site.sim, 'evse_1');
    });
    // The new session is learned from session_info only (its events went out while we were away).
    await waitFor(() => site.app.module.site.view('evse_1')?.session !== undefined && stored(site).length === 0, {
      timeoutMs: 20_000,
      message: () => `the old count dropped against the new session: ${JSON.stringify(stored(site))}; ${JSON.stringify(site.app.module.site.view('evse_1')?.session)}`,
    });
    expect(site.app.module.site.enforcer.hold('evse_1').interruptions).toBeUndefined();
    await waitFor(() => site.drawW('evse_1') > 10_000, { timeoutMs: 20_000, message: () => `the new car charges: ${show(site)}` });
    await sleep(2_500); // past its min on-time
    arrive(site.sim, 'evse_2');
    await waitFor(() => site.limitA('evse_1') < 6 && site.drawW('evse_2') > 10_000, { timeoutMs: 20_000, message: () => `the new session held for the priority car: ${show(site)}` });
    expect(decision(site, 'evse_1')?.reason_code).not.toBe('protected');
    expect(decision(site, 'evse_1')?.current_a).toBe(0);
  });
});
