import { describe, expect, it } from 'vitest';
import { newModel, takeEventNames, takeEvents } from '../../support/sim-model.js';

describe('session state machine', () => {
  it('runs a full session in EVerest order, each session_event followed by session_info', () => {
    const m = newModel();
    m.drain();
    m.plugIn({}, 1_000);
    m.authorize(3_000);
    m.tick(10_000);
    m.unplug(60_000);
    const out = m.drain().filter((o) => o.name === 'session_event' || o.name === 'session_info');
    const names = out.map((o) => (o.name === 'session_event' ? o.payload.event : `info:${o.payload.state}`));
    expect(names).toEqual([
      'SessionStarted', 'info:Preparing',
      'AuthRequired', 'info:AuthRequired',
      'Authorized', 'info:AuthRequired',
      'TransactionStarted', 'info:Preparing',
      'PrepareCharging', 'info:Preparing',
      'ChargingStarted', 'info:Charging',
      'info:Charging', // the 1 Hz sample
      'ChargingPausedEV', 'info:ChargingPausedEV', // the car stops drawing before the cable comes out
      'StoppingCharging', 'info:FinishedEV',
      'ChargingFinished', 'info:Finished',
      'TransactionFinished', 'info:Finished',
      'SessionFinished', 'info:Unplugged',
    ]);
  });

  it('gives every event of a session the same uuid, a timestamp and meter values', () => {
    const m = newModel();
    m.drain();
    m.plugIn({}, 1_000);
    m.authorize(2_000);
    m.unplug(62_000);
    const events = takeEvents(m);
    expect(new Set(events.map((e) => e.uuid))).toEqual(new Set(['session-1']));
    for (const e of events) expect(Date.parse(e.timestamp)).toBeGreaterThan(0);
    const started = events.find((e) => e.event === 'SessionStarted');
    expect(started?.session_started).toMatchObject({ reason: 'EVConnected', meter_value: { energy_Wh_import: { total: 1_000_000 } } });
    const tx = events.find((e) => e.event === 'TransactionStarted');
    expect(tx?.transaction_started?.id_tag.id_token.value).toBe('SIMTAG0001');
    const finished = events.find((e) => e.event === 'TransactionFinished');
    expect(finished?.transaction_finished?.reason).toBe('EVDisconnected');
    expect(finished?.transaction_finished?.meter_value.energy_Wh_import.total).toBeCloseTo(1_000_000 + 11_000 / 60, 3);
    expect(events.find((e) => e.event === 'ChargingStarted')?.charging_state_changed_event).toBeDefined();
    expect(events.find((e) => e.event === 'Authorized')?.authorization_event).toBeDefined();
    expect(events.find((e) => e.event === 'SessionFinished')?.session_finished).toBeDefined();
  });

  it('starts the session at authorization when the user authorizes before plugging in', () => {
    const m = newModel();
    m.drain();
    m.authorize(1_000);
    expect(takeEventNames(m)).toEqual(['SessionStarted', 'Authorized']);
    m.plugIn({}, 2_000);
    // EVerest still signals AuthRequired on plug-in, then proceeds with the authorization it has.
    expect(takeEventNames(m)).toEqual(['AuthRequired', 'TransactionStarted', 'PrepareCharging', 'ChargingStarted']);
  });

  it('authorizes on its own with free service (auto_authorize)', () => {
    const m = newModel();
    m.drain();
    m.plugIn({ autoAuthorize: true }, 1_000);
    const events = takeEvents(m);
    expect(events.map((e) => e.event)).toEqual(['SessionStarted', 'AuthRequired', 'Authorized', 'TransactionStarted', 'PrepareCharging', 'ChargingStarted']);
    expect(events[3]?.transaction_started?.id_tag.id_token.value).toBe('FREESERVICE');
  });

  it('stop_transaction: ChargingPausedEVSE, ChargingFinished, TransactionFinished; FinishedEVSE for Local; session ends at unplug', () => {
    const m = newModel();
    m.plugIn({}, 1_000);
    m.authorize(1_000);
    m.drain();
    expect(m.stopTransaction({ reason: 'Local' }, 5_000)).toBe(true);
    const events = takeEvents(m);
    expect(events.map((e) => e.event)).toEqual(['ChargingPausedEVSE', 'ChargingFinished', 'TransactionFinished']);
    expect(events[2]?.transaction_finished?.reason).toBe('Local');
    expect(m.snapshot()).toMatchObject({ state: 'FinishedEVSE', powerW: 0, transactionActive: false });
    expect(m.stopTransaction({ reason: 'Local' }, 6_000)).toBe(false);
    expect(m.resumeCharging(6_500)).toBe(false);
    m.unplug(7_000);
    expect(takeEventNames(m)).toEqual(['StoppingCharging', 'SessionFinished']);
  });

  it('stop_transaction Remote reports Finished', () => {
    const m = newModel();
    m.plugIn({}, 1_000);
    m.authorize(1_000);
    m.stopTransaction({ reason: 'Remote' }, 2_000);
    expect(m.snapshot().state).toBe('Finished');
  });

  it('withdraw_authorization while waiting for authorization is a plugin timeout', () => {
    const a = newModel();
    a.plugIn({}, 1_000);
    a.drain();
    a.withdrawAuthorization(2_000);
    expect(takeEventNames(a)).toEqual(['Deauthorized', 'PluginTimeout']);
    expect(a.snapshot().state).toBe('AuthTimeout');
  });

  it('reserve answers true only when free and ends the reservation on cancel', () => {
    const m = newModel();
    m.drain();
    expect(m.reserve(7, 1_000)).toBe(true);
    expect(m.reserve(8, 1_100)).toBe(false);
    const start = takeEvents(m);
    expect(start.map((e) => [e.event, e.uuid])).toEqual([['ReservationStart', '']]);
    m.cancelReservation(2_000);
    expect(takeEventNames(m)).toEqual(['ReservationEnd']);
    m.reserve(9, 3_000);
    m.plugIn({}, 4_000);
    m.authorize(4_000);
    const tx = takeEvents(m).find((e) => e.event === 'TransactionStarted');
    expect(tx?.transaction_started?.reservation_id).toBe(9);
    expect(m.snapshot().reservationId).toBeUndefined();
    expect(m.reserve(10, 5_000)).toBe(false);
  });

  it('answers force_unlock and external_ready_to_start_charging with true', () => {
    const m = newModel();
    m.plugIn({}, 1_000);
    m.authorize(1_000);
    m.drain();
    expect(m.externalReadyToStartCharging(2_000)).toBe(true);
    expect(m.forceUnlock(1, 3_000)).toBe(true);
    const finished = takeEvents(m).find((e) => e.event === 'TransactionFinished');
    expect(finished?.transaction_finished?.reason).toBe('UnlockCommand');
  });

  it('restart closes an open transaction as PowerLoss and starts a fresh session for the plugged car', () => {
    const m = newModel();
    m.plugIn({}, 1_000);
    m.authorize(1_000);
    m.drain();
    m.restart(5_000);
    const out = m.drain();
    expect(out.map((o) => o.name).slice(0, 2)).toEqual(['session_event', 'session_info']);
    const events = out.flatMap((o) => (o.name === 'session_event' ? [o.payload] : []));
    expect(events.map((e) => e.event)).toEqual(['TransactionFinished', 'Enabled', 'SessionStarted', 'AuthRequired']);
    expect(events[0]?.transaction_finished?.reason).toBe('PowerLoss');
    expect(out.map((o) => o.name)).toEqual(expect.arrayContaining(['evse_id', 'hw_capabilities', 'limits', 'enforced_limits']));
    expect(m.comm.status.fault).toBe(true);
  });
});

