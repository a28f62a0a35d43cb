import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ContractError, loadContract, type Contract } from '../../../src/everest/contract.js';
import { CONTRACT_FILES } from '../../../scripts/validators/everest-schemas.js';
import { compileContractValidators } from '../../../scripts/validators/generate.js';
import { E2M_VARS, M2E_REQUESTS, M2E_SENDS, type Evse, type SessionInfo } from '../../../src/everest/payloads.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const contractFile = path.join(repoRoot, 'asyncapi', 'evse_manager_consumer_API.yaml');

const ts = '2025-11-20T08:38:07.000Z';
const meter = { timestamp: ts, energy_Wh_import: { total: 1200.5 } };
const sessionInfo = {
  state: 'Charging',
  charged_energy_wh: 4210,
  discharged_energy_wh: 0,
  latest_total_w: 10980,
  session_duration_s: 1385,
  timestamp: ts,
};
const enableDisable = {
  headers: { replyTo: 'everest_api/1/evse_manager_consumer/m/e2m/enable_disable/1' },
  payload: { connector_id: 0, source: { enable_source: 'LocalAPI', enable_state: 'Disable', enable_priority: 100 } },
};

let contract: Contract;
let loadMs = 0;
const tmp = mkdtempSync(path.join(tmpdir(), 'contract-test-'));

