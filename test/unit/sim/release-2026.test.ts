// The simulator playing EVerest 2026.02 (../shared/EVEREST_WIRE.md, "Later upstream releases"), next to the
// same steps on 2025.11 where the two differ.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadContract, type Contract } from '../../../src/everest/contract.js';
import type { EverestRelease } from '../../../src/everest/release.js';
import { handleM2e } from '../../../src/sim/m2e-handler.js';
import { newModel, takeEventNames, takeEvents } from '../../support/sim-model.js';

function charging(release: EverestRelease) {
  const m = newModel({ release });
  m.plugIn({}, 1_000);
  m.authorize(1_000);
  m.drain();
  return m;
}

const names = (m: ReturnType<typeof newModel>) => m.drain().map((o) => (o.name === 'session_event' ? o.payload.event : o.name === 'session_info' ? `info:${o.payload.state}` : o.name));

describe('simulator, EVerest 2026.02', () => {
  it('pause runs Charging -> StoppingCharging (session_info FinishedEV) -> ChargingPausedEVSE with reason UserPause', () => {
    const m = charging('2026.02');
    expect(m.pauseCharging(2_000)).toBe(true);
    const out = m.drain().filter((o) => o.name === 'session_event' || o.name === 'session_info');
    expect(out.map((o) => (o.name === 'session_event' ? o.payload.event : `info:${o.payload.state}`))).toEqual([
      'StoppingCharging', 'info:FinishedEV',
      'ChargingPausedEVSE', 'info:ChargingPausedEVSE',
    ]);
    const paused = out.find((o) => o.name === 'session_event' && o.payload.event === 'ChargingPausedEVSE');
    expect(paused?.payload).toMatchObject({ charging_paused_evse: { reasons: ['UserPause'] } });
    expect(m.snapshot().powerW).toBe(0);
  });

  it('resume runs PrepareCharging -> ChargingStarted at once (no WaitingForEnergy, no ChargingResumed)', () => {
    const m = charging('2026.02');
    m.pauseCharging(2_000);
    m.drain();
    expect(m.resumeCharging(3_000)).toBe(true);
    expect(takeEventNames(m)).toEqual(['PrepareCharging', 'ChargingStarted']);
    expect(m.snapshot()).toMatchObject({ state: 'Charging', powerW: 11_000 });
  });

  it('no energy (<= 5.9 A): pauses with NoEnergy, a new event when the reasons change, resumes by itself', () => {
    const m = charging('2026.02');
    m.setLimit(5, undefined, 2_000);
    const first = takeEvents(m);
    expect(first.map((e) => e.event)).toEqual(['StoppingCharging', 'ChargingPausedEVSE']);
    expect(first[1]?.charging_paused_evse).toEqual({ reasons: ['NoEnergy'] });
    // pause_charging on top: same state, the set of reasons grows, one more event.
    expect(m.pauseCharging(3_000)).toBe(true);
    expect(takeEvents(m).map((e) => [e.event, e.charging_paused_evse?.reasons])).toEqual([['ChargingPausedEVSE', ['NoEnergy', 'UserPause']]]);
    // Power back: NoEnergy goes, UserPause holds.
    m.setLimit(16, undefined, 4_000);
    expect(takeEvents(m).map((e) => [e.event, e.charging_paused_evse?.reasons])).toEqual([['ChargingPausedEVSE', ['UserPause']]]);
    expect(m.resumeCharging(5_000)).toBe(true);
    expect(takeEventNames(m)).toEqual(['PrepareCharging', 'ChargingStarted']);
    // Without our pause the EVSE resumes by itself when the energy manager allows 6 A again.
    m.setLimit(0, undefined, 6_000);
    m.drain();
    m.setLimit(16, undefined, 7_000);
    expect(takeEventNames(m)).toEqual(['PrepareCharging', 'ChargingStarted']);
  });

  it('the car resuming from its own pause starts charging with ChargingStarted', () => {
    const m = charging('2026.02');
    m.evPause(2_000);
    expect(takeEventNames(m)).toEqual(['ChargingPausedEV']);
    m.evResume(3_000);
    expect(takeEventNames(m)).toEqual(['ChargingStarted']);
  });

  it('publishes enforced_limits but no limits; 2025.11 publishes both', () => {
    const published = (release: EverestRelease) => new Set(newModel({ release }).drain().map((o) => o.name));
    expect(published('2026.02').has('limits')).toBe(false);
    expect(published('2026.02').has('enforced_limits')).toBe(true);
    expect(published('2025.11').has('limits')).toBe(true);
  });

  it('reports an ISO 15118 failure on hlc_session_failed; 2025.11 has no such topic', () => {
    const m = charging('2026.02');
    m.hlcSessionFailed('FailedTLSHandshake', 2_000);
    expect(m.drain().filter((o) => o.name === 'hlc_session_failed').map((o) => o.payload)).toEqual([{ uuid: 'session-1', reason: 'FailedTLSHandshake' }]);
    const old = charging('2025.11');
    old.hlcSessionFailed('FailedTLSHandshake', 2_000);
    expect(names(old)).toEqual([]);
  });
});

describe('simulator m2e routes by release', () => {
  let contract: Contract;
  beforeAll(async () => {
    contract = loadContract();
  });
  const REPLY_TO = 'everest_api/1/evse_manager_consumer/evse_1/e2m/reserve/abc';
  const buf = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('2026.02 drops requests on the removed routes without a word; 2025.11 answers them', () => {
    expect(handleM2e(newModel({ release: '2026.02' }), 'reserve', buf({ headers: { replyTo: REPLY_TO }, payload: 3 }), contract, 0)).toEqual({
      kind: 'ignored',
      reason: 'reserve: no such route in EVerest 2026.02',
    });
    for (const name of ['authorize_response', 'withdraw_authorization', 'cancel_reservation', 'external_ready_to_start_charging']) {
      expect(handleM2e(newModel({ release: '2026.02' }), name, buf(null), contract, 0).kind).toBe('ignored');
    }
    expect(handleM2e(newModel({ release: '2025.11' }), 'reserve', buf({ headers: { replyTo: REPLY_TO }, payload: 3 }), contract, 0)).toMatchObject({ kind: 'reply', reply: true });
  });

  it('2026.02 executes a request without headers and answers nothing; 2025.11 does not execute it', () => {
    const m = charging('2026.02');
    expect(handleM2e(m, 'pause_charging', buf({}), contract, 2_000).kind).toBe('ignored');
    expect(m.snapshot().chargerState).toBe('ChargingPausedEVSE');
    const old = charging('2025.11');
    expect(handleM2e(old, 'pause_charging', buf({}), contract, 2_000).kind).toBe('ignored');
    expect(old.snapshot().chargerState).toBe('Charging');
  });
});
