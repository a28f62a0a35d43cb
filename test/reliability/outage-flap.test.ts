// No flap after a broker outage (docs/holds.md, "Limits"): the broker dies while a car is held for a
// priority car; when it returns the EVSEs' heartbeats come back one by one, the priority car's last. The
// held car must stay held throughout: an EVSE we cannot hear may still draw what it drew (on/off) or
// what its limit in force lets it (current control), so its power is not handed on.
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalLimits } from '../../src/everest/external-limits.js';
import type { SimEvent } from '../../src/sim/simulator.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/everest-stack.js';
import { sharingStack, type SharingStack } from '../support/sharing-stack.js';
import { arrive, siteStack, type SiteStack } from '../support/site-stack.js';
import { collect, sleep, waitFor, type Collector } from '../support/wait.js';

const HELD = 'evse_1';
const PRIO = 'evse_2';
/**
 * The priority car's EVSE is heard this long after the module has decided on the held car, heard again
 * once the broker is back: longer than the module's grace after its reconnect (heartbeat_timeout_ms,
 * 1.5 s here) where the priority car may draw unheard, so only the reservation of its power keeps the
 * held car held; shorter where it was held by us too, which only the grace covers (after it an EVSE
 * still unheard is taken as gone). Counted from that decision, not from the restart: when the
 * simulator reconnects is not ours to time, and a lateness counted before it could end after the grace.
 */
const LATE_S = { reserved: 4, grace: 1 };
/**
 * everest.heartbeat_timeout_ms, and so the grace, where the priority car is heard within it: the
 * product default, so "1 s after the module's decision" stays inside it wherever the simulator's
 * reconnect and heartbeat fall (fast config: 1.5 s).
 */
const GRACE_CASE_HEARTBEAT_TIMEOUT_MS = 3_000;

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ name: 'outage-flap' });
});
afterAll(async () => {
  await broker?.stop();
});