beforeAll(() => {
  const started = performance.now();
  contract = loadContract();
  loadMs = performance.now() - started;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectInvalid(result: { ok: boolean; reason?: string }, reason: string | RegExp): void {
  expect(result.ok).toBe(false);
  if (typeof reason === 'string') expect(result.reason).toBe(reason);
  else expect(result.reason).toMatch(reason);
}

describe('loading', () => {
  it('was generated from our document with zero error diagnostics and reports the API version', () => {
    expect(contract.version).toBe('1.0.0');
    expect(Array.isArray(contract.warnings)).toBe(true);
    expect(CONTRACT_FILES.evse).toBe(contractFile);
    console.info(`[contract] loadContract took ${loadMs.toFixed(0)} ms`);
  });

  it('knows every e2m variable, request and send listed in payloads.ts, and nothing else', () => {
    expect([...contract.e2mNames()].sort()).toEqual([...E2M_VARS].sort());
    expect([...contract.requestNames()].sort()).toEqual([...M2E_REQUESTS].sort());
    expect([...contract.sendNames()].sort()).toEqual([...M2E_SENDS].sort());
    for (const name of E2M_VARS) expect(contract.validateE2m(name, undefined)).not.toEqual({ ok: false, reason: 'unknown variable' });
  });

  it('is self-contained: every $ref points into the document itself', () => {
    const refs = [...readFileSync(contractFile, 'utf8').matchAll(/\$ref:\s*'?([^'\s]+)/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((r) => !r?.startsWith('#/'))).toEqual([]);
  });

  it('answers unknown names without throwing', () => {
    expect(contract.validateE2m('no_such_var', {})).toEqual({ ok: false, reason: 'unknown variable' });
    expect(contract.validateRequest('no_such_cmd', {})).toEqual({ ok: false, reason: 'unknown request' });
    expect(contract.validateSend('no_such_cmd', true)).toEqual({ ok: false, reason: 'unknown command' });
  });

  it('fails with the error diagnostics when the document is not valid AsyncAPI', async () => {
    const broken = path.join(tmp, 'broken.yaml');
    writeFileSync(broken, 'asyncapi: 3.0.0\ninfo:\n  title: no version here\nchannels: {}\n');
    const err: unknown = await compileContractValidators({ evse: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractError);
    expect((err as ContractError).details.length).toBeGreaterThan(0);
    expect((err as ContractError).message).toMatch(/not valid AsyncAPI[\s\S]*version/);
  });

  it('fails when the document and payloads.ts drift apart', async () => {
    const doc = parseYaml(readFileSync(contractFile, 'utf8')) as {
      channels: Record<string, unknown>;
      operations: Record<string, unknown>;
    };
    delete doc.channels['e2m_hlc_session_failed'];
    delete doc.operations['receive_hlc_session_failed'];
    const drifted = path.join(tmp, 'drifted.json');
    writeFileSync(drifted, JSON.stringify(doc));
    await expect(compileContractValidators({ evse: drifted })).rejects.toThrow(/hlc_session_failed is in payloads.ts but not in the contract/);
  });
});

describe('examples of the document', () => {
  interface RawMessage {
    examples?: Array<{ payload?: unknown }>;
  }
  interface RawDoc {
    channels: Record<string, { address: string | null; messages: Record<string, { $ref: string }> }>;
    operations: Record<string, { action: string; channel: { $ref: string }; reply?: { channel: { $ref: string } } }>;
    components: { messages: Record<string, RawMessage> };
  }
  const doc = parseYaml(readFileSync(contractFile, 'utf8')) as RawDoc;
  const messageOf = (ref: string): RawMessage => {
    const message = doc.components.messages[ref.replace('#/components/messages/', '')];
    if (!message) throw new Error(`dangling ${ref}`);
    return message;
  };
  // reply channel id -> request name
  const replyOf = new Map<string, string>();
  for (const op of Object.values(doc.operations)) {
    if (!op.reply) continue;
    const requestChannel = doc.channels[op.channel.$ref.replace('#/channels/', '')];
    replyOf.set(op.reply.channel.$ref.replace('#/channels/', ''), requestChannel?.address?.replace('m2e/', '') ?? '?');
  }

  const requestNames = new Set(replyOf.values());

  const cases: Array<[string, string, unknown]> = [];
  for (const [channelId, channel] of Object.entries(doc.channels)) {
    for (const { $ref } of Object.values(channel.messages)) {
      const examples = messageOf($ref).examples ?? [];
      cases.push([channelId, 'has examples', examples.length]);
      for (const example of examples) cases.push([channelId, $ref, example.payload]);
    }
  }

  it.each(cases)('%s: %s', (channelId, what, payload) => {
    if (what === 'has examples') {
      expect(payload).toBeGreaterThan(0);
      return;
    }
    const channel = doc.channels[channelId];
    const address = channel?.address;
    let result;
    if (address === null || address === undefined) {
      const request = replyOf.get(channelId);
      expect(request).toBeDefined();
      result = contract.validateReply((request ?? '') as (typeof M2E_REQUESTS)[number], payload);
    } else if (address.startsWith('e2m/')) {
      result = contract.validateE2m(address.slice(4), payload);
    } else if (requestNames.has(address.slice(4))) {
      result = contract.validateRequest(address.slice(4), payload);
    } else {
      result = contract.validateSend(address.slice(4), payload);
    }
    expect(result).toEqual({ ok: true, value: payload });
  });
});

describe('session_info', () => {
  it('accepts a valid summary and types it', () => {
    const result = contract.validateE2m('session_info', sessionInfo);
    expect(result).toEqual({ ok: true, value: sessionInfo });
    if (result.ok) expectTypeOf(result.value).toEqualTypeOf<SessionInfo>();
  });
  it('accepts unknown extra fields (later EVerest versions add some)', () => {
    expect(contract.validateE2m('session_info', { ...sessionInfo, future_field: { x: 1 } }).ok).toBe(true);
  });
  it('rejects a lowercase state, naming the allowed values', () => {
    expectInvalid(
      contract.validateE2m('session_info', { ...sessionInfo, state: 'charging' }),
      'field "state" must be one of "Unknown", "Unplugged", "Disabled", "Preparing", "Reserved", "AuthRequired", "WaitingForEnergy", "ChargingPausedEV", "ChargingPausedEVSE", "Charging", "AuthTimeout", "Finished", "FinishedEVSE", "FinishedEV"',
    );
  });
  it('rejects a missing required field and a non-integer energy', () => {
    const { timestamp: _t, ...withoutTimestamp } = sessionInfo;
    expectInvalid(contract.validateE2m('session_info', withoutTimestamp), 'field "timestamp" is required');
    expectInvalid(contract.validateE2m('session_info', { ...sessionInfo, charged_energy_wh: '4210' }), 'field "charged_energy_wh" must be an integer');
  });
  it('tolerates values that are meaningless before the first session', () => {
    expect(contract.validateE2m('session_info', { ...sessionInfo, state: 'Unknown', charged_energy_wh: -3 }).ok).toBe(true);
  });
});

describe('session_event', () => {
  const started = {
    uuid: 'a1',
    event: 'SessionStarted',
    timestamp: ts,
    session_started: { reason: 'EVConnected', meter_value: meter },
  };
  it('accepts events with their detail object', () => {
    expect(contract.validateE2m('session_event', started).ok).toBe(true);
    expect(
      contract.validateE2m('session_event', {
        uuid: '',
        event: 'Enabled',
        timestamp: ts,
        source: { enable_source: 'CSMS', enable_state: 'Enable', enable_priority: 5000 },
      }).ok,
    ).toBe(true);
  });
  it('accepts later additions: charging_paused_evse and unknown fields at every level', () => {
    const paused = { uuid: 'a1', event: 'ChargingPausedEVSE', timestamp: ts, charging_paused_evse: { reasons: ['UserPause'] } };
    expect(contract.validateE2m('session_event', paused).ok).toBe(true);
    const extra = {
      ...started,
      new_top: 1,
      session_started: { ...started.session_started, new_inner: true, meter_value: { ...meter, new_meter: 'x' } },
    };
    expect(contract.validateE2m('session_event', extra).ok).toBe(true);
  });
  it("accepts 'SessionResumed:' as EVerest's codec writes it", () => {
    expect(contract.validateE2m('session_event', { uuid: 'a1', event: 'SessionResumed:', timestamp: ts }).ok).toBe(true);
  });
  it('rejects a lowercase event and a malformed detail', () => {
    expectInvalid(contract.validateE2m('session_event', { ...started, event: 'sessionstarted' }), /^field "event" must be one of "Authorized", /);
    expectInvalid(
      contract.validateE2m('session_event', { ...started, session_started: { reason: 'EVConnected' } }),
      'field "session_started.meter_value" is required',
    );
    expectInvalid(contract.validateE2m('session_event', { ...started, timestamp: 'now' }), 'field "timestamp" must be a valid date-time');
  });
});

describe('powermeter', () => {
  it('accepts a reading with signed power and extra fields', () => {
    expect(contract.validateE2m('powermeter', { ...meter, power_W: { total: -3500, L1: -3500 }, vendor: {} }).ok).toBe(true);
  });
  it('rejects a reading without import energy total', () => {
    expectInvalid(contract.validateE2m('powermeter', { timestamp: ts, energy_Wh_import: { L1: 1 } }), 'field "energy_Wh_import.total" is required');
    expectInvalid(contract.validateE2m('powermeter', { timestamp: ts }), 'field "energy_Wh_import" is required');
  });
});

describe('limits', () => {
  it('accepts fractional current and an optional uuid', () => {
    expect(contract.validateE2m('limits', { max_current: 13.5, nr_of_phases_available: 1 }).ok).toBe(true);
    expect(contract.validateE2m('limits', { max_current: 16, nr_of_phases_available: 3, uuid: 'x', extra: 1 }).ok).toBe(true);
  });
  it('rejects impossible phase counts and a missing current', () => {
    expectInvalid(contract.validateE2m('limits', { max_current: 16, nr_of_phases_available: 4 }), 'field "nr_of_phases_available" must be <= 3');
    expectInvalid(contract.validateE2m('limits', { nr_of_phases_available: 3 }), 'field "max_current" is required');
  });
});

describe('heartbeat', () => {
  it('accepts the counter and the legacy empty object', () => {
    expect(contract.validateE2m('heartbeat', 0)).toEqual({ ok: true, value: 0 });
    expect(contract.validateE2m('heartbeat', 987654)).toEqual({ ok: true, value: 987654 });
    expect(contract.validateE2m('heartbeat', {})).toEqual({ ok: true, value: {} });
  });
  it('rejects negative, fractional and textual heartbeats', () => {
    expectInvalid(contract.validateE2m('heartbeat', -1), 'the payload must be >= 0, or must be an object');
    expectInvalid(contract.validateE2m('heartbeat', 1.5), 'the payload must be an integer or an object');
    expectInvalid(contract.validateE2m('heartbeat', '42'), 'the payload must be an integer or an object');
  });
});

describe('evse_id and other bare values', () => {
  it('accepts a string evse_id and rejects anything else', () => {
    expect(contract.validateE2m('evse_id', 'DEPNXE123456*1')).toEqual({ ok: true, value: 'DEPNXE123456*1' });
    expectInvalid(contract.validateE2m('evse_id', 42), 'the payload must be a string');
  });
  // The module keeps every EVSE's id and current session uuid (directory, views, MQTT API state, event
  // replay): without a bound a peer publishing 60 KB ids pinned 60 KB per EVSE and copy (issue #13).
  it('refuses an evse_id or a session uuid longer than 255 characters, which the module would keep', () => {
    const id = 'DE*PNX*E'.padEnd(255, '1');
    expect(contract.validateE2m('evse_id', id)).toEqual({ ok: true, value: id });
    expectInvalid(contract.validateE2m('evse_id', `${id}1`), /255 characters/);
    expectInvalid(contract.validateE2m('evse_id', 'x'.repeat(60_000)), /255 characters/);
    const event = { uuid: 'u'.repeat(255), event: 'SessionFinished', timestamp: ts };
    expect(contract.validateE2m('session_event', event).ok).toBe(true);
    expectInvalid(contract.validateE2m('session_event', { ...event, uuid: 'x'.repeat(60_000) }), /uuid.*255 characters/);
  });
  it('checks enumerations exactly, and on display-only variables delivers a value newer than the contract as an unknown value', () => {
    expect(contract.validateE2m('dc_mode', 'Off')).toEqual({ ok: true, value: 'Off' });
    expect(contract.validateE2m('dc_mode', 'off')).toEqual({ ok: true, value: 'off', unknownValue: expect.stringMatching(/^the payload must be one of "Off", /) });
    expect(contract.validateE2m('car_manufacturer', 'Tesla')).toEqual({ ok: true, value: 'Tesla' });
    expect(contract.validateE2m('hlc_session_failed', { uuid: 'a', reason: 'FailedTLSHandshake', more: 1 })).toMatchObject({ ok: true });
    expect(contract.validateE2m('hlc_session_failed', { uuid: 'a', reason: 'Timeout' })).toMatchObject({ ok: true, unknownValue: expect.stringContaining('field "reason" must be one of') });
    // Wrong type is not a newer value: still invalid. Variables the module acts on stay exact.
    expectInvalid(contract.validateE2m('dc_mode', 3), /must be a string/);
    expectInvalid(contract.validateE2m('session_info', { ...sessionInfo, state: 'Teleporting' }), /field "state" must be one of/);
  });
});

describe('requests and replies', () => {
  it('accepts a complete enable_disable envelope and rejects broken ones', () => {
    expect(contract.validateRequest('enable_disable', enableDisable).ok).toBe(true);
    expectInvalid(contract.validateRequest('enable_disable', { headers: enableDisable.headers }), 'field "payload" is required');
    expectInvalid(contract.validateRequest('enable_disable', { payload: enableDisable.payload }), 'field "headers" is required');
    expectInvalid(
      contract.validateRequest('enable_disable', { ...enableDisable, payload: { ...enableDisable.payload, source: { ...enableDisable.payload.source, enable_source: 'localapi' } } }),
      'field "payload.source.enable_source" must be one of "Unspecified", "LocalAPI", "LocalKeyLock", "ServiceTechnician", "RemoteKeyLock", "MobileApp", "FirmwareUpdate", "CSMS"',
    );
    expectInvalid(
      contract.validateRequest('enable_disable', { ...enableDisable, payload: { ...enableDisable.payload, source: { ...enableDisable.payload.source, enable_priority: 10001 } } }),
      'field "payload.source.enable_priority" must be <= 10000',
    );
  });
  it('requires an integer payload for reserve and force_unlock, and none for get_evse', () => {
    const headers = { replyTo: 'r/1' };
    expect(contract.validateRequest('reserve', { headers, payload: 3 }).ok).toBe(true);
    expectInvalid(contract.validateRequest('force_unlock', { headers, payload: '1' }), 'field "payload" must be an integer');
    expect(contract.validateRequest('get_evse', { headers }).ok).toBe(true);
    expect(contract.validateRequest('pause_charging', { headers }).ok).toBe(true);
    expectInvalid(contract.validateRequest('stop_transaction', { headers, payload: { reason: 'remote' } }), /^field "payload.reason" must be one of/);
  });
  it('checks replies: boolean for enable_disable, an Evse for get_evse', () => {
    expect(contract.validateReply('enable_disable', false)).toEqual({ ok: true, value: false });
    expectInvalid(contract.validateReply('enable_disable', 'false'), 'the payload must be true or false');
    const evse = { id: 1, connectors: [{ id: 1, type: 'cMCS' }, { id: 2 }], vendor: 'x' };
    const result = contract.validateReply('get_evse', evse);
    expect(result).toEqual({ ok: true, value: evse });
    if (result.ok) expectTypeOf(result.value).toEqualTypeOf<Evse>();
    expectInvalid(contract.validateReply('get_evse', { id: 1, connectors: [] }), 'field "connectors" must have at least 1 entry');
    expectInvalid(contract.validateReply('get_evse', { id: 1, connectors: [{ id: 1, type: 'ctype2' }] }), /^field "connectors\[0\].type" must be one of/);
  });
});

describe('fire-and-forget sends', () => {
  it('communication_check takes the JSON literal true (and false), nothing else', () => {
    expect(contract.validateSend('communication_check', true)).toEqual({ ok: true, value: true });
    expect(contract.validateSend('communication_check', false).ok).toBe(true);
    expectInvalid(contract.validateSend('communication_check', 'true'), 'the payload must be true or false');
    expectInvalid(contract.validateSend('communication_check', 1), 'the payload must be true or false');
  });
  it('payload-less commands accept the null we publish; set_duration takes an integer', () => {
    for (const name of ['withdraw_authorization', 'cancel_reservation', 'random_delay_enable', 'random_delay_disable', 'random_delay_cancel']) {
      expect(contract.validateSend(name, null).ok).toBe(true);
    }
    expect(contract.validateSend('random_delay_set_duration_s', 600).ok).toBe(true);
    expectInvalid(contract.validateSend('random_delay_set_duration_s', 60.5), 'the payload must be an integer');
  });
  it('authorize_response requires tariff_messages, which EVerest reads unconditionally', () => {
    const args = { token: { id_token: { value: 'AB', type: 'ISO14443' }, authorization_type: 'RFID' }, result: { authorization_status: 'Accepted' } };
    expectInvalid(contract.validateSend('authorize_response', args), 'field "result.tariff_messages" is required');
    expect(contract.validateSend('authorize_response', { ...args, result: { ...args.result, tariff_messages: [] } }).ok).toBe(true);
  });
});

describe('compilation', () => {
  it('compiles nothing at load or while validating: the validators are code generated at build time', async () => {
    const Ajv = AjvModule.default;
    const compile = vi.spyOn(Ajv.prototype, 'compile');
    const addSchema = vi.spyOn(Ajv.prototype, 'addSchema');
    try {
      vi.resetModules();
      const fresh = (await import('../../../src/everest/contract.js')).loadContract();
      for (let i = 0; i < 2000; i += 1) {
        fresh.validateE2m('session_info', { ...sessionInfo, session_duration_s: i });
        fresh.validateE2m('heartbeat', i);
        fresh.validateE2m('session_info', { ...sessionInfo, state: 'bogus' });
        fresh.validateReply('enable_disable', true);
      }
      expect(fresh.validateE2m('session_info', { ...sessionInfo, state: 'bogus' }).ok).toBe(false);
      expect(compile).not.toHaveBeenCalled();
      expect(addSchema).not.toHaveBeenCalled();
    } finally {
      compile.mockRestore();
      addSchema.mockRestore();
    }
  });

  it('the generated module imports only ajv runtime helpers, never ajv itself or the AsyncAPI parser', () => {
    const generated = readFileSync(path.join(repoRoot, 'src', 'everest', 'generated', 'contract-validators.js'), 'utf8');
    const imports = [...generated.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((m) => !/^(ajv\/dist\/runtime\/|ajv-formats\/dist\/formats\.js$)/.test(m ?? ''))).toEqual([]);
    expect(generated).not.toMatch(/require\(|new Function|@asyncapi/);
  });
});
