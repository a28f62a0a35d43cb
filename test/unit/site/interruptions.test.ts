import { pino } from 'pino';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EvseState } from '../../../src/everest/payloads.js';
import type { InterruptionRecord } from '../../../src/priorities/interruptions.js';
import { Enforcer, type LimitsPort } from '../../../src/site/enforcer.js';
import type { EvseView } from '../../../src/site/evse-view.js';
import type { HoldLedger } from '../../../src/site/holds.js';
import { ENERGY_SLACK_WH, reconcileInterruptions, type InterruptionLedger } from '../../../src/site/interruptions.js';
import { aChargingView, anIdleView } from '../../support/builders/evse-view.js';
import { SCRIPTED_CONFIG, ScriptedPort } from '../../support/scripted-port.js';

const counted = (overrides: Partial<InterruptionRecord> = {}): InterruptionRecord => ({
  module_id: 'evse_1',
  session_uuid: 'session-evse_1',
  interruptions: 1,
  provisional_yields: 0,
  energy_wh: 5_000,
  at: '2025-01-01T00:00:00.000Z',
  ...overrides,
});
/** What the module knows after a restart from session_info alone: no uuid of EVerest's. */
const bootstrapped = (overrides: Partial<EvseView> = {}): EvseView =>
  aChargingView('evse_1', { session: { uuid: 'bootstrap-evse_1', startedAtMs: 0, transaction: true }, eventsSeen: false, energyWh: 6_000, ...overrides });

describe('reconcileInterruptions: is the count still this session\'s?', () => {
  it.each<[string, EvseView, 'keep' | 'drop' | 'wait']>([
    ['no state reported yet', aChargingView('evse_1', { state: 'Unknown' }), 'wait'],
    ['state in doubt', aChargingView('evse_1', { stateInDoubt: true }), 'wait'],
    ['FinishedEV (2026.02 shows it while a pause passes through StoppingCharging)', aChargingView('evse_1', { state: 'FinishedEV' }), 'wait'],
    ['the same session charging', aChargingView(), 'keep'],
    ['the same session held', aChargingView('evse_1', { state: 'ChargingPausedEVSE', powerW: 0 }), 'keep'],
    ['another session', aChargingView('evse_1', { session: { uuid: 'session-new', startedAtMs: 0, transaction: true } }), 'drop'],
    ['no session (unplugged)', anIdleView(), 'drop'],
    ['the session finished', aChargingView('evse_1', { state: 'Finished' }), 'drop'],
    ['the session finished by the EVSE', aChargingView('evse_1', { state: 'FinishedEVSE' }), 'drop'],
    ['session_info only, charged more since', bootstrapped(), 'keep'],
    ['session_info only, charged a little less (whole Wh, a sample behind)', bootstrapped({ energyWh: 5_000 - ENERGY_SLACK_WH }), 'keep'],
    ['session_info only, charged less than when counted: another session', bootstrapped({ energyWh: 120 }), 'drop'],
  ])('%s: %s', (_case, view, verdict) => {
    expect(reconcileInterruptions(counted(), view)).toBe(verdict);
  });

  it('a count written for a session learned from session_info only (no uuid) is kept for any session until that one ends', () => {
    expect(reconcileInterruptions(counted({ session_uuid: undefined }), aChargingView('evse_1', { session: { uuid: 'u-9', startedAtMs: 0, transaction: true } }))).toBe('keep');
    expect(reconcileInterruptions(counted({ session_uuid: undefined }), anIdleView())).toBe('drop');
  });
});

/** Counts in memory; `failing` rejects every write, as a full disk would. */
class MemoryCounts implements InterruptionLedger {
  readonly records = new Map<string, InterruptionRecord>();
  readonly writes: InterruptionRecord[] = [];
  failing = false;
  interruptions(): InterruptionRecord[] {
    return [...this.records.values()];
  }
  putInterruptions(record: InterruptionRecord): Promise<void> {
    if (this.failing) return Promise.reject(new Error('ENOSPC: no space left on device'));
    this.records.set(record.module_id, record);
    this.writes.push(record);
    return Promise.resolve();
  }
  dropInterruptions(moduleId: string): Promise<boolean> {
    return Promise.resolve(this.records.delete(moduleId));
  }
}

class NoLimits implements LimitsPort {
  readonly sent: string[] = [];
  setExternalLimits(limitsModuleId: string): void {
    this.sent.push(limitsModuleId);
  }
}

const T0 = 1_000_000;

