import { describe, expect, it } from 'vitest';
import { CommunicationFaultWatch, INITIAL_CHECK_REASON, TIMEOUT_REASON } from '../../../src/sim/comm-check.js';

describe('communication check', () => {
  it('holds the initial fault until the first true, however long that takes', () => {
    const c = new CommunicationFaultWatch(5);
    expect(c.status).toEqual({ active: true, fault: true, reason: INITIAL_CHECK_REASON });
    expect(c.tick(60_000)).toBe(false);
    expect(c.receive(true, 61_000)).toEqual({ accepted: true, changed: true });
    expect(c.status.fault).toBe(false);
  });

  it('raises the fault again after a missed window and clears it on the next true', () => {
    const c = new CommunicationFaultWatch(5);
    c.receive(true, 0);
    expect(c.tick(5_000)).toBe(false);
    c.receive(true, 4_000);
    expect(c.tick(8_999)).toBe(false);
    expect(c.tick(9_001)).toBe(true);
    expect(c.status).toEqual({ active: true, fault: true, reason: TIMEOUT_REASON });
    expect(c.tick(20_000)).toBe(false);
    expect(c.receive(true, 21_000)).toEqual({ accepted: true, changed: true });
    expect(c.status.fault).toBe(false);
  });

  it('false clears the fault and switches the check off for good', () => {
    const c = new CommunicationFaultWatch(5);
    expect(c.receive(false, 0)).toEqual({ accepted: true, changed: true });
    expect(c.status).toEqual({ active: false, fault: false, reason: undefined });
    expect(c.tick(1_000_000)).toBe(false);
    expect(c.receive(true, 1_000_001)).toEqual({ accepted: true, changed: false });
    expect(c.tick(2_000_000)).toBe(false);
    expect(c.status.active).toBe(false);
  });

  it.each([['true'], [1], [0], [null], [{}], ['false']])('rejects %j: only a JSON boolean counts', (value) => {
    const c = new CommunicationFaultWatch(5);
    const result = c.receive(value, 0);
    expect(result.accepted).toBe(false);
    expect(c.status.fault).toBe(true);
  });

  it('a restart brings the initial fault back, even after false', () => {
    const c = new CommunicationFaultWatch(5);
    c.receive(false, 0);
    c.reset();
    expect(c.status).toEqual({ active: true, fault: true, reason: INITIAL_CHECK_REASON });
  });

  it('is off entirely with a timeout <= 0', () => {
    const c = new CommunicationFaultWatch(0);
    expect(c.status).toEqual({ active: false, fault: false, reason: undefined });
  });
});
