import { beforeAll, describe, expect, it } from 'vitest';
import { loadContract, type LimitsContract } from '../../../src/everest/contract.js';
import { externalLimitsMessage, failsafeLimitsMessage } from '../../../src/everest/external-limits.js';
import { EnergyNodeModel } from '../../../src/sim/external-limits.js';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
let contract: LimitsContract;

beforeAll(async () => {
  contract = (loadContract()).externalLimits;
});

function node(fuseLimitA = 20): EnergyNodeModel {
  return new EnergyNodeModel({ limitsModuleId: 'evse_1_limits', moduleId: 'evse_1', fuseLimitA }, 5);
}

const wire = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('EnergyNodeModel (the simulated EnergyNode with its API module)', () => {
  it('without a schedule the fuse applies', () => {
    expect(node().limitAt(T0)).toEqual({ currentA: 20, source: 'evse_1_limits/module_config' });
  });

  it('applies a schedule like EVerest: first entry at once, each later one from its timestamp, the last for ever', () => {
    const n = node();
    const message = externalLimitsMessage({ currentA: 13, now: T0 + 5_000, failsafeS: 60, failsafeCurrentA: 7 });
    expect(n.receive('set_external_limits', wire(message), contract, T0)).toEqual({ kind: 'limits', value: message });
    expect(n.limitAt(T0)).toEqual({ currentA: 13, source: 'evse_priority' });
    expect(n.limitAt(T0 + 64_999).currentA).toBe(13);
    expect(n.limitAt(T0 + 65_000).currentA).toBe(7);
    expect(n.limitAt(T0 + 3_600_000).currentA).toBe(7);
  });

  it('clamps to the fuse, and the last message replaces the whole schedule', () => {
    const n = node(16);
    n.receive('set_external_limits', wire(externalLimitsMessage({ currentA: 32, now: T0, failsafeS: 60, failsafeCurrentA: 10 })), contract, T0);
    expect(n.limitAt(T0)).toEqual({ currentA: 16, source: 'evse_1_limits/module_config' });
    n.receive('set_external_limits', wire(failsafeLimitsMessage(T0, 6)), contract, T0);
    expect(n.limitAt(T0 + 120_000).currentA).toBe(6);
    n.receive('set_external_limits', wire({ schedule_import: [], schedule_export: [], schedule_setpoints: [] }), contract, T0);
    expect(n.limitAt(T0).currentA).toBe(16);
  });

  it('ignores what EVerest cannot parse, keeping the limit in force', () => {
    const n = node();
    n.receive('set_external_limits', wire(externalLimitsMessage({ currentA: 9, now: T0, failsafeS: 60, failsafeCurrentA: 6 })), contract, T0);
    const missingSchedule = { schedule_import: [], schedule_export: [] };
    expect(n.receive('set_external_limits', wire(missingSchedule), contract, T0)).toMatchObject({ kind: 'ignored' });
    expect(n.receive('set_external_limits', Buffer.from('{nope'), contract, T0)).toMatchObject({ kind: 'ignored', reason: 'set_external_limits: payload is not JSON' });
    const noSource = { schedule_import: [{ timestamp: new Date(T0).toISOString(), limits_to_root: { ac_max_current_A: { value: 3 } }, limits_to_leaves: {} }], schedule_export: [], schedule_setpoints: [] };
    expect(n.receive('set_external_limits', wire(noSource), contract, T0)).toMatchObject({ kind: 'ignored' });
    expect(n.receive('reserve', wire(1), contract, T0)).toEqual({ kind: 'ignored', reason: 'unknown command reserve' });
    expect(n.limitAt(T0).currentA).toBe(9);
  });

  it('keeps its communication check like the EVSE API module, and a fault leaves the limit alone', () => {
    const n = node();
    n.receive('set_external_limits', wire(externalLimitsMessage({ currentA: 9, now: T0, failsafeS: 600, failsafeCurrentA: 6 })), contract, T0);
    expect(n.comm.status).toMatchObject({ fault: true, reason: 'Initial communication check' });
    expect(n.receive('communication_check', wire(true), contract, T0)).toEqual({ kind: 'comm_check', value: true, changed: true });
    expect(n.receive('communication_check', wire('true'), contract, T0)).toMatchObject({ kind: 'ignored' });
    expect(n.comm.tick(T0 + 6_000)).toBe(true);
    expect(n.comm.status).toMatchObject({ fault: true, reason: 'Communication check timeout' });
    expect(n.limitAt(T0 + 6_000).currentA).toBe(9);
    n.restart();
    expect(n.limitAt(T0 + 6_000).currentA).toBe(20);
  });
});
