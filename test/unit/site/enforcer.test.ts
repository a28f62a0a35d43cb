import { pino } from 'pino';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestTimeoutError } from '../../../src/everest/errors.js';
import type { ActionRecord } from '../../../src/site/actions.js';
import { Enforcer } from '../../../src/site/enforcer.js';
import { initialEvseView, type EvseView } from '../../../src/site/evse-view.js';
import { SCRIPTED_CONFIG, ScriptedPort, chargingView } from '../../support/scripted-port.js';

const CONFIG = SCRIPTED_CONFIG;
const charging = chargingView;

describe('Enforcer', () => {
  let port: ScriptedPort;
  let views: Map<string, EvseView>;
  let views$: Subject<EvseView>;
  let commandable: Set<string>;
  let enforcer: Enforcer;
  let actions: ActionRecord[];

  const setView = (view: EvseView) => {
    views.set(view.moduleId, view);
    views$.next(view);
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    port = new ScriptedPort();
    views = new Map([['evse_1', charging()]]);
    views$ = new Subject();
    commandable = new Set(['evse_1']);
    enforcer = new Enforcer({
      port,
      config: CONFIG,
      views$,
      view: (id) => views.get(id),
      isCommandable: (id) => commandable.has(id),
      logger: pino({ level: 'silent' }),
    });
    actions = [];
    enforcer.actions$.subscribe((a) => actions.push(a));
  });
  afterEach(() => {
    enforcer.dispose();
    vi.useRealTimers();
  });

  /** Gets past the start-up reconcile (release of any claim from an earlier run). */
  function reconcile() {
    expect(port.last().command).toBe('enable_disable');
    expect(port.last().payload).toEqual({ connector_id: 1, source: { enable_source: 'LocalAPI', enable_state: 'Unassigned', enable_priority: 100 } });
    port.last().answer(true);
  }

  it('releases its own claim first on start-up, with Unassigned (never a blind Enable)', () => {
    enforcer.setDesired('evse_1', 'charge');
    reconcile();
    expect(actions.at(-1)).toMatchObject({ type: 'release', origin: 'reconcile', status: 'completed' });
    expect(port.sent).toHaveLength(1);
  });

  it('keeps one command in flight: the next waits for the reply and the confirming state change', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    expect(port.last().command).toBe('pause_charging');
    enforcer.request('evse_1', { type: 'unlock', connector_id: 1 }, 'api');
    expect(port.sent).toHaveLength(2);
    port.last().answer(true);
    // Reply received, but the EVSE has not shown ChargingPausedEVSE yet: still nothing new on the wire.
    expect(port.sent).toHaveLength(2);
    expect(enforcer.busy('evse_1')).toBe(true);
    setView({ ...charging(), state: 'ChargingPausedEVSE' });
    expect(actions.filter((a) => a.type === 'pause').at(-1)?.status).toBe('completed');
    expect(port.sent).toHaveLength(3);
    expect(port.last().command).toBe('force_unlock');
  });

  it('a reply of true without the state change times out as timed_out, and the lane frees', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    port.last().answer(true);
    vi.advanceTimersByTime(CONFIG.confirmTimeoutMs + 1);
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'timed_out' });
    expect(enforcer.busy('evse_1')).toBe(false);
  });

  it('a reply of false is a rejection with its reason, and the same command is not hammered', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    port.last().answer(false);
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'rejected', result: 'EVSE answered false to pause' });
    setView({ ...charging(), powerW: 10_000 });
    expect(port.sent).toHaveLength(2);
    vi.advanceTimersByTime(CONFIG.rejectCooldownMs + 1);
    expect(port.sent).toHaveLength(3);
    expect(port.last().command).toBe('pause_charging');
  });

  it('retries a request timeout with backoff, then gives up as timed_out', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000));
    expect(port.sent).toHaveLength(2);
    vi.advanceTimersByTime(999);
    expect(port.sent).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(port.sent).toHaveLength(3);
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000));
    vi.advanceTimersByTime(2000);
    expect(port.sent).toHaveLength(4);
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000));
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'timed_out', attempts: 3 });
  });

  it('a request that timed out but took effect (slow or lost reply) is completed, never sent again', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    // The ChargingPausedEVSE event arrives, the reply does not (broker hiccup, slow EVerest).
    setView({ ...charging(), state: 'ChargingPausedEVSE' });
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000));
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'completed' });
    expect(port.sent.filter((s) => s.command === 'pause_charging')).toHaveLength(1);
  });

  it('checks the state again before a retry: a pause that shows during the backoff is not re-sent', () => {
    enforcer.setDesired('evse_1', 'pause');
    reconcile();
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000));
    setView({ ...charging(), state: 'ChargingPausedEVSE' });
    vi.advanceTimersByTime(CONFIG.retryBackoffMs);
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'completed' });
    expect(port.sent.filter((s) => s.command === 'pause_charging')).toHaveLength(1);
  });

  it('never commands an EVSE whose heartbeat is not current', () => {
    commandable.clear();
    enforcer.setDesired('evse_1', 'pause');
    enforcer.request('evse_1', { type: 'stop' }, 'api');
    expect(port.sent).toHaveLength(0);
    commandable.add('evse_1');
    enforcer.poke('evse_1');
    expect(port.sent).toHaveLength(1);
    expect(port.last().command).toBe('stop_transaction');
  });

  it('holds with Disable for our source; a reply of true means another source keeps it enabled', () => {
    enforcer.setDesired('evse_1', 'hold_disabled');
    expect(port.last().payload).toEqual({ connector_id: 1, source: { enable_source: 'LocalAPI', enable_state: 'Disable', enable_priority: 100 } });
    port.last().answer(true);
    expect(actions.at(-1)).toMatchObject({ type: 'disable', status: 'rejected' });
    expect(actions.at(-1)?.result).toContain('higher-priority source');
  });

  it('resumes only a car paused by the EVSE side, and confirms on Charging', () => {
    setView({ ...charging(), state: 'ChargingPausedEVSE', powerW: 0 });
    enforcer.setDesired('evse_1', 'charge');
    reconcile();
    expect(port.last().command).toBe('resume_charging');
    port.last().answer(true);
    setView(charging());
    expect(actions.at(-1)).toMatchObject({ type: 'resume', status: 'completed' });

    setView({ ...charging(), state: 'ChargingPausedEV', powerW: 0 });
    expect(port.sent).toHaveLength(2);
  });

  it("a person's pause holds until the session ends: scheduler wishes wait", () => {
    enforcer.setDesired('evse_1', 'charge');
    reconcile();
    enforcer.request('evse_1', { type: 'pause', reason: 'driver asked' }, 'api');
    port.last().answer(true);
    setView({ ...charging(), state: 'ChargingPausedEVSE', powerW: 0 });
    expect(enforcer.manualHold('evse_1')).toBe('pause');
    enforcer.setDesired('evse_1', 'pause');
    enforcer.setDesired('evse_1', 'charge');
    expect(port.sent.filter((s) => s.command === 'resume_charging')).toHaveLength(0);
    setView({ ...initialEvseView('evse_1'), state: 'Unplugged' });
    expect(enforcer.manualHold('evse_1')).toBeUndefined();
  });

  it('a read-only query takes its turn in the lane: never overlapping a command', () => {
    enforcer.setDesired('evse_1', 'pause');
    expect(port.sent).toHaveLength(1); // the start-up release
    const got: unknown[] = [];
    enforcer.exclusive('evse_1', () => port.request('evse_1', 'get_evse')).subscribe((v) => got.push(v));
    expect(port.sent).toHaveLength(1);
    port.last().answer(true);
    expect(port.sent).toHaveLength(2);
    expect(port.last().command).toBe('get_evse');
    port.last().answer(true);
    expect(got).toEqual([true]);
    // Only now the command the scheduler wants.
    expect(port.last().command).toBe('pause_charging');
  });

  it('after an EVerest restart the claim is known gone and nothing is re-released', () => {
    enforcer.setDesired('evse_1', 'charge');
    reconcile();
    enforcer.onEverestRestart('evse_1');
    expect(port.sent).toHaveLength(1);
  });
});
