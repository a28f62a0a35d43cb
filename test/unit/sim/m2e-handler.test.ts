import { beforeAll, describe, expect, it } from 'vitest';
import { loadContract, type Contract } from '../../../src/everest/contract.js';
import { handleM2e } from '../../../src/sim/m2e-handler.js';
import { newModel, takeEventNames } from '../../support/sim-model.js';
import { loadReferenceValidators } from '../../support/reference-schemas.js';

const REPLY_TO = 'everest_api/1/evse_manager_consumer/evse_1/e2m/enable_disable/abc';
const buf = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const enable = (state: string, priority = 100): unknown => ({
  headers: { replyTo: REPLY_TO },
  payload: { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: state, enable_priority: priority } },
});

describe('m2e handling', () => {
  let contract: Contract;
  beforeAll(async () => {
    contract = loadContract();
  });

  it('answers a request with the bare value on replyTo', () => {
    const m = newModel();
    const out = handleM2e(m, 'enable_disable', buf(enable('Disable')), contract, 1_000);
    expect(out).toMatchObject({ kind: 'reply', replyTo: REPLY_TO, reply: false, body: 'false' });
  });

  it('answers get_evse with the EVSE, pretty-printed', () => {
    const out = handleM2e(newModel(), 'get_evse', buf({ headers: { replyTo: 'x/get_evse/1' } }), contract, 0);
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.reply).toEqual({ id: 1, connectors: [{ id: 1, type: 'cType2' }] });
    expect(out.body).toContain('\n');
    expect(JSON.parse(out.body)).toEqual(out.reply);
  });

  it.each([
    { name: 'not JSON', raw: '{"headers":' },
    { name: 'no headers', raw: { payload: { connector_id: 0 } } },
    { name: 'headers without replyTo', raw: { headers: {}, payload: 1 } },
    { name: 'empty replyTo', raw: { headers: { replyTo: '' } } },
    { name: 'payload missing', raw: { headers: { replyTo: REPLY_TO } } },
    { name: 'payload of the wrong type', raw: { headers: { replyTo: REPLY_TO }, payload: 'Disable' } },
    { name: 'enum in the wrong case', raw: enable('disable') },
    { name: 'unknown enum value', raw: enable('Off') },
    { name: 'priority out of range', raw: enable('Disable', 10001) },
  ])('stays silent on a malformed request: $name', ({ raw }) => {
    const m = newModel();
    m.drain();
    const out = handleM2e(m, 'enable_disable', buf(raw), contract, 1_000);
    expect(out.kind).toBe('ignored');
    expect(m.snapshot().enabled).toBe(true);
    expect(takeEventNames(m)).toEqual([]);
  });

  it('feeds communication_check and ignores "true" and 1', () => {
    const m = newModel();
    expect(handleM2e(m, 'communication_check', buf('"true"'), contract, 0).kind).toBe('ignored');
    expect(handleM2e(m, 'communication_check', buf('1'), contract, 0).kind).toBe('ignored');
    expect(m.comm.status.fault).toBe(true);
    expect(handleM2e(m, 'communication_check', buf('true'), contract, 0)).toEqual({ kind: 'comm_check', value: true, changed: true });
    expect(m.comm.status.fault).toBe(false);
  });

  it('authorizes on an Accepted authorize_response and ignores a rejected one', () => {
    const m = newModel();
    m.plugIn({}, 0);
    m.drain();
    const response = (status: string): unknown => ({
      token: { id_token: { value: 'ABC', type: 'Central' }, authorization_type: 'OCPP' },
      result: { authorization_status: status, tariff_messages: [] },
    });
    expect(handleM2e(m, 'authorize_response', buf(response('Invalid')), contract, 1_000).kind).toBe('accepted');
    expect(takeEventNames(m)).toEqual([]);
    handleM2e(m, 'authorize_response', buf(response('Accepted')), contract, 2_000);
    expect(takeEventNames(m)).toEqual(['Authorized', 'TransactionStarted', 'PrepareCharging', 'ChargingStarted']);
  });

  it('ignores an authorize_response the contract rejects (no tariff_messages)', () => {
    const m = newModel();
    m.plugIn({}, 0);
    m.drain();
    const bare = { token: { id_token: { value: 'ABC', type: 'Central' }, authorization_type: 'OCPP' }, result: { authorization_status: 'Accepted' } };
    expect(handleM2e(m, 'authorize_response', buf(bare), contract, 1_000).kind).toBe('ignored');
    expect(takeEventNames(m)).toEqual([]);
  });

  it('does not read the payload of withdraw_authorization and cancel_reservation', () => {
    const m = newModel();
    m.reserve(1, 0);
    m.drain();
    expect(handleM2e(m, 'cancel_reservation', Buffer.alloc(0), contract, 1_000).kind).toBe('accepted');
    expect(takeEventNames(m)).toEqual(['ReservationEnd']);
  });

  const reference = loadReferenceValidators();
  it.skipIf(!reference.ok)(`replies and the requests that produced them match the upstream reference${reference.ok ? '' : ` (skipped: ${reference.reason})`}`, () => {
    if (!reference.ok) return;
    const m = newModel();
    const requests: Array<[string, unknown]> = [
      ['get_evse', { headers: { replyTo: 'r/1' } }],
      ['enable_disable', enable('Enable')],
      ['reserve', { headers: { replyTo: 'r/2' }, payload: 5 }],
      ['pause_charging', { headers: { replyTo: 'r/3' } }],
      ['resume_charging', { headers: { replyTo: 'r/4' } }],
      ['stop_transaction', { headers: { replyTo: 'r/5' }, payload: { reason: 'Local' } }],
      ['force_unlock', { headers: { replyTo: 'r/6' }, payload: 1 }],
      ['external_ready_to_start_charging', { headers: { replyTo: 'r/7' } }],
    ];
    for (const [name, envelope] of requests) {
      expect(reference.validators.request(name, envelope), name).toBeUndefined();
      const out = handleM2e(m, name, buf(envelope), contract, 1_000);
      expect(out.kind, name).toBe('reply');
      if (out.kind === 'reply') expect(reference.validators.reply(name, JSON.parse(out.body)), name).toBeUndefined();
    }
  });
});
