import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../../src/everest/payloads.js';
import {
  mapOfferedCurrent,
  mapSessionEvent,
  meterValuesBody,
  transactionIdOf,
  type EvseAddress,
  type EvseTxState,
} from '../../../src/forwarding/mapping.js';
import { checkOcpp, type TransactionEventRequest } from '../../../src/forwarding/ocpp-schemas.js';
import { aPowermeter, aSessionEvent } from '../../support/builders/everest.js';

const ADDRESS: EvseAddress = { moduleId: 'evse_1', stationUid: 'CP-1', evseId: 1, connectorId: 1 };
const NOW = Date.parse('2026-11-22T10:00:00Z');

/** Runs events through the mapping as the forwarder does, collecting every body. */
function run(events: SessionEvent[], start: EvseTxState = {}): { state: EvseTxState; bodies: TransactionEventRequest[] } {
  let state = start;
  const bodies: TransactionEventRequest[] = [];
  for (const e of events) {
    const result = mapSessionEvent(state, e, ADDRESS, NOW);
    state = result.state;
    bodies.push(...result.events);
  }
  return { state, bodies };
}

const wholeSession = [
  aSessionEvent('SessionStarted'),
  aSessionEvent('AuthRequired'),
  aSessionEvent('Authorized'),
  aSessionEvent('TransactionStarted'),
  aSessionEvent('PrepareCharging'),
  aSessionEvent('ChargingStarted'),
  aSessionEvent('ChargingPausedEV'),
  aSessionEvent('ChargingResumed'),
  aSessionEvent('ChargingPausedEVSE'),
  aSessionEvent('ChargingStarted'),
  aSessionEvent('StoppingCharging'),
  aSessionEvent('ChargingFinished'),
  aSessionEvent('TransactionFinished', { transaction_finished: { reason: 'EVDisconnected', meter_value: aPowermeter({ energy_Wh_import: { total: 9000 } }) } }),
  aSessionEvent('SessionFinished'),
];

