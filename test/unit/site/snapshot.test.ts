import { describe, expect, it } from 'vitest';
import type { OurHold } from '../../../src/site/enforcer.js';
import type { EvseView } from '../../../src/site/evse-view.js';
import { FALLBACK_CURRENT_A } from '../../../src/site/model.js';
import { buildSnapshot, type SnapshotInputs } from '../../../src/site/snapshot.js';
import { aChargingView, anIdleView } from '../../support/builders/evse-view.js';
import { CAR_11KW_W, HOUR_MS, NOW, VOLTAGE_V } from '../../support/builders/snapshot.js';

const NOT_HELD: OurHold = { pausedByUs: false };

/** Inputs for one site of `views`, every EVSE configured three-phase 16 A, online, idle lanes, priority 0. */
function inputs(views: EvseView[], overrides: Partial<SnapshotInputs> = {}): SnapshotInputs {
  return {
    views,
    evses: views.map((v) => ({ moduleId: v.moduleId, phases: 3, maxCurrentA: 16 })),
    priorityOf: () => 0,
    holdOf: () => NOT_HELD,
    limitOf: () => undefined,
    minCurrentA: 6,
    isOnline: () => true,
    busy: () => false,
    maxPowerW: 22_000,
    nominalVoltageV: VOLTAGE_V,
    ...overrides,
  };
}