describe('Enforcer: the interruption count survives a restart', () => {
  let ledger: MemoryCounts;
  let views: Map<string, EvseView>;
  let views$: Subject<EvseView>;
  let limits: NoLimits;
  let enforcer: Enforcer;
  let errors: string[];

  const setView = (view: EvseView) => {
    views.set(view.moduleId, view);
    views$.next(view);
  };
  const state = (s: EvseState, overrides: Partial<EvseView> = {}) => setView({ ...views.get('evse_1')!, state: s, powerW: s === 'Charging' ? 11_000 : 0, ...overrides });

  function start(stored: InterruptionRecord[] = [], first: EvseView = aChargingView()) {
    for (const r of stored) ledger.records.set(r.module_id, r);
    views.set('evse_1', first);
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push((JSON.parse(line) as { msg: string }).msg) });
    enforcer = new Enforcer({
      port: new ScriptedPort(),
      config: SCRIPTED_CONFIG,
      views$,
      view: (id) => views.get(id),
      isCommandable: () => true,
      logger,
      interruptions: ledger,
      limits: { port: limits, modules: new Map([['evse_1', 'limits_1']]), failsafeS: 60, refreshS: 20, failsafeCurrentA: 8 },
    });
    enforcer.restoreInterruptions((id) => id === 'evse_1');
  }
  /** A hold by limit, then the power back, each confirmed by enforced_limits: one interruption of a charging car. */
  function bounce() {
    enforcer.setLimit('evse_1', 0, 6, false);
    state('ChargingPausedEVSE', { enforcedCurrent: { maxCurrentA: 0, phases: 3 }, enforcedAtMs: Date.now() });
    vi.advanceTimersByTime(2_000);
    enforcer.setLimit('evse_1', 10, 6, false);
    state('Charging', { enforcedCurrent: { maxCurrentA: 10, phases: 3 }, enforcedAtMs: Date.now() });
    vi.advanceTimersByTime(2_000);
  }

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    ledger = new MemoryCounts();
    views = new Map();
    views$ = new Subject();
    limits = new NoLimits();
    errors = [];
  });
  afterEach(() => {
    enforcer.dispose();
    vi.useRealTimers();
  });

  it('is written when it changes, with the session uuid and its energy, not on every plan', () => {
    start();
    enforcer.setLimit('evse_1', 10, 6, false);
    enforcer.setLimit('evse_1', 10, 6, false);
    expect(ledger.writes).toEqual([]);
    bounce();
    for (let i = 0; i < 5; i++) enforcer.setLimit('evse_1', 10, 6, false);
    expect(ledger.writes).toEqual([{ module_id: 'evse_1', session_uuid: 'session-evse_1', interruptions: 1, provisional_yields: 0, energy_wh: 11_000, at: new Date(T0).toISOString() }]);
    bounce();
    expect(ledger.writes.map((w) => w.interruptions)).toEqual([1, 2]);
  });

  it('is dropped when the session finishes, and a new session counts from 0', () => {
    start();
    bounce();
    enforcer.onSessionFinished('evse_1');
    expect(ledger.records.size).toBe(0);
    setView(anIdleView());
    setView(aChargingView('evse_1', { session: { uuid: 'session-2', startedAtMs: T0, transaction: true }, energyWh: 0 }));
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
  });

  it('is dropped, in memory too, when another session shows up without a SessionFinished (a lost event)', () => {
    start();
    bounce();
    expect(enforcer.hold('evse_1').interruptions).toBe(1);
    setView(aChargingView('evse_1', { session: { uuid: 'session-2', startedAtMs: T0, transaction: true }, energyWh: 0 }));
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
    expect(ledger.records.size).toBe(0);
  });

  it('read back after a restart: nothing until EVerest reports the state, then applied to the same session', () => {
    start([counted({ interruptions: 1, provisional_yields: 1 })], aChargingView('evse_1', { state: 'Unknown', session: undefined, eventsSeen: false }));
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
    setView(bootstrapped());
    expect(enforcer.hold('evse_1')).toEqual({ pausedByUs: false, interruptions: 1, provisionalYields: 1 });
    expect(ledger.records.has('evse_1')).toBe(true);
    // The next bounce counts on from there and keeps the uuid the module no longer sees.
    bounce();
    expect(ledger.records.get('evse_1')).toMatchObject({ session_uuid: 'session-evse_1', interruptions: 2, provisional_yields: 1, energy_wh: 6_000 });
  });

  it.each<[string, EvseView]>([
    ['the car left while we were away', anIdleView()],
    ['another session runs (events)', aChargingView('evse_1', { session: { uuid: 'session-2', startedAtMs: T0, transaction: true } })],
    ['another session runs (session_info only: it charged less than the count says)', bootstrapped({ energyWh: 300 })],
  ])('read back after a restart and dropped: %s', (_case, view) => {
    start([counted()], aChargingView('evse_1', { state: 'Unknown', session: undefined, eventsSeen: false }));
    setView(view);
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
    expect(ledger.records.size).toBe(0);
  });

  it('a count for an EVSE no longer configured is dropped at start', () => {
    start([counted({ module_id: 'evse_gone' }), counted()]);
    expect([...ledger.records.keys()]).toEqual(['evse_1']);
  });

  it('a pause is written before its count: the command waits for the hold\'s write only', async () => {
    const order: string[] = [];
    const holds: HoldLedger = {
      holds: () => [],
      putHold: (hold) => {
        order.push(`hold ${hold.kind}`);
        return Promise.resolve();
      },
      dropHold: () => Promise.resolve(false),
    };
    const port = new ScriptedPort();
    views.set('evse_1', aChargingView());
    enforcer = new Enforcer({ port, config: SCRIPTED_CONFIG, views$, view: (id) => views.get(id), isCommandable: () => true, logger: pino({ level: 'silent' }), holds, interruptions: ledger });
    const put = ledger.putInterruptions.bind(ledger);
    ledger.putInterruptions = (record) => {
      order.push(`count ${record.interruptions}`);
      return put(record);
    };
    enforcer.setDesired('evse_1', 'pause');
    port.last().answer(true); // the start-up release of an old claim
    await vi.advanceTimersByTimeAsync(0);
    expect(port.last().command).toBe('pause_charging');
    expect(order).toEqual(['hold pause', 'count 1']);
  });

  it('a failed write is logged and the hold goes out all the same', async () => {
    start();
    ledger.failing = true;
    enforcer.setLimit('evse_1', 0, 6, false);
    await vi.advanceTimersByTimeAsync(0);
    expect(limits.sent).toEqual(['limits_1']);
    expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: true, interruptions: 1 });
    expect(errors).toEqual(['could not write the interruption count to the store: after a restart this session may be interrupted once more']);
  });
});
