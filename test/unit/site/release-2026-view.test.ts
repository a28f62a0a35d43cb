// What the module reads from EVerest 2026.02: the current limit from enforced_limits where limits is absent,
// and why an EVSE pauses (charging_paused_evse.reasons), in the view and in the plan.
import { describe, expect, it } from 'vitest';
import type { EnforcedLimits, SessionEventKind } from '../../../src/everest/payloads.js';
import { initialEvseView, reduceEvseView, type EvseInput, type EvseView } from '../../../src/site/evse-view.js';
import { foreignPauseCode, resumable } from '../../../src/site/pause-reasons.js';
import { leaveReasonFor, schedule } from '../../../src/site/scheduler.js';
import { aSessionEvent, someLimits } from '../../support/builders/everest.js';
import { aConfig, aSession, aSite } from '../../support/builders/snapshot.js';

function fold(inputs: EvseInput[], start: EvseView = initialEvseView('evse_1')): EvseView {
  return inputs.reduce((view, input, i) => reduceEvseView(view, input, 1000 + i * 1000), start);
}
const ev = (event: SessionEventKind, extra = {}): EvseInput => ({ kind: 'session_event', value: aSessionEvent(event, extra) });
const enforced = (currentA?: number, powerW?: number, phases?: number): EvseInput => {
  const side: EnforcedLimits['limits_root_side'] = {};
  if (currentA !== undefined) side.ac_max_current_A = { value: currentA, source: 'EnergyManager' };
  if (powerW !== undefined) side.total_power_W = { value: powerW, source: 'EnergyManager' };
  if (phases !== undefined) side.ac_max_phase_count = { value: phases, source: 'EnergyManager' };
  return { kind: 'enforced_limits', value: { uuid: 'evse_manager_1', valid_for: 10, limits_root_side: side, schedule: [] } };
};

describe('EVSE view, EVerest 2026.02', () => {
  it('takes the current limit from enforced_limits when no e2m/limits comes', () => {
    const view = fold([enforced(16, 11_040, 3)]);
    expect(view.enforcedCurrent).toEqual({ maxCurrentA: 16, phases: 3 });
    expect(view.limits).toBeUndefined();
    expect(view.enforcedLimitW).toBe(11_040);
    expect(fold([enforced(10)], view).enforcedCurrent).toEqual({ maxCurrentA: 10, phases: 3 });
  });

  it('keeps e2m/limits as the current limit where EVerest still sends it (2025.11)', () => {
    const view = fold([{ kind: 'limits', value: someLimits({ max_current: 13, nr_of_phases_available: 1 }) }, enforced(16, 11_040, 3)]);
    expect(view.limits).toEqual({ maxCurrentA: 13, phases: 1, from: 'limits' });
    expect(view.enforcedLimitW).toBe(11_040);
  });

  it('keeps the pause reasons of the last ChargingPausedEVSE, through StoppingCharging, until the EVSE leaves the pause', () => {
    let view = fold([ev('SessionStarted'), ev('TransactionStarted'), ev('ChargingStarted'), ev('StoppingCharging')]);
    expect(view.state).toBe('Charging');
    view = fold([ev('ChargingPausedEVSE', { charging_paused_evse: { reasons: ['NoEnergy'] } })], view);
    expect(view).toMatchObject({ state: 'ChargingPausedEVSE', pauseReasons: ['NoEnergy'] });
    view = fold([ev('ChargingPausedEVSE', { charging_paused_evse: { reasons: ['NoEnergy', 'UserPause'] } })], view);
    expect(view.pauseReasons).toEqual(['NoEnergy', 'UserPause']);
    view = fold([ev('PrepareCharging'), ev('ChargingStarted')], view);
    expect(view).toMatchObject({ state: 'Charging', pauseReasons: undefined });
    // 2025.11 sends no reasons: none are made up.
    expect(fold([ev('ChargingPausedEVSE')], view).pauseReasons).toBeUndefined();
  });
});

describe('pause reasons in the plan and the enforcer', () => {
  it.each([
    [['UserPause'], 'paused_by_others', true],
    [['NoEnergy'], 'paused_no_energy', false],
    [['Error'], 'paused_fault', false],
    [['NoEnergy', 'Error'], 'paused_fault', false],
    [['NoEnergy', 'UserPause'], 'paused_by_others', true],
    [undefined, 'paused_by_others', true],
  ] as const)('%j: leave code %s, resume_charging could end it: %s', (reasons, code, canResume) => {
    expect(foreignPauseCode(reasons)).toBe(code);
    expect(resumable(reasons)).toBe(canResume);
  });

  it('says who holds the car in the decision reason', () => {
    const s = aSession({ evseState: 'ChargingPausedEVSE' });
    expect(leaveReasonFor({ ...s, pauseReasons: ['NoEnergy'] }, 'paused_no_energy', 0)).toMatch(/energy manager \(NoEnergy\)/);
    expect(leaveReasonFor({ ...s, pauseReasons: ['Error'] }, 'paused_fault', 0)).toMatch(/fault .*\(Error\)/);
    expect(leaveReasonFor({ ...s, pauseReasons: ['UserPause'] }, 'paused_by_others', 0)).toMatch(/by a person \(UserPause\)/);
  });
});

describe('scheduler, a pause EVerest holds by itself', () => {
  it('leaves a NoEnergy pause alone with its own code', () => {
    const held = aSession({ key: 'evse_1/1', moduleId: 'evse_1', evseState: 'ChargingPausedEVSE', pausedByUs: false, pauseReasons: ['NoEnergy'] });
    const [decision] = schedule(aSite({ sessions: [held] }), aConfig(), 100_000).decisions;
    expect(decision).toMatchObject({ decision: 'leave', reasonCode: 'paused_no_energy' });
  });
});
