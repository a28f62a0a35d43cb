import { pino } from 'pino';
import { Observable, Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { importCurrentAt, type ExternalLimits } from '../../../src/everest/external-limits.js';
import type { M2eRequest } from '../../../src/everest/payloads.js';
import { Enforcer, type CommandPort, type LimitSent, type LimitsPort } from '../../../src/site/enforcer.js';
import { initialEvseView, type EvseView } from '../../../src/site/evse-view.js';

/** Records limit messages and answers nothing (EVerest does not reply to set_external_limits). */
class LimitsRecorder implements LimitsPort {
  readonly sent: Array<{ limitsModuleId: string; limits: ExternalLimits; atMs: number }> = [];
  setExternalLimits(limitsModuleId: string, limits: ExternalLimits): void {
    this.sent.push({ limitsModuleId, limits, atMs: Date.now() });
  }
  /** The current the last message puts in force at `at`. */
  currentAt(at: number): number | undefined {
    const last = this.sent.at(-1);
    return last ? importCurrentAt(last.limits, at) : undefined;
  }
}

/** Commands stay in flight until the test answers them. */
class HeldPort implements CommandPort {
  readonly sent: Array<{ command: M2eRequest; answer: (v: boolean) => void }> = [];
  request<K extends M2eRequest>(_moduleId: string, command: K, ..._args: unknown[]): Observable<never> {
    return new Observable((sub) => {
      this.sent.push({
        command,
        answer: (v) => {
          sub.next(v as never);
          sub.complete();
        },
      });
    });
  }
}

const T0 = 1_000_000;
const FAILSAFE_S = 60;
const REFRESH_S = 20;
const FAILSAFE_A = 8;

describe('Enforcer: limits lane', () => {
  let limits: LimitsRecorder;
  let port: HeldPort;
  let views: Map<string, EvseView>;
  let views$: Subject<EvseView>;
  let enforcer: Enforcer;
  let sentLog: LimitSent[];

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    limits = new LimitsRecorder();
    port = new HeldPort();
    const charging: EvseView = { ...initialEvseView('evse_1'), state: 'Charging', session: { uuid: 's', startedAtMs: 0, transaction: true } };
    views = new Map([['evse_1', charging]]);
    views$ = new Subject<EvseView>();
    enforcer = new Enforcer({
      port,
      config: { enableSource: 'LocalAPI', enablePriority: 100, confirmTimeoutMs: 5000, maxRetries: 0, retryBackoffMs: 1000, rejectCooldownMs: 10_000 },
      views$,
      view: (id) => views.get(id),
      isCommandable: () => true,
      logger: pino({ level: 'silent' }),
      limits: { port: limits, modules: new Map([['evse_1', 'limits_1']]), failsafeS: FAILSAFE_S, refreshS: REFRESH_S, failsafeCurrentA: FAILSAFE_A },
    });
    sentLog = [];
    enforcer.limits$.subscribe((s) => sentLog.push(s));
  });
  afterEach(() => {
    enforcer.dispose();
    vi.useRealTimers();
  });

  it('sends the first limit at once, with the fail-safe entry failsafe_s ahead', () => {
    enforcer.setLimit('evse_1', 13, 6, false);
    expect(limits.sent).toHaveLength(1);
    expect(limits.sent[0]!.limitsModuleId).toBe('limits_1');
    expect(limits.currentAt(T0)).toBe(13);
    expect(limits.currentAt(T0 + FAILSAFE_S * 1000 - 1)).toBe(13);
    expect(limits.currentAt(T0 + FAILSAFE_S * 1000)).toBe(FAILSAFE_A);
    expect(enforcer.limitInForce('evse_1')).toEqual({ currentA: 13, raisedAtMs: T0, sentAtMs: T0 });
    expect(sentLog).toEqual([{ moduleId: 'evse_1', limitsModuleId: 'limits_1', currentA: 13, why: 'plan', atMs: T0 }]);
  });

  /** EVerest's energy manager publishes the current it enforces (about once a second). */
  function enforce(currentA: number, state: EvseView['state'] = 'Charging') {
    const view: EvseView = { ...views.get('evse_1')!, state, enforcedCurrent: { maxCurrentA: currentA, phases: 3 }, enforcedAtMs: Date.now() };
    views.set('evse_1', view);
    views$.next(view);
  }

  it('re-sends only meaningful changes, increases at most once a second, decreases at once', () => {
    enforcer.setLimit('evse_1', 10, 6, false);
    enforce(10);
    enforcer.setLimit('evse_1', 10.6, 6, false);
    expect(limits.sent).toHaveLength(1);
    enforcer.setLimit('evse_1', 12, 6, false);
    expect(limits.sent).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(limits.sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(limits.sent).toHaveLength(2);
    expect(limits.currentAt(Date.now())).toBe(12);
    enforcer.setLimit('evse_1', 7, 6, false);
    expect(limits.sent).toHaveLength(3);
    enforcer.setLimit('evse_1', 6.7, 6, false);
    expect(limits.sent).toHaveLength(3);
    enforcer.setLimit('evse_1', 6.7, 6, true);
    expect(limits.sent).toHaveLength(4);
    expect(limits.currentAt(Date.now())).toBe(6.7);
  });

  it('refreshes an unchanged limit every refresh_s, so the fail-safe never applies while we run', () => {
    enforcer.setLimit('evse_1', 13, 6, false);
    vi.advanceTimersByTime(5 * REFRESH_S * 1000);
    expect(limits.sent).toHaveLength(6);
    for (const m of limits.sent) expect(importCurrentAt(m.limits, m.atMs + REFRESH_S * 1000)).toBe(13);
    expect(sentLog.slice(1).every((s) => s.why === 'refresh')).toBe(true);
    expect(enforcer.limitInForce('evse_1')?.raisedAtMs).toBe(T0);
  });

  it('owns "held by us": a limit below the minimum holds, lifting it grants', () => {
    enforcer.setDesired('evse_1', 'leave', 9_000);
    port.sent[0]!.answer(true); // start-up release of any old enable_disable claim
    enforcer.setLimit('evse_1', 0, 6, false);
    expect(enforcer.hold('evse_1')).toEqual({ pausedByUs: true, lastOffMs: T0, interruptions: 1 });
    vi.advanceTimersByTime(5_000);
    enforcer.setLimit('evse_1', 13, 6, false);
    expect(enforcer.hold('evse_1')).toEqual({ pausedByUs: false, lastOffMs: T0, interruptions: 1, grant: { atMs: T0 + 5_000, w: 9_000 } });
    enforcer.onSessionFinished('evse_1');
    expect(enforcer.hold('evse_1')).toEqual({ pausedByUs: false });
  });

  it('counts the holds that cut off a charging car, for the rest of the session (protect_after_interruptions)', () => {
    // A hold before the car ever charged cuts nothing off.
    views.set('evse_1', { ...views.get('evse_1')!, state: 'Preparing' });
    enforcer.setLimit('evse_1', 0, 6, false);
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
    enforce(0, 'ChargingPausedEVSE');
    vi.advanceTimersByTime(2_000);
    enforcer.setLimit('evse_1', 10, 6, false);
    enforce(10);
    for (let i = 1; i <= 2; i++) {
      vi.advanceTimersByTime(2_000);
      enforcer.setLimit('evse_1', 0, 6, false);
      expect(enforcer.hold('evse_1').interruptions).toBe(i);
      enforce(0, 'ChargingPausedEVSE');
      vi.advanceTimersByTime(2_000);
      enforcer.setLimit('evse_1', 10, 6, false);
      expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: false, interruptions: i });
      enforce(10);
    }
    enforcer.onSessionFinished('evse_1');
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
  });

  it('a provisional (leftover) start ends in a yield, not an interruption; a normal admission ends the provisional run', () => {
    views.set('evse_1', { ...views.get('evse_1')!, state: 'Preparing' });
    enforcer.setLimit('evse_1', 0, 6, false);
    enforce(0, 'ChargingPausedEVSE');
    vi.advanceTimersByTime(2_000);
    enforcer.setLimit('evse_1', 7, 6, false, true);
    expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: false, provisional: true });
    enforce(7);
    vi.advanceTimersByTime(2_000);
    enforcer.setLimit('evse_1', 0, 6, false, false);
    expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: true, provisionalYields: 1 });
    expect(enforcer.hold('evse_1').interruptions).toBeUndefined();
    expect(enforcer.hold('evse_1').provisional).toBeUndefined();
    enforce(0, 'ChargingPausedEVSE');
    vi.advanceTimersByTime(2_000);
    // Normally admitted: its next hold is an interruption again.
    enforcer.setLimit('evse_1', 10, 6, false, false);
    expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: false, provisionalYields: 1 });
    expect(enforcer.hold('evse_1').provisional).toBeUndefined();
    enforce(10);
    vi.advanceTimersByTime(2_000);
    enforcer.setLimit('evse_1', 0, 6, false, false);
    expect(enforcer.hold('evse_1')).toMatchObject({ interruptions: 1, provisionalYields: 1 });
  });

  it('keeps one command in flight: an increase waits for it, a decrease does not', () => {
    enforcer.request('evse_1', { type: 'pause' }, 'api');
    expect(port.sent).toHaveLength(1);
    enforcer.setLimit('evse_1', 16, 6, false);
    expect(limits.sent).toHaveLength(0);
    port.sent[0]!.answer(true);
    const paused: EvseView = { ...views.get('evse_1')!, state: 'ChargingPausedEVSE' };
    views.set('evse_1', paused);
    views$.next(paused);
    expect(limits.sent).toHaveLength(1);
    enforcer.request('evse_1', { type: 'resume' }, 'api');
    enforcer.setLimit('evse_1', 0, 6, false);
    expect(limits.currentAt(Date.now())).toBe(0);
  });

  it('one limit in flight: an increase waits until enforced_limits confirms the last one; a decrease never waits', () => {
    enforcer.setLimit('evse_1', 10, 6, false);
    vi.advanceTimersByTime(1_500);
    // An enforced_limits from before our message confirms nothing, nor does one above our limit.
    const stale: EvseView = { ...views.get('evse_1')!, enforcedCurrent: { maxCurrentA: 10, phases: 3 }, enforcedAtMs: T0 - 1 };
    views.set('evse_1', stale);
    views$.next(stale);
    enforce(16);
    enforcer.setLimit('evse_1', 14, 6, false);
    expect(limits.sent).toHaveLength(1);
    enforcer.setLimit('evse_1', 8, 6, false);
    expect(limits.currentAt(Date.now())).toBe(8);
    enforce(8);
    enforcer.setLimit('evse_1', 14, 6, false);
    // Confirmed; the calm rule still spaces increases a second apart.
    vi.advanceTimersByTime(1_000);
    expect(limits.currentAt(Date.now())).toBe(14);
  });

  it('a hold EVerest does not enforce climbs the ladder: pause_charging, then enable_disable, with an alarm', () => {
    const alarms: string[] = [];
    enforcer.alarms$.subscribe((a) => alarms.push(`${a.state} ${a.failed}->${a.next}`));
    enforcer.setDesired('evse_1', 'leave');
    port.sent[0]!.answer(true); // start-up release
    for (let i = 0; i < 2; i++) {
      enforcer.setLimit('evse_1', 0, 6, false);
      enforce(16);
      vi.advanceTimersByTime(5_001);
      enforcer.setLimit('evse_1', 6, 6, false);
    }
    expect(alarms).toEqual([]);
    // The ladder starts again whenever the hold is lifted; now two unconfirmed holds in a row.
    enforcer.setLimit('evse_1', 0, 6, false);
    vi.advanceTimersByTime(5_001);
    expect(alarms).toEqual([]);
    // The refresh of the hold is watched too: still not enforced.
    vi.advanceTimersByTime(REFRESH_S * 1000);
    expect(alarms).toEqual(['raised limit->pause']);
    expect(port.sent.at(-1)?.command).toBe('pause_charging');
    port.sent.at(-1)!.answer(false);
    vi.advanceTimersByTime(10_001);
    expect(port.sent.at(-1)?.command).toBe('pause_charging');
    port.sent.at(-1)!.answer(false);
    expect(alarms).toEqual(['raised limit->pause', 'raised pause->disable']);
    expect(port.sent.at(-1)?.command).toBe('enable_disable');
  });

  it('sends the fail-safe current at once on a clean shutdown, and stops refreshing', () => {
    enforcer.setLimit('evse_1', 13, 6, false);
    enforcer.sendFailsafe();
    expect(limits.sent).toHaveLength(2);
    expect(limits.currentAt(Date.now())).toBe(FAILSAFE_A);
    expect(limits.sent[1]!.limits.schedule_import).toHaveLength(1);
    vi.advanceTimersByTime(3 * REFRESH_S * 1000);
    expect(limits.sent).toHaveLength(2);
  });

  it('re-sends the limit in force when the limits module restarts', () => {
    enforcer.setLimit('evse_1', 13, 6, false);
    vi.advanceTimersByTime(3_000);
    enforcer.onLimitsModuleRestart('evse_1');
    expect(limits.sent).toHaveLength(2);
    expect(sentLog.at(-1)).toMatchObject({ why: 'restart', currentA: 13 });
  });
});
