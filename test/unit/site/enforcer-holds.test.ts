import { pino } from 'pino';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestTimeoutError } from '../../../src/everest/errors.js';
import type { EvseState } from '../../../src/everest/payloads.js';
import type { HoldRecord } from '../../../src/priorities/holds.js';
import type { ActionRecord } from '../../../src/site/actions.js';
import { Enforcer } from '../../../src/site/enforcer.js';
import type { HoldAlarm } from '../../../src/site/escalation.js';
import type { EvseView } from '../../../src/site/evse-view.js';
import type { HoldLedger } from '../../../src/site/holds.js';
import { SCRIPTED_CONFIG, ScriptedPort, chargingView } from '../../support/scripted-port.js';

/** Holds in memory; `gate` keeps writes pending until the test opens it (an fsync that takes its time). */
class MemoryLedger implements HoldLedger {
  readonly records = new Map<string, HoldRecord>();
  readonly writes: string[] = [];
  private waiting: Array<() => void> = [];
  gate = false;
  holds(): HoldRecord[] {
    return [...this.records.values()];
  }
  putHold(hold: HoldRecord): Promise<void> {
    return new Promise((resolve) => {
      const write = () => {
        this.records.set(hold.module_id, hold);
        this.writes.push(`put ${hold.kind}`);
        resolve();
      };
      if (this.gate) this.waiting.push(write);
      else write();
    });
  }
  dropHold(moduleId: string): Promise<boolean> {
    this.writes.push('drop');
    return Promise.resolve(this.records.delete(moduleId));
  }
  open(): void {
    this.gate = false;
    for (const w of this.waiting.splice(0)) w();
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe('Enforcer: durable holds, uncertain outcomes, escalation', () => {
  let port: ScriptedPort;
  let ledger: MemoryLedger;
  let views: Map<string, EvseView>;
  let views$: Subject<EvseView>;
  let enforcer: Enforcer;
  let actions: ActionRecord[];
  let alarms: HoldAlarm[];

  const setView = (view: EvseView) => {
    views.set(view.moduleId, view);
    views$.next(view);
  };
  /** The next session_info: settles a doubt with the state EVerest reports. */
  const read = (state: EvseState) => setView({ ...chargingView(), state, powerW: state === 'Charging' ? 11000 : 0, stateInDoubt: false, stateReadAtMs: Date.now() });

  function start(stored: HoldRecord[] = []) {
    for (const h of stored) ledger.records.set(h.module_id, h);
    enforcer = new Enforcer({
      port,
      config: { ...SCRIPTED_CONFIG, escalateAfterFailures: 2 },
      views$,
      view: (id) => views.get(id),
      isCommandable: () => true,
      logger: pino({ level: 'silent' }),
      holds: ledger,
      doubt: (id) => {
        const v = views.get(id);
        if (v) setView({ ...v, stateInDoubt: true });
      },
    });
    enforcer.actions$.subscribe((a) => actions.push(a));
    enforcer.alarms$.subscribe((a) => alarms.push(a));
    enforcer.restoreHolds((id) => id === 'evse_1');
  }

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    port = new ScriptedPort();
    ledger = new MemoryLedger();
    views = new Map([['evse_1', chargingView()]]);
    views$ = new Subject();
    actions = [];
    alarms = [];
  });
  afterEach(() => {
    enforcer.dispose();
    vi.useRealTimers();
  });

  async function pastRelease() {
    expect(port.last().command).toBe('enable_disable');
    port.last().answer(true);
    await settle();
  }

  it('a pause is on disk before it reaches EVerest; a completed resume forgets it', async () => {
    start();
    ledger.gate = true;
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    // The write is pending: nothing on the wire yet.
    expect(port.sent.map((s) => s.command)).toEqual(['enable_disable']);
    ledger.open();
    await settle();
    expect(port.last().command).toBe('pause_charging');
    expect(ledger.records.get('evse_1')).toMatchObject({ module_id: 'evse_1', kind: 'pause', origin: 'scheduler', session_uuid: 's' });
    port.last().answer(true);
    setView({ ...chargingView(), state: 'ChargingPausedEVSE', powerW: 0 });
    enforcer.setDesired('evse_1', 'charge');
    expect(port.last().command).toBe('resume_charging');
    expect(ledger.records.has('evse_1')).toBe(false);
  });

  it('a hold read back after a restart counts as ours, survives the start-up release, and is kept when EVerest shows the pause', async () => {
    views.set('evse_1', { ...chargingView(), state: 'Unknown', eventsSeen: false });
    start([{ module_id: 'evse_1', kind: 'pause', origin: 'scheduler', session_uuid: 's', since: new Date(999_000).toISOString() }]);
    expect(enforcer.hold('evse_1')).toMatchObject({ pausedByUs: true, lastOffMs: 999_000 });
    read('ChargingPausedEVSE');
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    expect(enforcer.hold('evse_1').pausedByUs).toBe(true);
    expect(ledger.records.has('evse_1')).toBe(true);
    // The other car left: ours to resume.
    enforcer.setDesired('evse_1', 'charge');
    expect(port.last().command).toBe('resume_charging');
  });

  it('a hold EVerest no longer reports (the car charges again, or left) is dropped', () => {
    start([{ module_id: 'evse_1', kind: 'pause', origin: 'scheduler', since: new Date(999_000).toISOString() }]);
    read('Charging');
    expect(enforcer.hold('evse_1').pausedByUs).toBe(false);
    expect(ledger.records.has('evse_1')).toBe(false);
  });

  it("`false` to a pause whose event was lost is settled by re-reading the state: completed, not rejected", async () => {
    start();
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    await settle();
    port.last().answer(false);
    expect(views.get('evse_1')?.stateInDoubt).toBe(true);
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'in_flight' });
    read('ChargingPausedEVSE');
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'completed' });
    expect(actions.at(-1)?.result).toContain('shows it done');
  });

  it('`false` with a fresh read that shows no pause is a rejection', async () => {
    start();
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    await settle();
    port.last().answer(false);
    read('Charging');
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'rejected', result: 'EVSE answered false to pause' });
  });

  /** A scheduler pause whose request timed out; the returned subject plays the client's late-reply window. */
  async function pauseTimesOut(): Promise<Subject<unknown>> {
    start();
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    await settle();
    const late = new Subject<unknown>();
    port.last().fail(new RequestTimeoutError('pause_charging', 'evse_1', 5000, late));
    // Far beyond the retry backoff: still waiting for the first request.
    await vi.advanceTimersByTimeAsync(SCRIPTED_CONFIG.retryBackoffMs * 8);
    expect(port.sent.filter((s) => s.command === 'pause_charging')).toHaveLength(1);
    return late;
  }

  it('never retries while the request may still be pending: a late reply completes it, with no second pause on the wire', async () => {
    const late = await pauseTimesOut();
    late.next(true);
    late.complete();
    setView({ ...chargingView(), state: 'ChargingPausedEVSE', powerW: 0 });
    expect(actions.at(-1)).toMatchObject({ type: 'pause', status: 'completed', reply: true });
    expect(port.sent.filter((s) => s.command === 'pause_charging')).toHaveLength(1);
  });

  it('retries only after the late-reply window closed empty', async () => {
    const late = await pauseTimesOut();
    late.complete();
    await vi.advanceTimersByTimeAsync(SCRIPTED_CONFIG.retryBackoffMs);
    expect(port.sent.filter((s) => s.command === 'pause_charging')).toHaveLength(2);
  });

  it('an EVSE that refuses pauses: after 2 failed holds the ladder takes enable_disable, with an alarm; cleared when the hold is no longer wanted', async () => {
    start();
    enforcer.setDesired('evse_1', 'pause');
    await pastRelease();
    for (let i = 0; i < 2; i++) {
      await settle();
      expect(port.last().command).toBe('pause_charging');
      port.last().answer(false);
      read('Charging');
      if (i === 0) await vi.advanceTimersByTimeAsync(SCRIPTED_CONFIG.rejectCooldownMs + 1);
    }
    await settle();
    expect(alarms).toEqual([expect.objectContaining({ moduleId: 'evse_1', state: 'raised', failed: 'pause', next: 'disable', failures: 2 })]);
    expect(enforcer.alarmed('evse_1')).toBe(true);
    expect(port.last().command).toBe('enable_disable');
    expect(port.last().payload).toMatchObject({ source: { enable_state: 'Disable' } });
    // One command in flight: nothing else goes while the Disable is unanswered.
    const before = port.sent.length;
    await vi.advanceTimersByTimeAsync(SCRIPTED_CONFIG.rejectCooldownMs * 2);
    expect(port.sent.length).toBe(before);
    port.last().answer(false);
    await settle();
    expect(ledger.records.get('evse_1')).toMatchObject({ kind: 'disable' });
    enforcer.setDesired('evse_1', 'charge');
    expect(alarms.at(-1)).toMatchObject({ state: 'cleared', failed: 'disable' });
    expect(enforcer.alarmed('evse_1')).toBe(false);
    // The Disable is released with Unassigned, never a blind Enable.
    expect(port.last().payload).toMatchObject({ source: { enable_state: 'Unassigned' } });
  });
});
