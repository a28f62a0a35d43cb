import { describe, expect, it } from 'vitest';
import type { SessionEventKind } from '../../../src/everest/payloads.js';
import { initialEvseView, reduceEvseView, type EvseInput, type EvseView } from '../../../src/site/evse-view.js';
import { aPowermeter, aSessionEvent, aSessionInfo, someLimits } from '../../support/builders/everest.js';

function fold(inputs: EvseInput[], start: EvseView = initialEvseView('evse_1'), t0 = 1000): EvseView {
  return inputs.reduce((view, input, i) => reduceEvseView(view, input, t0 + i * 1000), start);
}
const ev = (event: SessionEventKind, extra = {}): EvseInput => ({ kind: 'session_event', value: aSessionEvent(event, extra) });

describe('EVSE view reducer', () => {
  it.each<[SessionEventKind[], string]>([
    [['SessionStarted'], 'Preparing'],
    [['SessionStarted', 'AuthRequired'], 'AuthRequired'],
    [['SessionStarted', 'TransactionStarted'], 'Preparing'],
    [['SessionStarted', 'TransactionStarted', 'PrepareCharging'], 'Preparing'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted'], 'Charging'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted', 'ChargingPausedEV'], 'ChargingPausedEV'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted', 'ChargingPausedEVSE'], 'ChargingPausedEVSE'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted', 'ChargingPausedEVSE', 'ChargingResumed'], 'Charging'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted', 'TransactionFinished'], 'Finished'],
    [['SessionStarted', 'TransactionStarted', 'ChargingStarted', 'TransactionFinished', 'SessionFinished'], 'Unplugged'],
    [['Disabled'], 'Disabled'],
    [['Disabled', 'Enabled'], 'Unplugged'],
    [['SessionStarted', 'PluginTimeout'], 'AuthTimeout'],
  ])('events %j give state %s', (events, state) => {
    expect(fold(events.map((e) => ev(e))).state).toBe(state);
  });

  it('TransactionFinished with reason Local is FinishedEVSE', () => {
    const view = fold([ev('SessionStarted'), ev('TransactionStarted'), ev('TransactionFinished', { transaction_finished: { reason: 'Local', meter_value: aPowermeter() } })]);
    expect(view.state).toBe('FinishedEVSE');
  });

  it('tracks the session, its arrival time, the transaction and the connector', () => {
    const view = fold([ev('SessionStarted', { connector_id: 2, uuid: 'abc' }), ev('TransactionStarted', { connector_id: 2, uuid: 'abc' })]);
    expect(view.session).toMatchObject({ uuid: 'abc', startedAtMs: 1000, transaction: true });
    expect(view.connectorId).toBe(2);
    expect(fold([ev('SessionFinished')], view).session).toBeUndefined();
  });

  it('marks switch-on and switch-off times for hysteresis', () => {
    const view = fold([ev('SessionStarted'), ev('TransactionStarted'), ev('ChargingStarted'), ev('ChargingPausedEVSE')]);
    expect(view.lastOnMs).toBe(3000);
    expect(view.lastOffMs).toBe(4000);
  });

  it('uses measured power only while charging, and energy since the session start meter', () => {
    const start = fold([ev('SessionStarted'), ev('TransactionStarted'), ev('ChargingStarted')]);
    const charging = reduceEvseView(start, { kind: 'powermeter', value: aPowermeter({ energy_Wh_import: { total: 1500 }, power_W: { total: 7000 } }) }, 9000);
    expect(charging.powerW).toBe(7000);
    expect(charging.energyWh).toBe(500);
    const paused = fold([ev('ChargingPausedEV')], charging);
    expect(paused.powerW).toBe(0);
  });

  it('learns the peak a car draws once past its ramp, and forgets it with the session', () => {
    const start = fold([ev('SessionStarted'), ev('TransactionStarted'), ev('ChargingStarted')]); // Charging at t=3000
    const meter = (w: number, at: number, v: EvseView) => reduceEvseView(v, { kind: 'powermeter', value: aPowermeter({ power_W: { total: w } }) }, at);
    const ramping = meter(3_000, 5_000, start);
    expect(ramping.peakPowerW).toBeUndefined();
    const full = meter(11_000, 14_000, ramping);
    expect(full.peakPowerW).toBe(11_000);
    expect(meter(9_000, 20_000, full).peakPowerW).toBe(11_000);
    expect(fold([ev('SessionFinished'), ev('SessionStarted')], full).peakPowerW).toBeUndefined();
  });

  it('session_info sets the state only until events are seen (a module started mid-session)', () => {
    const boot = reduceEvseView(initialEvseView('evse_1'), { kind: 'session_info', value: aSessionInfo({ state: 'Charging', latest_total_w: 7400 }) }, 1000);
    expect(boot.state).toBe('Charging');
    expect(boot.session).toBeDefined();
    expect(boot.powerW).toBe(7400);
    const afterEvent = fold([ev('ChargingPausedEVSE')], boot);
    // A later session_info claiming Charging does not override the event.
    const hinted = reduceEvseView(afterEvent, { kind: 'session_info', value: aSessionInfo({ state: 'Charging' }) }, 9000);
    expect(hinted.state).toBe('ChargingPausedEVSE');
    expect(hinted.powerW).toBe(0);
  });

  it('in doubt (a lost event), the next session_info decides the state; 2026.02\'s passing FinishedEV does not', () => {
    const paused = fold([ev('SessionStarted'), ev('ChargingStarted')], initialEvseView('evse_1'));
    const doubted = reduceEvseView(paused, { kind: 'doubt' }, 2000);
    expect(doubted.stateInDoubt).toBe(true);
    // StoppingCharging shows as FinishedEV in session_info: not yet the answer.
    const passing = reduceEvseView(doubted, { kind: 'session_info', value: aSessionInfo({ state: 'FinishedEV' }) }, 2500);
    expect(passing).toMatchObject({ state: 'Charging', stateInDoubt: true });
    const settled = reduceEvseView(passing, { kind: 'session_info', value: aSessionInfo({ state: 'ChargingPausedEVSE' }) }, 3000);
    expect(settled).toMatchObject({ state: 'ChargingPausedEVSE', stateInDoubt: false, stateReadAtMs: 3000, powerW: 0 });
    expect(settled.session?.uuid).toBe(paused.session?.uuid);
    // Doubt settled: session_info is a hint again.
    expect(reduceEvseView(settled, { kind: 'session_info', value: aSessionInfo({ state: 'Charging' }) }, 4000).state).toBe('ChargingPausedEVSE');
    // A session whose SessionFinished was lost ends with the read.
    const gone = reduceEvseView(reduceEvseView(settled, { kind: 'doubt' }, 5000), { kind: 'session_info', value: aSessionInfo({ state: 'Unplugged' }) }, 6000);
    expect(gone.session).toBeUndefined();
  });

  it('garbage session_info before the first session does not invent a session', () => {
    const view = reduceEvseView(initialEvseView('evse_1'), { kind: 'session_info', value: aSessionInfo({ state: 'Unplugged', latest_total_w: 99 }) }, 1000);
    expect(view.session).toBeUndefined();
    expect(view.powerW).toBe(0);
  });

  it('folds limits, hardware capabilities, evse_id and liveness', () => {
    let view = reduceEvseView(initialEvseView('evse_1'), { kind: 'limits', value: someLimits({ max_current: 10, nr_of_phases_available: 1 }) }, 0);
    view = reduceEvseView(view, { kind: 'evse_id', value: 'DEPNXE000001*1' }, 0);
    view = reduceEvseView(view, { kind: 'liveness', value: { moduleId: 'evse_1', status: 'online', lost: 0, restarts: 0 } }, 0);
    expect(view).toMatchObject({ limits: { maxCurrentA: 10, phases: 1 }, evseId: 'DEPNXE000001*1', liveness: { status: 'online' } });
  });
});