describe('buildSnapshot', () => {
  it('turns a charging EVSE into one session and leaves EVSEs without a session out', () => {
    const snapshot = buildSnapshot(inputs([aChargingView('evse_1'), anIdleView('evse_2')]));
    expect(snapshot).toEqual({
      maxPowerW: 22_000,
      nominalVoltageV: VOLTAGE_V,
      sessions: [
        {
          key: 'evse_1/1',
          moduleId: 'evse_1',
          connectorId: 1,
          evseState: 'Charging',
          pausedByUs: false,
          arrivalMs: NOW - HOUR_MS,
          priority: 0,
          measuredPowerW: CAR_11KW_W,
          phases: 3,
          hwMaxCurrentA: 16,
          lastOnMs: NOW - HOUR_MS,
          online: true,
          commandInFlight: false,
        },
      ],
    });
  });

  it('asks the owners of priority, hold, liveness and lane for each session by its EVSE and connector', () => {
    const asked: string[] = [];
    const [session] = buildSnapshot(
      inputs([aChargingView('evse_1', { connectorId: 2 })], {
        priorityOf: (id, connector) => (asked.push(`${id}/${connector}`), 7),
        holdOf: () => ({ pausedByUs: true, lastOffMs: NOW - 1000, interruptions: 2, grant: { atMs: NOW - 500, w: 4000 } }),
        isOnline: () => false,
        busy: () => true,
      }),
    ).sessions;
    expect(asked).toEqual(['evse_1/2']);
    expect(session).toMatchObject({ key: 'evse_1/2', connectorId: 2, priority: 7, pausedByUs: true, lastOffMs: NOW - 1000, interruptions: 2, grantedAtMs: NOW - 500, grantedW: 4000, online: false, commandInFlight: true });
    // Never interrupted: no field at all (the allocator reads absent as 0).
    const [fresh] = buildSnapshot(inputs([aChargingView('evse_1')])).sessions;
    expect(fresh).not.toHaveProperty('interruptions');
  });

  it('measures power only while Charging: a paused car draws nothing it could be judged by', () => {
    const [session] = buildSnapshot(inputs([aChargingView('evse_1', { state: 'ChargingPausedEVSE', powerW: 40, pauseReasons: ['UserPause'] })])).sessions;
    expect(session?.measuredPowerW).toBeUndefined();
    expect(session).toMatchObject({ evseState: 'ChargingPausedEVSE', pauseReasons: ['UserPause'] });
  });

  it('takes the EVSE limit from e2m/limits, else from the enforced current (2026.02), and ignores a 0 A limit', () => {
    const fromLimits = buildSnapshot(inputs([aChargingView('evse_1', { limits: { maxCurrentA: 20, phases: 1, from: 'limits' }, enforcedCurrent: { maxCurrentA: 10, phases: 3 } })])).sessions[0];
    expect(fromLimits).toMatchObject({ limitCurrentA: 20, phases: 1 });
    const fromEnforced = buildSnapshot(inputs([aChargingView('evse_1', { enforcedCurrent: { maxCurrentA: 10, phases: 3 } })])).sessions[0];
    expect(fromEnforced).toMatchObject({ limitCurrentA: 10, phases: 3 });
    const paused = buildSnapshot(inputs([aChargingView('evse_1', { limits: { maxCurrentA: 0, phases: 3, from: 'limits' } })])).sessions[0];
    expect(paused?.limitCurrentA).toBeUndefined();
  });

  it('phases come from e2m/limits, else the configuration, else the hardware, else three', () => {
    const hw = { maxCurrentA: 32, maxPhases: 1 };
    const unconfigured = { evses: [] };
    expect(buildSnapshot(inputs([aChargingView('evse_1', { hw })], unconfigured)).sessions[0]?.phases).toBe(1);
    expect(buildSnapshot(inputs([aChargingView('evse_1')], unconfigured)).sessions[0]?.phases).toBe(3);
    expect(buildSnapshot(inputs([aChargingView('evse_1', { hw })])).sessions[0]).toMatchObject({ phases: 3, hwMaxCurrentA: 32 });
  });

  it('caps a session at the lower of the energy manager limit and the peak the car has shown; 0 W says nothing', () => {
    const capped = buildSnapshot(inputs([aChargingView('evse_1', { enforcedLimitW: 9000, peakPowerW: 7400 })])).sessions[0];
    expect(capped?.capW).toBe(7400);
    const idleLimit = buildSnapshot(inputs([aChargingView('evse_1', { enforcedLimitW: 0 })])).sessions[0];
    expect(idleLimit?.capW).toBeUndefined();
  });

  describe('under current control (a limits module configured)', () => {
    const limited = (views: EvseView[], overrides: Partial<SnapshotInputs> = {}): SnapshotInputs =>
      inputs(views, { evses: views.map((v) => ({ moduleId: v.moduleId, phases: 3, maxCurrentA: 16, limitsModuleId: `${v.moduleId}_limits` })), ...overrides });

    it('describes the current range instead of an EVerest limit, which would only echo our own', () => {
      const view = aChargingView('evse_1', { limits: { maxCurrentA: 10, phases: 3, from: 'limits' }, enforcedLimitW: 9000, evMaxPowerW: 6900 });
      const [session] = buildSnapshot(limited([view], { limitOf: () => ({ currentA: 10, raisedAtMs: NOW - 2000 }) })).sessions;
      expect(session?.limitCurrentA).toBeUndefined();
      expect(session?.capW).toBeUndefined();
      expect(session?.current).toEqual({ minA: 6, evseMaxA: 16, evMaxA: 6900 / (3 * VOLTAGE_V), limitA: 10, limitRaisedAtMs: NOW - 2000 });
    });

    it('the minimum is the larger of limits.min_current_a and the hardware minimum; the rating falls back to the configuration, then 32 A', () => {
      const [hwMin] = buildSnapshot(limited([aChargingView('evse_1', { hw: { maxCurrentA: 20, minCurrentA: 8, maxPhases: 3 } })])).sessions;
      expect(hwMin?.current).toEqual({ minA: 8, evseMaxA: 20 });
      const [fallback] = buildSnapshot({ ...limited([aChargingView('evse_1')]), evses: [{ moduleId: 'evse_1', phases: 3, limitsModuleId: 'lim' }] }).sessions;
      expect(fallback?.current).toEqual({ minA: 6, evseMaxA: FALLBACK_CURRENT_A });
    });

    it('carries the fail-safe of our messages and from when it may apply: the last heartbeat + failsafe_s - refresh_s', () => {
      const heard = aChargingView('evse_1', { liveness: { moduleId: 'evse_1', status: 'stale', lastSeenMs: NOW - 7_000, lost: 0, restarts: 0 } });
      const never = aChargingView('evse_2', { liveness: { moduleId: 'evse_2', status: 'unknown', lost: 0, restarts: 0 } });
      const [a, b] = buildSnapshot(limited([heard, never], { failsafe: { currentA: 10, afterSilenceMs: 40_000 } })).sessions;
      expect(a?.current).toMatchObject({ failsafeA: 10, failsafeFromMs: NOW + 33_000 });
      // Never heard: no time from which to count; the limit in force (or the rating) is reserved.
      expect(b?.current).toMatchObject({ failsafeA: 10 });
      expect(b?.current?.failsafeFromMs).toBeUndefined();
    });
  });
});
