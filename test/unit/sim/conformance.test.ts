import { beforeAll, describe, expect, it } from 'vitest';
import { loadContract, type Contract } from '../../../src/everest/contract.js';
import type { EvseModel, ModelOutput } from '../../../src/sim/evse-model.js';
import { loadReferenceValidators } from '../../support/reference-schemas.js';
import { newModel } from '../../support/sim-model.js';

/** A busy life: every kind of event, limit and request the model knows. */
function exercise(): ModelOutput[] {
  const m: EvseModel = newModel({}, Date.parse('2025-11-20T08:00:00Z'));
  let t = Date.parse('2025-11-20T08:00:00Z');
  const out: ModelOutput[] = [];
  const step = (fn: (now: number) => unknown): void => {
    t += 1_000;
    fn(t);
    m.tick(t);
    out.push(...m.drain());
  };
  step((now) => m.reserve(3, now));
  step((now) => m.cancelReservation(now));
  step((now) => m.plugIn({ targetEnergyWh: 5 }, now));
  step((now) => m.authorize(now));
  step((now) => m.pauseCharging(now));
  step((now) => m.resumeCharging(now));
  step((now) => m.setLimit(0, undefined, now));
  step((now) => m.setLimit(10, 1, now));
  step((now) => m.evPause(now));
  step((now) => m.evResume(now));
  for (let i = 0; i < 5; i += 1) step(() => undefined);
  step((now) => m.stopTransaction({ reason: 'Local', id_tag: { id_token: { value: 'X', type: 'ISO14443' }, authorization_type: 'RFID' } }, now));
  step((now) => m.unplug(now));
  step((now) => m.plugIn({ autoAuthorize: true }, now));
  step((now) => m.enableDisable({ connector_id: 1, source: { enable_source: 'CSMS', enable_state: 'Disable', enable_priority: 5000 } }, now));
  step((now) => m.enableDisable({ connector_id: 1, source: { enable_source: 'CSMS', enable_state: 'Unassigned', enable_priority: 5000 } }, now));
  step((now) => m.withdrawAuthorization(now));
  step((now) => m.authorize(now));
  step((now) => m.restart(now));
  step((now) => m.unplug(now));
  return out;
}

describe('everything the model publishes is valid', () => {
  let contract: Contract;
  let outputs: ModelOutput[];
  beforeAll(async () => {
    contract = loadContract();
    outputs = exercise();
  });

  it('covers every published variable and many events', () => {
    expect(new Set(outputs.map((o) => o.name))).toEqual(
      new Set(['session_event', 'session_info', 'powermeter', 'limits', 'enforced_limits', 'evse_id', 'hw_capabilities']),
    );
    const events = new Set(outputs.flatMap((o) => (o.name === 'session_event' ? [o.payload.event] : [])));
    expect(events.size).toBeGreaterThanOrEqual(18);
  });

  it('against our contract', () => {
    const failures = outputs
      .map((o) => ({ o, r: contract.validateE2m(o.name, JSON.parse(JSON.stringify(o.payload)) as unknown) }))
      .filter(({ r }) => !r.ok)
      .map(({ o, r }) => `${o.name}: ${r.ok ? '' : r.reason}`);
    expect(failures).toEqual([]);
  });

  const reference = loadReferenceValidators();
  it.skipIf(!reference.ok)(`against the upstream reference schemas${reference.ok ? '' : ` (skipped: ${reference.reason})`}`, () => {
    if (!reference.ok) return;
    const failures = outputs
      .map((o) => ({ o, err: reference.validators.e2m(o.name, JSON.parse(JSON.stringify(o.payload)) as unknown) }))
      .filter(({ err }) => err !== undefined)
      .map(({ o, err }) => `${o.name}: ${err ?? ''}`);
    expect(failures).toEqual([]);
  });

  it.skipIf(!reference.ok)(`the reference validators are live (they reject what EVerest would not send)${reference.ok ? '' : ` (skipped: ${reference.reason})`}`, () => {
    if (!reference.ok) return;
    expect(reference.validators.e2m('session_info', { state: 'Charging' })).toMatch(/required/);
    expect(reference.validators.e2m('heartbeat', 'beat')).toMatch(/integer/);
    expect(reference.validators.reply('enable_disable', 'true')).toMatch(/boolean/);
    expect(reference.validators.reply('get_evse', { id: 1, connectors: [{ id: 1, type: 'cType2' }] })).toBeUndefined();
  });
});
