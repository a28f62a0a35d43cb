import { Subject, VirtualTimeScheduler, type Observable } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { CommunicationCheck, HeartbeatMonitor, type LivenessClient, type LivenessEvent } from '../../../src/everest/liveness.js';
import type { Tagged } from '../../../src/everest/client.js';
import type { Heartbeat } from '../../../src/everest/payloads.js';
import type { Logger } from '../../../src/log/logger.js';
import type { ConnectionStatus } from '../../../src/transport/mqtt-transport.js';
import { captureLog } from '../../support/log-capture.js';

/** The EVerest side as liveness sees it: heartbeats a test publishes, communication checks it records. */
class FakeEverest implements LivenessClient {
  private readonly beats = new Subject<Tagged<Heartbeat>>();
  readonly sent: Array<{ moduleId: string; value: boolean; at: number }> = [];
  failing = false;

  constructor(private readonly clock: VirtualTimeScheduler) {}

  onEvery(): Observable<Tagged<Heartbeat>> {
    return this.beats.asObservable();
  }

  send(moduleId: string, _name: 'communication_check', payload: boolean): Promise<void> {
    if (this.failing) return Promise.reject(new Error('not connected'));
    this.sent.push({ moduleId, value: payload, at: this.clock.now() });
    return Promise.resolve();
  }

  beat(moduleId: string, counter: Heartbeat): void {
    this.beats.next({ moduleId, value: counter });
  }
}

