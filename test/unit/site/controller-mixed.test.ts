import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExternalLimits } from '../../../src/everest/external-limits.js';
import { aPowermeter, aSessionEvent } from '../../support/builders/everest.js';
import { aConfig } from '../../support/builders/snapshot.js';
import { startSiteOnWire, type SiteOnWire } from '../../support/site-on-wire.js';
import { waitFor } from '../../support/wait.js';

/** evse_onoff has no limits module (pause/resume); evse_cc is under current control. */
const ONOFF = 'evse_onoff';
const CC = 'evse_cc';
const CC_LIMITS = 'evse_cc_limits';
const W_PER_A = 3 * 230;

/**
 * Break before make on a mixed site, on the wire: an increase that counts on power another EVSE gives
 * up (a pause, a lower limit) goes out only once that EVSE's draw has fallen. The site controller runs
 * with its real parts on an MQTT connection in memory; the test plays EVerest.
 */
describe('SiteController on a mixed site: break before make', () => {
  let h: SiteOnWire;
  const limitOf = (p: { payload: unknown }): number => (p.payload as ExternalLimits).schedule_import[0]!.limits_to_root.ac_max_current_A!.value;
  const lastLimit = (): number | undefined => {
    const sent = h.wire.publishedTo('/m2e/set_external_limits');
    return sent.length > 0 ? limitOf(sent.at(-1)!) : undefined;
  };
  /** Everything sent, in order: commands by EVSE and name, limits as `cc limit <A>`. */
  const sequence = (): string[] =>
    h.wire.published.flatMap((p) => {
      const m = /\/(evse_\w+)\/m2e\/(pause_charging|resume_charging|set_external_limits)$/.exec(p.topic);
      if (!m) return [];
      return [m[2] === 'set_external_limits' ? `cc limit ${limitOf(p)}` : `${m[1] === ONOFF ? 'onoff' : 'cc'} ${m[2]}`];
    });
  /** EVerest enforces the limit last sent to evse_cc, and the car draws `watts` under it. */
  const enforce = (watts: number): void => {
    const a = lastLimit() ?? 16;
    h.e2m(CC, 'enforced_limits', { uuid: 'evse_cc_node', valid_for: 10, limits_root_side: { ac_max_current_A: { value: a, source: 'evse_priority' } }, schedule: [] });
    h.e2m(CC, 'powermeter', aPowermeter({ power_W: { total: watts } }));
  };
  const upsert = (moduleId: string, priority: number) => h.store.upsert({ module_id: moduleId, connector_id: 1, priority, scope: 'persistent', set_by: 'test' });
  const paused = (moduleId: string): void => {
    h.e2m(moduleId, 'session_event', aSessionEvent('ChargingPausedEVSE', { uuid: `s-${moduleId}` }));
    h.e2m(moduleId, 'powermeter', aPowermeter({ power_W: { total: 0 } }));
  };

  beforeEach(async () => {
    h = await startSiteOnWire({
      evses: [
        { moduleId: ONOFF, connectors: [1], phases: 3, maxCurrentA: 16 },
        { moduleId: CC, connectors: [1], phases: 3, maxCurrentA: 16, limitsModuleId: CC_LIMITS },
      ],
      maxPowerW: 18_000,
      scheduler: aConfig({ minOnTimeS: 0, minOffTimeS: 0, overrunToleranceW: 500 }),
      // No heartbeat goes stale while the test moves the clock.
      heartbeatTimeoutMs: 600_000,
    });
  });

  afterEach(() => h.stop());

  /** The on/off car charges at 11 kW with priority 1; the current-controlled car shares the rest. */
  const bothCharging = async (): Promise<void> => {
    await upsert(ONOFF, 1);
    h.charging(ONOFF, 11_000);
    h.charging(CC, 7_000);
    h.answer();
    // 18 kW - 11 kW = 7 kW: 10.1 A.
    expect(lastLimit()).toBe(10.1);
    enforce(10.1 * W_PER_A);
    h.advanceBy(1500);
    // Each EVSE was read once (get_evse) when it came online.
    h.answer();
    expect(h.wire.publishedTo('/m2e/get_evse')).toHaveLength(2);
  };

  it('a pause that frees power for a limit increase: the increase waits until the paused car has stopped drawing', async () => {
    await bothCharging();
    const before = sequence().length;
    // The current-controlled car becomes the priority: the on/off car must go, then the limit may rise.
    await upsert(CC, 9);
    h.advanceBy(1500);
    expect(h.site.decisionFor(ONOFF)).toMatchObject({ decision: 'pause' });
    // The hold is written to the store (a real file) before the pause goes out.
    await waitFor(() => sequence().length > before, { message: 'nothing sent' });
    expect(sequence().slice(before)).toEqual(['onoff pause_charging']);
    expect(h.site.decisionFor(CC)).toMatchObject({ decision: 'charge', reasonCode: 'awaiting_release', currentA: 10.1 });
    // EVerest accepts the pause, but the car still draws: still no increase.
    h.answer();
    h.advanceBy(1500);
    h.e2m(ONOFF, 'powermeter', aPowermeter({ power_W: { total: 11_000 } }));
    expect(sequence().slice(before)).toEqual(['onoff pause_charging']);
    // The car has stopped: now the increase.
    paused(ONOFF);
    h.advanceBy(1500);
    expect(sequence().slice(before)).toEqual(['onoff pause_charging', 'cc limit 16']);
    expect(h.site.decisionFor(CC)).toMatchObject({ decision: 'charge', currentA: 16 });
  });

  it('a lower limit that frees power for a resume: the resume waits until the lowered car draws less', async () => {
    await bothCharging();
    // The on/off car is paused for the current-controlled priority car...
    await upsert(CC, 9);
    await waitFor(() => h.wire.publishedTo('/m2e/pause_charging').length > 0, { message: 'no pause_charging' });
    h.answer();
    paused(ONOFF);
    h.advanceBy(1500);
    expect(lastLimit()).toBe(16);
    enforce(16 * W_PER_A);
    h.advanceBy(1500);
    const before = sequence().length;
    // ...and gets priority again: the limit goes down at once, the resume waits for the draw to fall.
    await upsert(ONOFF, 9);
    await upsert(CC, 0);
    h.advanceBy(1500);
    expect(sequence().slice(before)).toEqual(['cc limit 10']);
    expect(h.site.decisionFor(ONOFF)).toMatchObject({ decision: 'pause', reasonCode: 'awaiting_release' });
    // enforced_limits confirms the lower limit, but the car has not come down yet.
    enforce(16 * W_PER_A);
    h.advanceBy(1500);
    expect(sequence().slice(before)).toEqual(['cc limit 10']);
    enforce(10 * W_PER_A);
    h.advanceBy(1500);
    expect(sequence().slice(before)).toEqual(['cc limit 10', 'onoff resume_charging']);
  });
});