describe('EVerest session -> OCPP 2.0.1 TransactionEvents', () => {
  it('maps a whole session to Started, one Updated per charging-state change and Ended, seqNo from 0 without gaps, all schema-valid', () => {
    const { state, bodies } = run(wholeSession);
    expect(bodies.map((b) => [b.eventType, b.seqNo, b.triggerReason, b.transactionInfo.chargingState ?? null])).toEqual([
      ['Started', 0, 'Authorized', 'EVConnected'],
      ['Updated', 1, 'ChargingStateChanged', 'Charging'],
      ['Updated', 2, 'ChargingStateChanged', 'SuspendedEV'],
      ['Updated', 3, 'ChargingStateChanged', 'Charging'],
      ['Updated', 4, 'ChargingStateChanged', 'SuspendedEVSE'],
      ['Updated', 5, 'ChargingStateChanged', 'Charging'],
      ['Ended', 6, 'EVDeparted', 'Idle'],
    ]);
    expect(new Set(bodies.map((b) => b.transactionInfo.transactionId))).toEqual(new Set(['session-1']));
    for (const b of bodies) {
      expect(checkOcpp('TransactionEvent', b)).toEqual({ ok: true });
      expect(b.evse).toEqual({ id: 1, connectorId: 1 });
    }
    const [started] = bodies;
    expect(started?.idToken).toEqual({ idToken: 'TAG1', type: 'Central' });
    expect(started?.meterValue?.[0]?.sampledValue[0]).toMatchObject({ measurand: 'Energy.Active.Import.Register', value: 1000, context: 'Transaction.Begin' });
    const ended = bodies.at(-1);
    expect(ended?.transactionInfo.stoppedReason).toBe('EVDisconnected');
    expect(ended?.meterValue?.[0]?.sampledValue[0]).toMatchObject({ value: 9000, context: 'Transaction.End' });
    expect(state.open).toBeUndefined();
  });

  it('says CablePluggedIn when the driver authorized before plugging in', () => {
    const { bodies } = run([
      aSessionEvent('SessionStarted', { session_started: { reason: 'Authorized', meter_value: aPowermeter() } }),
      aSessionEvent('TransactionStarted'),
    ]);
    expect(bodies[0]?.triggerReason).toBe('CablePluggedIn');
  });

  it('maps stop reasons OCPP lacks and a stop while plugged in', () => {
    const { bodies } = run([
      aSessionEvent('TransactionStarted'),
      aSessionEvent('TransactionFinished', { transaction_finished: { reason: 'HardReset', meter_value: aPowermeter() } }),
    ]);
    expect(bodies[1]?.transactionInfo).toMatchObject({ stoppedReason: 'ImmediateReset' });
    const remote = run([aSessionEvent('TransactionStarted'), aSessionEvent('TransactionFinished', { transaction_finished: { reason: 'Remote', meter_value: aPowermeter() } })]).bodies[1];
    expect(remote?.triggerReason).toBe('RemoteStop');
    // Still plugged in: chargingState did not change from EVConnected, so it is left out.
    expect(remote?.transactionInfo.chargingState).toBeUndefined();
    for (const b of [...bodies, remote]) expect(checkOcpp('TransactionEvent', b)).toEqual({ ok: true });
  });

  it('continues a persisted transaction after a restart: the next seqNo, the same transactionId', () => {
    const before = run(wholeSession.slice(0, 7)).state;
    const persisted = JSON.parse(JSON.stringify(before)) as EvseTxState;
    const { bodies } = run(wholeSession.slice(7), persisted);
    expect(bodies.map((b) => b.seqNo)).toEqual([3, 4, 5, 6]);
    expect(bodies.every((b) => b.transactionInfo.transactionId === 'session-1')).toBe(true);
  });

  it('closes a transaction EVerest never finished when the next session starts, and an anonymous TransactionFinished closes the open one', () => {
    const first = run([aSessionEvent('TransactionStarted'), aSessionEvent('SessionStarted', { uuid: 'session-2' })]);
    expect(first.bodies.map((b) => [b.eventType, b.transactionInfo.transactionId, b.transactionInfo.stoppedReason])).toEqual([
      ['Started', 'session-1', undefined],
      ['Ended', 'session-1', 'Other'],
    ]);
    const restart = run([aSessionEvent('TransactionStarted'), aSessionEvent('TransactionFinished', { uuid: '', transaction_finished: { reason: 'PowerLoss', meter_value: aPowermeter() } })]);
    expect(restart.bodies[1]).toMatchObject({ eventType: 'Ended', transactionInfo: { transactionId: 'session-1', stoppedReason: 'PowerLoss' } });
  });

  it('starts a transaction it joins in the middle (the module came up during a charge)', () => {
    const { bodies } = run([aSessionEvent('ChargingPausedEV', { uuid: 'running' })]);
    expect(bodies[0]).toMatchObject({ eventType: 'Started', seqNo: 0, transactionInfo: { transactionId: 'running', chargingState: 'SuspendedEV' } });
  });

  it('keeps transactionId within the 36 characters OCPP allows', () => {
    expect(transactionIdOf('evse_1', 'a'.repeat(36))).toBe('a'.repeat(36));
    const long = transactionIdOf('evse_1', 'b'.repeat(80));
    expect(long).toHaveLength(36);
    expect(transactionIdOf('evse_1', 'b'.repeat(80))).toBe(long);
  });

  it('reports ChargingRateChanged when the offered current moves by at least 1 A while charging, not for noise', () => {
    let state = run(wholeSession.slice(0, 6)).state;
    const rates: TransactionEventRequest[] = [];
    for (const current of [16, 16.4, 10, 10.5, 9.9, 32]) {
      const r = mapOfferedCurrent(state, current, ADDRESS, NOW);
      state = r.state;
      rates.push(...r.events);
    }
    expect(rates.map((b) => [b.triggerReason, b.seqNo])).toEqual([
      ['ChargingRateChanged', 2],
      ['ChargingRateChanged', 3],
    ]);
    for (const b of rates) expect(checkOcpp('TransactionEvent', b)).toEqual({ ok: true });
  });
});

describe('MeterValues', () => {
  it('carries energy and power, export and SoC where EVerest reports them, and passes the official schema', () => {
    const body = meterValuesBody(2, aPowermeter({ energy_Wh_export: { total: 12 }, power_W: { total: -500 } }), { soc: 55 }, NOW);
    expect(checkOcpp('MeterValues', body)).toEqual({ ok: true });
    expect(body.evseId).toBe(2);
    expect(body.meterValue[0].sampledValue.map((v) => [v.measurand, v.value, v.unitOfMeasure?.unit])).toEqual([
      ['Energy.Active.Import.Register', 1000, 'Wh'],
      ['Power.Active.Import', 0, 'W'],
      ['Energy.Active.Export.Register', 12, 'Wh'],
      ['Power.Active.Export', 500, 'W'],
      ['SoC', 55, 'Percent'],
    ]);
  });

  it('is what the official schema wants, not what seed 002 wrote (capital MeterValue is rejected)', () => {
    const body = meterValuesBody(1, aPowermeter(), undefined, NOW);
    const seedStyle = { evseId: 1, MeterValue: body.meterValue };
    expect(checkOcpp('MeterValues', seedStyle).ok).toBe(false);
    expect(checkOcpp('MeterValues', body)).toEqual({ ok: true });
  });
});
