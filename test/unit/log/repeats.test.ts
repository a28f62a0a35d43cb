import { Writable } from 'node:stream';
import { VirtualTimeScheduler } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/log/logger.js';
import { RepeatedWarnings, type RepeatedWarningsOptions } from '../../../src/log/repeats.js';

interface Line {
  level: number;
  msg: string;
  topic?: string;
  reason?: string;
  repeats?: number;
  also_on?: string[];
}

/** The real logger (JSON lines, redaction and all) writing into memory. */
function captured(): { lines: () => Line[]; warnings: (options?: Omit<RepeatedWarningsOptions, 'message'>) => RepeatedWarnings } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      out += String(chunk);
      callback();
    },
  });
  const logger = createLogger({ level: 'info', pretty: false, destination: stream });
  return {
    lines: () =>
      out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line),
    warnings: (options = {}) => new RepeatedWarnings(logger, { message: 'dropped invalid message', ...options }),
  };
}

const topic = (evse: number, name = 'heartbeat'): string => `everest_api/1/evse_manager_consumer/evse_${evse}/e2m/${name}`;

describe('RepeatedWarnings', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first of each (group, reason) whole, counts its repeats and sums them up when the interval ends', () => {
    const log = captured();
    const w = log.warnings();
    w.warn('heartbeat', topic(1), 'invalid JSON: Unexpected end of JSON input');
    for (let evse = 2; evse <= 200; evse++) w.warn('heartbeat', topic(evse), 'invalid JSON: Unexpected end of JSON input');
    w.warn('heartbeat', topic(3), 'field "heartbeat" must be a number');
    w.warn('powermeter', topic(4, 'powermeter'), 'invalid JSON: Unexpected end of JSON input');

    // Three kinds, each logged once at once with the topic and reason of its first occurrence.
    expect(log.lines().map((l) => [l.msg, l.topic, l.reason])).toEqual([
      ['dropped invalid message', topic(1), 'invalid JSON: Unexpected end of JSON input'],
      ['dropped invalid message', topic(3), 'field "heartbeat" must be a number'],
      ['dropped invalid message', topic(4, 'powermeter'), 'invalid JSON: Unexpected end of JSON input'],
    ]);

    w.flush();
    const summaries = log.lines().slice(3);
    // Only the kind that repeated has a summary: 199 repeats, with a few of the other topics named.
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: 40, msg: 'dropped invalid message (repeated)', topic: topic(1), reason: 'invalid JSON: Unexpected end of JSON input', repeats: 199 });
    expect(summaries[0]?.also_on).toEqual([topic(2), topic(3), topic(4), topic(5), topic(6)]);

    // A new interval: the same kind is logged whole again.
    w.warn('heartbeat', topic(7), 'invalid JSON: Unexpected end of JSON input');
    expect(log.lines().at(-1)).toMatchObject({ msg: 'dropped invalid message', topic: topic(7) });
  });

  it('follows at most maxKinds kinds per interval and counts the rest in one line', () => {
    const log = captured();
    const w = log.warnings({ maxKinds: 3 });
    for (let i = 0; i < 10; i++) w.warn('heartbeat', topic(i), `reason ${i}`);
    expect(log.lines().map((l) => l.reason)).toEqual(['reason 0', 'reason 1', 'reason 2']);
    w.flush();
    expect(log.lines().at(-1)).toMatchObject({ msg: 'dropped invalid message (repeated, more kinds than followed)', repeats: 7 });
  });

  it('warnKind: any kind and fields, the first logged whole at once, the interval ended by the injected timer', () => {
    const log = captured();
    const clock = new VirtualTimeScheduler();
    const w = log.warnings({ intervalMs: 30_000, timer: clock });
    w.warnKind('restart', 'evse_1', { moduleId: 'evse_1', counter: 0, previous: 41 });
    expect(log.lines()).toEqual([expect.objectContaining({ level: 40, msg: 'dropped invalid message', moduleId: 'evse_1', counter: 0, previous: 41 })]);
    for (let i = 2; i <= 9; i++) w.warnKind('restart', `evse_${i}`, { moduleId: `evse_${i}`, counter: 0, previous: i });
    // A kind built from a peer's long text is told apart by its first 1024 characters.
    w.warnKind(`${'x'.repeat(1024)}a`, 'evse_1', { evseId: 'long a' });
    w.warnKind(`${'x'.repeat(1024)}b`, 'evse_2', { evseId: 'long b' });
    expect(log.lines()).toHaveLength(2);

    clock.schedule(() => undefined, 30_000);
    clock.flush();
    expect(log.lines().slice(2)).toEqual([
      expect.objectContaining({ msg: 'dropped invalid message (repeated)', moduleId: 'evse_1', counter: 0, previous: 41, repeats: 8, interval_s: 30, also_on: ['evse_2', 'evse_3', 'evse_4', 'evse_5', 'evse_6'] }),
      expect.objectContaining({ msg: 'dropped invalid message (repeated)', evseId: 'long a', repeats: 1, also_on: ['evse_2'] }),
    ]);
  });

  it('ends the interval by itself', () => {
    vi.useFakeTimers();
    const log = captured();
    const w = log.warnings({ intervalMs: 10_000 });
    w.warn('heartbeat', topic(1), 'bad');
    w.warn('heartbeat', topic(2), 'bad');
    expect(log.lines()).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(log.lines().at(-1)).toMatchObject({ msg: 'dropped invalid message (repeated)', repeats: 1, topic: topic(1) });
    w.warn('heartbeat', topic(2), 'bad');
    expect(log.lines().at(-1)).toMatchObject({ msg: 'dropped invalid message', topic: topic(2), reason: 'bad' });
  });
});