describe.skipIf(process.env.MQTT_TEST_URL !== undefined)('no flap after a broker outage (skipped with MQTT_TEST_URL: the test kills its broker)', () => {
  let watcher: MqttClient | undefined;
  let wire: Collector | undefined;
  let stack: { close(): Promise<void> } | undefined;
  /** Decisions and liveness changes, for the failure message. */
  const trail: string[] = [];
  afterEach(async () => {
    trail.length = 0;
    await wire?.stop();
    await watcher?.endAsync(true);
    await stack?.close();
    stack = undefined;
  });

  /**
   * Until the module sees the held car drawing and its own min on-time for it has run out (counted from
   * EvseView.lastOnMs, as the scheduler does). A fixed sleep from the simulator's Charging fell short on
   * a loaded machine: the module saw Charging later, held the priority car for the rest of the min
   * on-time, and the "drawing unheard" case became one where the priority car draws nothing unheard.
   */
  async function pastMinOnTime(s: SiteStack | SharingStack): Promise<void> {
    const minOnMs = s.app.module.config.scheduler.min_on_time_s * 1000;
    await waitFor(
      () => {
        const v = s.app.module.site.view(HELD);
        return v?.lastOnMs !== undefined && v.powerW > 8_000 && Date.now() >= v.lastOnMs + minOnMs;
      },
      { timeoutMs: 15_000, message: "the held car drawing, the module's min on-time for it over" },
    );
  }

  /**
   * Kills the broker the moment `when` sees the hand-over reach the simulator (the held car's pause or
   * hold, before the priority car's draw has shown), restarts it once the module takes every EVSE as
   * stale, with the priority car's EVSE silent until `lateS` after the module has decided on the held
   * car once heard (its heartbeat is seen last), and samples the held car's draw in the simulator until
   * the priority EVSE is heard again and a few seconds more. Returns the highest draw of the held car
   * after the outage, W.
   */
  async function outageDuringHandOver(
    s: SiteStack | SharingStack,
    drawW: (id: string) => number,
    when: (e: SimEvent) => boolean,
    handOver: () => Promise<void>,
    lateS: number = LATE_S.reserved,
  ): Promise<number> {
    const online = (id: string) => s.app.module.heartbeat.isCommandable(id);
    s.app.module.site.events$.subscribe((e) => {
      if (e.type === 'decision' || e.type === 'liveness' || e.type === 'session_state') {
        const v = s.app.module.site.view(e.module_id);
        trail.push(`${e.at} ${e.module_id} ${e.type === 'decision' ? `${e.decision} ${e.reason}` : e.type === 'liveness' ? e.status : `${e.previous}->${e.state}`} [view ${v?.state} ${v?.powerW} W]`);
      }
    });
    let killed: Promise<void> | undefined;
    const sub = s.sim.events$.subscribe((e) => {
      if (!killed && when(e)) killed = broker.kill();
    });
    try {
      await handOver();
      await waitFor(() => killed !== undefined, { timeoutMs: 20_000, message: 'hand-over reached the simulator' });
    } finally {
      sub.unsubscribe();
    }
    await killed;
    // The outage lasts until the module has taken every EVSE as stale (everest.heartbeat_timeout_ms).
    await waitFor(() => [HELD, PRIO].every((id) => s.app.module.heartbeat.current(id)?.status === 'stale'), { timeoutMs: 10_000, message: 'every EVSE stale' });
    // Silent until the module has decided on the held car once heard; then for lateS more.
    s.sim.apply({ module_id: PRIO, action: 'go_silent', duration_s: 3_600 });
    await broker.restart();
    let maxHeldW = 0;
    const sampler = setInterval(() => {
      maxHeldW = Math.max(maxHeldW, drawW(HELD));
    }, 100);
    try {
      await waitFor(() => online(HELD), { timeoutMs: 10_000, message: 'held EVSE heard again' });
      // The module has decided on the held car with the priority car still unheard: the case under test.
      await waitFor(
        () => {
          const d = s.app.module.site.decisionFor(HELD);
          return d !== undefined && d.reasonCode !== 'offline';
        },
        { timeoutMs: 10_000, message: 'a decision on the held car once heard' },
      );
      s.sim.apply({ module_id: PRIO, action: 'go_silent', duration_s: lateS });
      await waitFor(() => online(PRIO), { timeoutMs: 20_000, message: 'priority EVSE heard again' });
      await sleep(3_000);
    } finally {
      clearInterval(sampler);
    }
    return maxHeldW;
  }

  it.each([
    ['started by itself, drawing unheard', true, LATE_S.reserved, undefined],
    ["held by us too (it arrived in the other car's min on-time), heard within the grace", false, LATE_S.grace, GRACE_CASE_HEARTBEAT_TIMEOUT_MS],
  ])('on/off: the paused car is not resumed while the priority car (%s) is not heard yet', { timeout: 90_000 }, async (_case, afterMinOnTime, lateS, heartbeatTimeoutMs) => {
    watcher = await rawClient(broker.url);
    wire = await collect(watcher, 'everest_api/1/evse_manager_consumer/+/m2e/+');
    const s = await siteStack(broker.url, {
      site: { max_power_w: 12_000, nominal_voltage_v: 230 },
      ...(heartbeatTimeoutMs !== undefined ? { everest: { heartbeat_timeout_ms: heartbeatTimeoutMs } } : {}),
    });
    stack = s;
    const state = (id: string) => s.sim.evse(id).snapshot().state;
    const drawW = (id: string) => Math.round(s.sim.evse(id).snapshot().powerW);
    arrive(s.sim, HELD);
    await waitFor(() => state(HELD) === 'Charging', { timeoutMs: 15_000, message: 'held car charging' });
    if (afterMinOnTime) await pastMinOnTime(s);
    const maxHeldW = await outageDuringHandOver(
      s,
      drawW,
      (e) => e.kind === 'replied' && e.moduleId === HELD && e.request === 'pause_charging',
      async () => {
        await s.app.module.store.upsert({ module_id: PRIO, connector_id: 1, priority: 5, scope: 'persistent', set_by: 'test' });
        arrive(s.sim, PRIO);
      },
      lateS,
    );
    const resumes = wire.messages.filter((m) => m.topic.endsWith(`/${HELD}/m2e/resume_charging`)).length;
    expect({ resumes, maxHeldW, held: state(HELD) }, trail.join('\n')).toEqual({ resumes: 0, maxHeldW: 0, held: 'ChargingPausedEVSE' });
    await waitFor(() => drawW(PRIO) > 10_000, { timeoutMs: 10_000, message: 'priority car charging' });
  });

  it('current control: the car held by its limit gets no current while the priority car is not heard yet', { timeout: 90_000 }, async () => {
    const s = await sharingStack(broker.url, [HELD, PRIO], 9_000);
    stack = s;
    arrive(s.sim, HELD);
    await waitFor(() => s.drawW(HELD) > 8_000, { timeoutMs: 15_000, message: 'held car charging' });
    await pastMinOnTime(s);
    const limitOf = (v: unknown) => (v as ExternalLimits).schedule_import[0]?.limits_to_root.ac_max_current_A?.value ?? 0;
    const maxHeldW = await outageDuringHandOver(
      s,
      (id) => s.drawW(id),
      (e) => e.kind === 'received' && e.moduleId === `${HELD}_limits` && e.name === 'set_external_limits' && limitOf(e.value) < 6,
      async () => {
        await s.app.service.setPriority({ by: 'module', module_id: PRIO, connector_id: 1 }, 5, 'session', 'test');
        arrive(s.sim, PRIO);
      },
    );
    const sentBefore = s.sent.findIndex((m) => m.limitsModuleId === `${HELD}_limits` && limitOf(m.value) < 6);
    const raised = s.sent.slice(sentBefore).filter((m) => m.limitsModuleId === `${HELD}_limits` && limitOf(m.value) >= 6);
    expect({ raised: raised.length, maxHeldW }, trail.join('\n')).toEqual({ raised: 0, maxHeldW: 0 });
    expect(s.drawW(PRIO)).toBeGreaterThan(8_000);
  });
});