/** A logger whose JSON lines a test reads back. */
function capturingLogger(): { logger: Logger; lines: () => Array<{ level: number; msg: string; [k: string]: unknown }> } {
  const log = captureLog('debug');
  return { logger: log.logger, lines: () => log.lines.map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

/** Runs the virtual clock up to `ms` (absolute); periodic timers stop there instead of running forever. */
function advanceTo(clock: VirtualTimeScheduler, ms: number): void {
  // A no-op at `ms` so that the clock ends there even when nothing else is due.
  clock.schedule(() => undefined, ms - clock.frame);
  clock.maxFrames = ms;
  clock.flush();
}

/** Lets the promise callbacks of sends settle (they record lastSentAt). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('HeartbeatMonitor', () => {
  let clock: VirtualTimeScheduler;
  let everest: FakeEverest;
  let log: ReturnType<typeof capturingLogger>;
  let events: LivenessEvent[];

  const monitor = (timeoutMs = 3000): HeartbeatMonitor => {
    const m = new HeartbeatMonitor({ client: everest, moduleIds: ['evse_1', 'evse_2'], timeoutMs, logger: log.logger, scheduler: clock });
    m.events$.subscribe((e) => events.push(e));
    return m;
  };

  beforeEach(() => {
    clock = new VirtualTimeScheduler(undefined, 0);
    everest = new FakeEverest(clock);
    log = capturingLogger();
    events = [];
  });

  it('knows nothing before the first beat, and nothing about modules it does not watch', () => {
    const m = monitor();
    expect(m.current('evse_1')).toEqual({ moduleId: 'evse_1', status: 'unknown', lost: 0, restarts: 0 });
    expect(m.isCommandable('evse_1')).toBe(false);
    expect(m.current('evse_9')).toBeUndefined();
    expect(() => m.state$('evse_9')).toThrow(/no heartbeat monitor for evse_9/);
  });

  it('a beat makes the EVSE online and commandable, stamped with the injected clock', () => {
    const m = monitor();
    advanceTo(clock, 500);
    everest.beat('evse_1', 7);
    expect(m.current('evse_1')).toEqual({ moduleId: 'evse_1', status: 'online', counter: 7, lastSeenMs: 500, lost: 0, restarts: 0 });
    expect(m.isCommandable('evse_1')).toBe(true);
    expect(m.isCommandable('evse_2')).toBe(false);
    expect(events).toEqual([{ moduleId: 'evse_1', type: 'online' }]);
  });

  it('counts a gap in the counter as lost heartbeats, and stays online', () => {
    const m = monitor();
    everest.beat('evse_1', 1);
    everest.beat('evse_1', 2);
    everest.beat('evse_1', 5);
    expect(m.current('evse_1')).toMatchObject({ status: 'online', counter: 5, lost: 2, restarts: 0 });
    expect(events).toEqual([
      { moduleId: 'evse_1', type: 'online' },
      { moduleId: 'evse_1', type: 'gap', lost: 2, counter: 5 },
    ]);
    expect(log.lines().find((l) => l.msg === 'heartbeat gap: messages lost')).toMatchObject({ moduleId: 'evse_1', lost: 2 });
  });

  it('a counter going back means EVerest restarted: reported once, then online again with the next beat', () => {
    const m = monitor();
    everest.beat('evse_1', 41);
    everest.beat('evse_1', 42);
    everest.beat('evse_1', 3);
    expect(m.current('evse_1')).toMatchObject({ status: 'restarted', counter: 3, restarts: 1, lost: 0 });
    expect(m.isCommandable('evse_1')).toBe(true);
    everest.beat('evse_1', 4);
    expect(m.current('evse_1')).toMatchObject({ status: 'online', counter: 4, restarts: 1 });
    expect(events).toEqual([
      { moduleId: 'evse_1', type: 'online' },
      { moduleId: 'evse_1', type: 'restart', counter: 3, previous: 42 },
      { moduleId: 'evse_1', type: 'online' },
    ]);
  });

  it('a restart is logged at once and whole; resets a peer repeats are counted into one line a minute, every one still reported', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `evse_${i + 1}`);
    const m = new HeartbeatMonitor({ client: everest, moduleIds: ids, timeoutMs: 0, logger: log.logger, scheduler: clock });
    m.events$.subscribe((e) => events.push(e));
    const resetLines = () => log.lines().filter((l) => l.msg.startsWith('heartbeat counter reset'));
    for (const id of ids) everest.beat(id, 10);

    everest.beat('evse_1', 0);
    expect(resetLines()).toEqual([expect.objectContaining({ level: 40, msg: 'heartbeat counter reset: EVerest restarted', moduleId: 'evse_1', counter: 0, previous: 10 })]);

    // A peer resetting every counter, three rounds within the minute: no further line yet.
    for (let round = 0; round < 3; round++) {
      for (const id of ids) {
        everest.beat(id, 1000);
        everest.beat(id, 0);
      }
    }
    expect(resetLines()).toHaveLength(1);
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(151);
    expect(ids.map((id) => m.current(id)?.restarts)).toEqual(ids.map((id) => (id === 'evse_1' ? 4 : 3)));

    advanceTo(clock, 60_000);
    expect(resetLines()).toHaveLength(2);
    expect(resetLines()[1]).toMatchObject({
      level: 40,
      msg: 'heartbeat counter reset: EVerest restarted (repeated)',
      moduleId: 'evse_1',
      repeats: 150,
      interval_s: 60,
      also_on: ['evse_2', 'evse_3', 'evse_4', 'evse_5', 'evse_6'],
    });

    // A new minute: the next restart is news again, logged at once.
    everest.beat('evse_7', 5);
    everest.beat('evse_7', 1);
    expect(resetLines().at(-1)).toMatchObject({ msg: 'heartbeat counter reset: EVerest restarted', moduleId: 'evse_7', counter: 1, previous: 5 });
    // Stopping logs the count of the minute so far.
    everest.beat('evse_8', 5);
    everest.beat('evse_8', 1);
    m.dispose();
    expect(resetLines().at(-1)).toMatchObject({ msg: 'heartbeat counter reset: EVerest restarted (repeated)', moduleId: 'evse_7', repeats: 1, also_on: ['evse_8'] });
  });

  it('a counter back at 0 is a restart even from 1', () => {
    const m = monitor();
    everest.beat('evse_1', 1);
    everest.beat('evse_1', 0);
    expect(m.current('evse_1')).toMatchObject({ status: 'restarted', restarts: 1 });
  });

  it('silence longer than the timeout makes the EVSE stale and not commandable; each beat re-arms the timer', () => {
    const m = monitor(3000);
    const statuses: string[] = [];
    m.status$('evse_1').subscribe((s) => statuses.push(s));
    everest.beat('evse_1', 1);
    advanceTo(clock, 2500);
    everest.beat('evse_1', 2);
    advanceTo(clock, 5000);
    expect(m.current('evse_1')?.status).toBe('online');
    advanceTo(clock, 5500);
    expect(m.current('evse_1')).toMatchObject({ status: 'stale', counter: 2, lastSeenMs: 2500 });
    expect(m.isCommandable('evse_1')).toBe(false);
    everest.beat('evse_1', 3);
    expect(m.isCommandable('evse_1')).toBe(true);
    // status$ is de-duplicated: two beats while online are one 'online'.
    expect(statuses).toEqual(['unknown', 'online', 'stale', 'online']);
    expect(events.map((e) => e.type)).toEqual(['online', 'stale', 'online']);
    expect(log.lines().find((l) => l.msg === 'heartbeat silent: EVSE stale')).toMatchObject({ moduleId: 'evse_1', timeoutMs: 3000 });
  });

  it('the legacy empty-object heartbeat keeps an EVSE online without counter checks', () => {
    const m = monitor();
    everest.beat('evse_1', {});
    everest.beat('evse_1', {});
    expect(m.current('evse_1')).toMatchObject({ status: 'online', lost: 0, restarts: 0 });
    expect(m.current('evse_1')?.counter).toBeUndefined();
  });

  it('with the timeout at 0 nothing goes stale and every watched EVSE is commandable', () => {
    const m = monitor(0);
    expect(m.isCommandable('evse_1')).toBe(true);
    expect(m.isCommandable('evse_9')).toBe(false);
    everest.beat('evse_1', 1);
    advanceTo(clock, 1_000_000);
    expect(m.current('evse_1')?.status).toBe('online');
  });

  it('dispose stops listening and cancels the stale timers', () => {
    const m = monitor(1000);
    let completed = false;
    m.state$('evse_1').subscribe({ complete: () => (completed = true) });
    everest.beat('evse_1', 1);
    m.dispose();
    expect(completed).toBe(true);
    everest.beat('evse_1', 9);
    advanceTo(clock, 10_000);
    expect(m.current('evse_1')).toMatchObject({ status: 'online', counter: 1 });
    expect(events.map((e) => e.type)).toEqual(['online']);
  });
});

describe('CommunicationCheck', () => {
  let clock: VirtualTimeScheduler;
  let everest: FakeEverest;
  let status$: Subject<ConnectionStatus>;
  let log: ReturnType<typeof capturingLogger>;
  let check: CommunicationCheck;

  beforeEach(() => {
    clock = new VirtualTimeScheduler(undefined, 0);
    everest = new FakeEverest(clock);
    status$ = new Subject<ConnectionStatus>();
    log = capturingLogger();
    check = new CommunicationCheck({ client: everest, status$, moduleIds: ['evse_1', 'evse_2'], intervalMs: 1000, logger: log.logger, scheduler: clock });
    check.start();
  });

  it('sends nothing until the connection is online, then true to every EVSE at once and every interval', async () => {
    status$.next('connecting');
    advanceTo(clock, 5000);
    expect(everest.sent).toEqual([]);
    status$.next('online');
    advanceTo(clock, 7500);
    expect(everest.sent).toEqual(
      [5000, 6000, 7000].flatMap((at) => [
        { moduleId: 'evse_1', value: true, at },
        { moduleId: 'evse_2', value: true, at },
      ]),
    );
    await settle();
    expect(check.lastSentAt('evse_2')).toBe(7000);
  });

  it('stops while offline and sends at once on reconnecting, not at the old rhythm', () => {
    status$.next('online');
    advanceTo(clock, 1500);
    status$.next('offline');
    advanceTo(clock, 4200);
    status$.next('online');
    advanceTo(clock, 4200);
    expect(everest.sent.filter((s) => s.moduleId === 'evse_1').map((s) => s.at)).toEqual([0, 1000, 4200]);
  });

  it('a send that fails (disconnected in between) is logged at debug and leaves lastSentAt alone', async () => {
    status$.next('online');
    advanceTo(clock, 0);
    await settle();
    everest.failing = true;
    advanceTo(clock, 1000);
    await settle();
    expect(check.lastSentAt('evse_1')).toBe(0);
    expect(log.lines().filter((l) => l.msg === 'communication check not sent').map((l) => l.moduleId)).toEqual(['evse_1', 'evse_2']);
  });

  it('stop(true) tells every EVSE false, with a warning; stop(false) only stops', async () => {
    status$.next('online');
    advanceTo(clock, 0);
    await check.stop(true);
    expect(everest.sent.filter((s) => !s.value).map((s) => s.moduleId)).toEqual(['evse_1', 'evse_2']);
    expect(log.lines().some((l) => l.msg.startsWith('sending communication_check false'))).toBe(true);
    const count = everest.sent.length;
    advanceTo(clock, 10_000);
    expect(everest.sent).toHaveLength(count);

    const quiet = new CommunicationCheck({ client: everest, status$, moduleIds: ['evse_1'], intervalMs: 1000, logger: log.logger, scheduler: clock });
    quiet.start();
    status$.next('online');
    await quiet.stop(false);
    expect(everest.sent.slice(count).every((s) => s.value)).toBe(true);
  });
});