describe('pause_charging / resume_charging', () => {
  const charging = () => {
    const m = newModel();
    m.plugIn({}, 1_000);
    m.authorize(1_000);
    m.drain();
    return m;
  };

  it('pause answers true while Charging and pauses with ChargingPausedEVSE at 0 W', () => {
    const m = charging();
    expect(m.pauseCharging(2_000)).toBe(true);
    expect(takeEventNames(m)).toEqual(['ChargingPausedEVSE']);
    expect(m.snapshot()).toMatchObject({ state: 'ChargingPausedEVSE', powerW: 0 });
  });

  it.each([
    { name: 'nothing plugged', setup: () => newModel() },
    {
      name: 'waiting for authorization',
      setup: () => {
        const m = newModel();
        m.plugIn({}, 1_000);
        return m;
      },
    },
    {
      name: 'already paused by the EVSE',
      setup: () => {
        const m = charging();
        m.pauseCharging(1_500);
        return m;
      },
    },
    {
      name: 'paused by the car',
      setup: () => {
        const m = charging();
        m.evPause(1_500);
        return m;
      },
    },
  ])('pause answers false when not charging: $name', ({ setup }) => {
    const m = setup();
    m.drain();
    expect(m.pauseCharging(2_000)).toBe(false);
    expect(takeEventNames(m)).toEqual([]);
  });

  it('resume continues only what the EVSE paused: WaitingForEnergy, then PrepareCharging and ChargingStarted on the next energy update', () => {
    const m = charging();
    m.pauseCharging(2_000);
    m.drain();
    expect(m.resumeCharging(3_000)).toBe(true);
    expect(takeEventNames(m)).toEqual(['WaitingForEnergy']);
    expect(m.snapshot().powerW).toBe(0);
    m.tick(4_000);
    expect(takeEventNames(m)).toEqual(['PrepareCharging', 'ChargingStarted']);
    expect(m.snapshot()).toMatchObject({ state: 'Charging', powerW: 11_000 });
    expect(m.resumeCharging(5_000)).toBe(false);
  });

  it('resume answers false when the car paused itself, and the car resumes with ChargingResumed', () => {
    const m = charging();
    m.evPause(2_000);
    expect(takeEventNames(m)).toEqual(['ChargingPausedEV']);
    expect(m.resumeCharging(3_000)).toBe(false);
    m.evResume(4_000);
    expect(takeEventNames(m)).toEqual(['ChargingResumed']);
    expect(m.snapshot().state).toBe('Charging');
  });

  it('a car that paused during an EVSE pause stays paused after resume (PrepareCharging, no power)', () => {
    const m = charging();
    m.pauseCharging(2_000);
    m.evPause(2_500);
    m.resumeCharging(3_000);
    m.tick(4_000);
    m.drain();
    expect(m.snapshot()).toMatchObject({ chargerState: 'PrepareCharging', powerW: 0 });
    m.evResume(5_000);
    expect(takeEventNames(m)).toEqual(['ChargingStarted']);
  });

  it('falls to WaitingForEnergy when the limit drops below 6 A and comes back when it rises', () => {
    const m = charging();
    m.setLimit(0, undefined, 2_000);
    expect(takeEventNames(m)).toEqual(['WaitingForEnergy']);
    expect(m.snapshot().powerW).toBe(0);
    m.setLimit(16, undefined, 3_000);
    expect(takeEventNames(m)).toEqual(['PrepareCharging', 'ChargingStarted']);
    expect(m.snapshot().powerW).toBe(11_000);
  });
});
