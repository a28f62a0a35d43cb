import { Subscription, VirtualTimeScheduler } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HeartbeatStatus } from '../../../src/everest/liveness.js';
import { EvseReads, GET_EVSE_MIN_INTERVAL_MS } from '../../../src/site/evse-reads.js';

/** When get_evse goes out, on the virtual clock: the rule, not the machine's timing. */
describe('EvseReads', () => {
  let clock: VirtualTimeScheduler;
  let reads: Array<{ moduleId: string; at: number }>;
  let cancelled: Array<{ moduleId: string; startedAt: number; at: number }>;
  let evseReads: EvseReads;

  /** A read that never answers, so that a cancel shows. */
  const start = (moduleId: string): Subscription => {
    const startedAt = clock.now();
    reads.push({ moduleId, at: startedAt });
    return new Subscription(() => cancelled.push({ moduleId, startedAt, at: clock.now() }));
  };

  /** Feeds each status at its time (ms from 0), then runs the clock out. */
  const play = (statuses: Array<[number, HeartbeatStatus, string?]>): void => {
    for (const [at, status, moduleId] of statuses) clock.schedule(() => evseReads.status(moduleId ?? 'evse_1', status), at);
    clock.flush();
  };

  const at = (): number[] => reads.map((r) => r.at);

  beforeEach(() => {
    clock = new VirtualTimeScheduler(undefined, Infinity);
    reads = [];
    cancelled = [];
    evseReads = new EvseReads(start, clock);
  });

  it('reads once on becoming reachable, not for more beats, not before the first beat', () => {
    play([
      [0, 'unknown'],
      [500, 'online'],
      [1500, 'online'],
      [20_000, 'online'],
    ]);
    expect(at()).toEqual([500]);
    expect(cancelled).toEqual([]);
  });

  it('reads after a restart, but not for the beats that follow it', () => {
    play([
      [0, 'online'],
      [20_000, 'restarted'],
      [21_000, 'online'],
      [40_000, 'online'],
    ]);
    expect(at()).toEqual([0, 20_000]);
  });

  it('turning unreachable cancels the read in progress at once; reachable again reads again', () => {
    play([
      [0, 'online'],
      [12_000, 'stale'],
      [15_000, 'online'],
    ]);
    expect(at()).toEqual([0, 15_000]);
    expect(cancelled).toEqual([{ moduleId: 'evse_1', startedAt: 0, at: 12_000 }]);
  });

  it('reads at most once per interval: the first trigger at once, the last of a window at its end, none for a quiet window', () => {
    expect(GET_EVSE_MIN_INTERVAL_MS).toBe(10_000);
    play([
      [0, 'online'],
      [1000, 'stale'],
      [2000, 'online'],
      [3000, 'restarted'],
      [4000, 'online'],
      [12_000, 'stale'],
      [13_000, 'online'],
      [35_000, 'stale'],
      [36_000, 'online'],
    ]);
    // 2000-4000 wait for the window of 0; 13 000 for the window of 10 000; 20 000-30 000 is quiet.
    expect(at()).toEqual([0, 10_000, 20_000, 36_000]);
    expect(cancelled.map((c) => [c.startedAt, c.at])).toEqual([
      [0, 1000],
      [10_000, 12_000],
      [20_000, 35_000],
    ]);
  });

  it('a heartbeat counter that keeps resetting costs one read per interval, per EVSE', () => {
    const statuses: Array<[number, HeartbeatStatus, string?]> = [];
    for (let t = 0; t < 30_000; t += 1000) statuses.push([t, 'restarted', 'evse_1'], [t + 500, 'unknown', 'evse_1'], [t, 'online', 'evse_2']);
    play(statuses);
    expect(reads.filter((r) => r.moduleId === 'evse_1').map((r) => r.at)).toEqual([0, 10_000, 20_000, 30_000]);
    expect(reads.filter((r) => r.moduleId === 'evse_2').map((r) => r.at)).toEqual([0]);
  });

  it('stop cancels the reads in progress and the windows with a read waiting', () => {
    clock.schedule(() => evseReads.stop(), 5000);
    play([
      [2000, 'online', 'evse_2'],
      [3000, 'stale', 'evse_2'],
      [4000, 'online', 'evse_2'],
      [4500, 'online', 'evse_3'],
    ]);
    expect(at()).toEqual([2000, 4500]);
    expect(cancelled).toEqual([
      { moduleId: 'evse_2', startedAt: 2000, at: 3000 },
      { moduleId: 'evse_3', startedAt: 4500, at: 5000 },
    ]);
  });
});
