import type { MqttClient } from 'mqtt';
import { firstValueFrom, lastValueFrom, toArray, take } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { E2M_SHAPE_LIMITS } from '../../src/everest/client.js';
import { InvalidReplyError, RequestTimeoutError, UnknownEvseError } from '../../src/everest/errors.js';
import { externalLimitsMessage } from '../../src/everest/external-limits.js';
import { CommunicationCheck, HeartbeatMonitor, type LivenessEvent } from '../../src/everest/liveness.js';
import { E2M_VARS, M2E_REQUESTS, M2E_SENDS } from '../../src/everest/payloads.js';
import { RouteRemovedError } from '../../src/everest/release.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { clientStack, quietLogger, rawClient, type ClientStack } from '../support/everest-stack.js';
import { collect, sleep, waitFor } from '../support/wait.js';

const BASE = 'everest_api/1/evse_manager_consumer';
const LIMITS_BASE = 'everest_api/1/external_energy_limits_consumer';
const EVSES = ['evse_a', 'evse_b', 'evse_c'];

/** Answers every request on m2e like EVerest does: a bare JSON value on the replyTo topic. */
async function responder(url: string, answer: (moduleId: string, command: string, replyTo: string) => unknown): Promise<MqttClient> {
  const peer = await rawClient(url);
  await peer.subscribeAsync(`${BASE}/+/m2e/#`);
  peer.on('message', (topic, payload) => {
    const [, , , moduleId, , command] = topic.split('/');
    if (!moduleId || !command || command === 'communication_check') return;
    let replyTo: string | undefined;
    try {
      replyTo = (JSON.parse(payload.toString()) as { headers?: { replyTo?: string } }).headers?.replyTo;
    } catch {
      return;
    }
    if (!replyTo) return;
    const reply = answer(moduleId, command, replyTo);
    if (reply !== undefined) peer.publish(replyTo, JSON.stringify(reply));
  });
  return peer;
}

describe('EverestClient against a real broker', () => {
  let broker: TestBroker;
  let stack: ClientStack;
  const extras: MqttClient[] = [];

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker.stop();
  });
  afterEach(async () => {
    await stack?.close();
    await Promise.all(extras.splice(0).map((c) => c.endAsync()));
  });

  it('sends every request with a unique replyTo envelope and the payload EVerest expects (release 2025.11, every route)', async () => {
    stack = await clientStack(broker.url, EVSES, { release: '2025.11' });
    const watcher = await rawClient(broker.url);
    extras.push(watcher);
    const wire = await collect(watcher, `${BASE}/evse_a/m2e/#`);
    extras.push(await responder(broker.url, (_m, command) => (command === 'get_evse' ? { id: 1, connectors: [{ id: 1, type: 'cType2' }] } : true)));
    const evse = stack.client.evse('evse_a');

    expect(await firstValueFrom(evse.request('get_evse'))).toEqual({ id: 1, connectors: [{ id: 1, type: 'cType2' }] });
    expect(await firstValueFrom(evse.request('enable_disable', { connector_id: 1, source: { enable_source: 'LocalAPI', enable_state: 'Disable', enable_priority: 100 } }))).toBe(true);
    expect(await firstValueFrom(evse.request('reserve', 7))).toBe(true);
    expect(await firstValueFrom(evse.request('pause_charging'))).toBe(true);
    expect(await firstValueFrom(evse.request('resume_charging'))).toBe(true);
    expect(await firstValueFrom(evse.request('stop_transaction', { reason: 'Local' }))).toBe(true);
    expect(await firstValueFrom(evse.request('force_unlock', 1))).toBe(true);
    expect(await firstValueFrom(evse.request('external_ready_to_start_charging'))).toBe(true);
    await evse.send('authorize_response', { token: { id_token: { value: 'abc', type: 'Central' }, authorization_type: 'OCPP' }, result: { authorization_status: 'Accepted', tariff_messages: [] } });
    await evse.send('withdraw_authorization', null);
    await evse.send('cancel_reservation', null);
    await evse.send('random_delay_enable', null);
    await evse.send('random_delay_disable', null);
    await evse.send('random_delay_cancel', null);
    await evse.send('random_delay_set_duration_s', 42);

    const byCommand = await waitFor(() => {
      const seen = new Map(wire.messages.map((m) => [m.topic.split('/').pop() ?? '', m.payload]));
      return M2E_REQUESTS.every((c) => seen.has(c)) && M2E_SENDS.filter((c) => c !== 'communication_check').every((c) => seen.has(c)) ? seen : undefined;
    });

    const replyTos = new Set<string>();
    for (const command of M2E_REQUESTS) {
      const envelope = JSON.parse(byCommand.get(command) ?? 'null') as { headers: { replyTo: string }; payload?: unknown };
      expect(stack.contract.validateRequest(command, envelope).ok, `${command} request shape`).toBe(true);
      expect(envelope.headers.replyTo).toMatch(new RegExp(`^${BASE}/evse_a/e2m/${command}/[0-9a-f-]{36}$`));
      replyTos.add(envelope.headers.replyTo);
      const withoutPayload = ['get_evse', 'pause_charging', 'resume_charging', 'external_ready_to_start_charging'];
      expect('payload' in envelope, `${command} payload presence`).toBe(!withoutPayload.includes(command));
    }
    expect(replyTos.size).toBe(M2E_REQUESTS.length);
    expect(JSON.parse(byCommand.get('reserve') ?? '')).toMatchObject({ payload: 7 });
    expect(JSON.parse(byCommand.get('force_unlock') ?? '')).toMatchObject({ payload: 1 });
    expect(byCommand.get('random_delay_set_duration_s')).toBe('42');
    expect(byCommand.get('withdraw_authorization')).toBe('null');
    for (const command of M2E_SENDS.filter((c) => c !== 'communication_check')) {
      expect(stack.contract.validateSend(command, JSON.parse(byCommand.get(command) ?? '')).ok, `${command} send shape`).toBe(true);
    }
    expect(stack.client.pendingCount).toBe(0);
  });

  it('release 2026.02: a command whose route EVerest removed is refused at once, naming the release, and never published', async () => {
    stack = await clientStack(broker.url, EVSES, { release: '2026.02' });
    const watcher = await rawClient(broker.url);
    extras.push(watcher);
    const wire = await collect(watcher, `${BASE}/evse_a/m2e/#`);
    const evse = stack.client.evse('evse_a');
    await expect(firstValueFrom(evse.request('reserve', 7))).rejects.toThrow('EVerest 2026.02 has no m2e/reserve route (removed in 2025.12)');
    await expect(firstValueFrom(evse.request('external_ready_to_start_charging'))).rejects.toThrow(RouteRemovedError);
    await expect(evse.send('withdraw_authorization', null)).rejects.toThrow('EVerest 2026.02 has no m2e/withdraw_authorization route');
    // A route the release still has goes out, and serves as the marker that the refused ones did not.
    await evse.send('communication_check', true);
    await waitFor(() => wire.messages.length > 0);
    expect(wire.messages.map((m) => m.topic)).toEqual([`${BASE}/evse_a/m2e/communication_check`]);
    expect(stack.client.pendingCount).toBe(0);
  });

  it('correlates hundreds of concurrent replies across several EVSEs by reply topic alone', async () => {
    stack = await clientStack(broker.url, EVSES, { release: '2025.11' });
    // The peer answers from each request's own payload (i even -> true), in shuffled order, so only
    // correct correlation by reply topic gives every caller its own answer.
    const queue: Array<[string, boolean]> = [];
    const peer = await rawClient(broker.url);
    extras.push(peer);
    await peer.subscribeAsync(`${BASE}/+/m2e/#`);
    peer.on('message', (_topic, payload) => {
      const req = JSON.parse(payload.toString()) as { headers?: { replyTo?: string }; payload?: number | { connector_id: number } };
      if (!req.headers?.replyTo || req.payload === undefined) return;
      const i = typeof req.payload === 'number' ? req.payload : req.payload.connector_id;
      queue.push([req.headers.replyTo, i % 2 === 0]);
    });
    const flush = setInterval(() => {
      queue.sort(() => Math.random() - 0.5);
      for (const [topic, value] of queue.splice(0)) peer.publish(topic, JSON.stringify(value));
    }, 20);
    try {
      const calls = Array.from({ length: 300 }, (_, i) => {
        const evse = stack.client.evse(EVSES[i % EVSES.length] ?? 'evse_a');
        const reply$ =
          i % 3 === 0
            ? evse.request('reserve', i)
            : i % 3 === 1
              ? evse.request('force_unlock', i)
              : evse.request('enable_disable', { connector_id: i, source: { enable_source: 'LocalAPI', enable_state: 'Enable', enable_priority: 100 } });
        return firstValueFrom(reply$).then((reply) => ({ i, reply }));
      });
      const results = await Promise.all(calls);
      expect(results).toHaveLength(300);
      expect(results.filter((r) => r.reply !== (r.i % 2 === 0))).toEqual([]);
      expect(stack.client.pendingCount).toBe(0);
      expect(stack.metrics.outcomes.get('reply')).toBe(300);
    } finally {
      clearInterval(flush);
    }
  });

  it('times out with a typed error naming the command and module_id; a late reply within the window goes to lateReply, after it is only counted', async () => {
    stack = await clientStack(broker.url, EVSES, { requestTimeoutMs: 300 });
    const held: string[] = [];
    const peer = await responder(broker.url, (_m, _c, replyTo) => {
      held.push(replyTo);
      return undefined;
    });
    extras.push(peer);
    const error = await firstValueFrom(stack.client.evse('evse_b').request('pause_charging')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as RequestTimeoutError).command).toBe('pause_charging');
    expect((error as RequestTimeoutError).moduleId).toBe('evse_b');
    expect((error as Error).message).toContain('evse_b');
    // EVerest may still be working on it: the reply topic stays open for the late-reply window.
    expect(stack.client.pendingCount).toBe(1);
    const late = firstValueFrom((error as RequestTimeoutError).lateReply!, { defaultValue: 'none' });
    peer.publish(held[0] ?? '', 'true');
    expect(await late).toBe(true);
    await waitFor(() => stack.metrics.lateReplies === 1);
    expect(stack.client.pendingCount).toBe(0);

    // A second one never answered: the window (2 x 300 ms) closes empty, and a reply after it is only counted.
    const second = (await firstValueFrom(stack.client.evse('evse_b').request('pause_charging')).catch((e: unknown) => e)) as RequestTimeoutError;
    expect(await firstValueFrom(second.lateReply!, { defaultValue: 'none' })).toBe('none');
    expect(stack.client.pendingCount).toBe(0);
    peer.publish(held[1] ?? '', 'true');
    await waitFor(() => stack.metrics.lateReplies === 2);
    expect(stack.client.pendingCount).toBe(0);
  });

  it('cancels on unsubscribe: nothing stays pending and a reply afterwards is harmless', async () => {
    stack = await clientStack(broker.url, EVSES, { requestTimeoutMs: 5000 });
    const held: string[] = [];
    extras.push(
      await responder(broker.url, (_m, _c, replyTo) => {
        held.push(replyTo);
        return undefined;
      }),
    );
    const sub = stack.client.evse('evse_c').request('resume_charging').subscribe();
    await waitFor(() => held.length === 1);
    expect(stack.client.pendingCount).toBe(1);
    sub.unsubscribe();
    expect(stack.client.pendingCount).toBe(0);
  });

  it('a request is cold: nothing is published until subscribed', async () => {
    stack = await clientStack(broker.url, EVSES);
    const watcher = await rawClient(broker.url);
    extras.push(watcher);
    const wire = await collect(watcher, `${BASE}/evse_a/m2e/pause_charging`);
    const cold = stack.client.evse('evse_a').request('pause_charging');
    await sleep(200);
    expect(wire.messages).toHaveLength(0);
    const sub = cold.subscribe({ error: () => undefined });
    await waitFor(() => wire.messages.length === 1);
    sub.unsubscribe();
  });

  it('rejects an invalid reply with a typed error', async () => {
    stack = await clientStack(broker.url, EVSES);
    extras.push(await responder(broker.url, () => 'yes'));
    const error = await firstValueFrom(stack.client.evse('evse_a').request('pause_charging')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidReplyError);
    expect(stack.metrics.invalidTotal).toBe(1);
  });

  it('drops garbage on every e2m topic, keeps valid traffic flowing and keeps the communication check alive', async () => {
    stack = await clientStack(broker.url, EVSES);
    const check = new CommunicationCheck({ client: stack.client, status$: stack.transport.status$, moduleIds: EVSES, intervalMs: 100, logger: quietLogger() });
    check.start();
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const checks = await collect(peer, `${BASE}/evse_a/m2e/communication_check`);
    const received: unknown[] = [];
    stack.client.evse('evse_a').on('evse_id').subscribe((v) => received.push(v));

    for (const name of E2M_VARS) {
      await peer.publishAsync(`${BASE}/evse_a/e2m/${name}`, '{not json');
      // Valid JSON, wrong shape for every variable: an array of nulls fits none of the schemas.
      await peer.publishAsync(`${BASE}/evse_a/e2m/${name}`, '[null,null]');
    }
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, JSON.stringify('DEPNXE000001*1'));
    await waitFor(() => received.length === 1, { message: 'valid evse_id after garbage' });
    expect(stack.metrics.invalidTotal).toBe(E2M_VARS.length * 2);
    const before = checks.messages.length;
    await sleep(350);
    expect(checks.messages.length).toBeGreaterThan(before + 1);
    expect(new Set(checks.messages.map((m) => m.payload))).toEqual(new Set(['true']));
    await check.stop(false);
  });

  it('refuses a payload nested or spread far past any EVerest payload on its raw text, before parsing it', async () => {
    stack = await clientStack(broker.url, EVSES);
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const reasons: string[] = [];
    stack.client.invalid$.subscribe((m) => reasons.push(m.reason));
    const ids: unknown[] = [];
    stack.client.evse('evse_a').on('evse_id').subscribe((v) => ids.push(v));
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, '['.repeat(20_000) + ']'.repeat(20_000));
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, `[${'1,'.repeat(E2M_SHAPE_LIMITS.maxMembers)}1]`);
    // Past the depth limit in a long text (padded with spaces to the scan's threshold): refused on its text.
    const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    const scanned = E2M_SHAPE_LIMITS.scanFromChars ?? 0;
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, deep(E2M_SHAPE_LIMITS.maxDepth + 1).padEnd(scanned));
    // At the limit, or past it in a short text (cheap to parse), it is parsed and refused by the contract.
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, deep(E2M_SHAPE_LIMITS.maxDepth).padEnd(scanned));
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, deep(E2M_SHAPE_LIMITS.maxDepth + 1));
    await peer.publishAsync(`${BASE}/evse_a/e2m/evse_id`, JSON.stringify('DEPNXE000001*1'));
    await waitFor(() => ids.length === 1, { message: 'valid evse_id after the deep payloads' });
    expect(reasons).toHaveLength(5);
    expect(reasons[0]).toBe(`invalid JSON: the payload nests deeper than ${E2M_SHAPE_LIMITS.maxDepth} levels`);
    expect(reasons[1]).toBe(`invalid JSON: the payload has more than ${E2M_SHAPE_LIMITS.maxMembers} members (object keys and array items)`);
    expect(reasons[2]).toBe(`invalid JSON: the payload nests deeper than ${E2M_SHAPE_LIMITS.maxDepth} levels`);
    expect(reasons[3]).not.toContain('nests deeper');
    expect(reasons[4]).not.toContain('nests deeper');
    expect(reasons[4]).not.toContain('invalid JSON');
    expect(stack.metrics.invalidTotal).toBe(5);
  });

  it('tolerates unknown extra fields and unknown e2m variables', async () => {
    stack = await clientStack(broker.url, EVSES);
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const limits: unknown[] = [];
    stack.client.evse('evse_b').on('limits').subscribe((v) => limits.push(v));
    await peer.publishAsync(`${BASE}/evse_b/e2m/limits`, JSON.stringify({ max_current: 16, nr_of_phases_available: 3, future_field: { x: 1 } }));
    await peer.publishAsync(`${BASE}/evse_b/e2m/some_future_variable`, JSON.stringify({ a: 1 }));
    await waitFor(() => limits.length === 1);
    expect(limits[0]).toMatchObject({ max_current: 16, future_field: { x: 1 } });
    expect(stack.metrics.invalidTotal).toBe(0);
  });

  it('delivers an enum value newer than our contract on a display-only topic (counted as unknown value), drops it on a topic we act on', async () => {
    stack = await clientStack(broker.url, EVSES);
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const hw: unknown[] = [];
    const failures: unknown[] = [];
    const events: unknown[] = [];
    const evse = stack.client.evse('evse_a');
    evse.on('hw_capabilities').subscribe((v) => hw.push(v));
    evse.on('hlc_session_failed').subscribe((v) => failures.push(v));
    evse.on('session_event').subscribe((v) => events.push(v));
    const hwCaps = { max_current_A_import: 32, min_current_A_import: 6, max_phase_count_import: 3, min_phase_count_import: 1, max_current_A_export: 0, min_current_A_export: 0, max_phase_count_export: 3, min_phase_count_export: 1, supports_changing_phases_during_charging: false, connector_type: 'cMCS2030', extra_2027: true };
    await peer.publishAsync(`${BASE}/evse_a/e2m/hw_capabilities`, JSON.stringify(hwCaps));
    await peer.publishAsync(`${BASE}/evse_a/e2m/hlc_session_failed`, JSON.stringify({ uuid: 's1', reason: 'SomeReasonFrom2027' }));
    // session_event drives decisions: an event name we do not know is invalid, whatever release sent it.
    await peer.publishAsync(`${BASE}/evse_a/e2m/session_event`, JSON.stringify({ uuid: 's1', event: 'ChargingTeleported', timestamp: '2026-02-01T10:00:00Z' }));
    await waitFor(() => hw.length === 1 && failures.length === 1 && stack.metrics.invalidTotal === 1);
    expect(hw[0]).toMatchObject({ connector_type: 'cMCS2030', extra_2027: true });
    expect(failures[0]).toEqual({ uuid: 's1', reason: 'SomeReasonFrom2027' });
    expect(events).toEqual([]);
    expect(stack.metrics.unknownValueByName.get('hw_capabilities')).toBe(1);
    expect(stack.metrics.invalidByName.get('session_event')).toBe(1);
    // A display-only payload that breaks more than an enum (a required field missing) is still invalid.
    await peer.publishAsync(`${BASE}/evse_a/e2m/hw_capabilities`, JSON.stringify({ ...hwCaps, max_current_A_import: undefined }));
    await waitFor(() => stack.metrics.invalidByName.get('hw_capabilities') === 1);
    expect(hw).toHaveLength(1);
  });

  it('watches the heartbeat: online, counter gaps, restarts, the old {} form and silence', async () => {
    stack = await clientStack(broker.url, EVSES);
    const monitor = new HeartbeatMonitor({ client: stack.client, moduleIds: EVSES, timeoutMs: 400, logger: quietLogger() });
    const events: LivenessEvent[] = [];
    monitor.events$.subscribe((e) => events.push(e));
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const beat = (v: unknown) => peer.publishAsync(`${BASE}/evse_a/e2m/heartbeat`, JSON.stringify(v));

    expect(monitor.current('evse_a')?.status).toBe('unknown');
    expect(monitor.isCommandable('evse_a')).toBe(false);
    await beat(0);
    await beat(1);
    await waitFor(() => monitor.current('evse_a')?.counter === 1);
    expect(monitor.current('evse_a')?.status).toBe('online');
    expect(monitor.isCommandable('evse_a')).toBe(true);
    await beat(5);
    await waitFor(() => events.some((e) => e.type === 'gap'));
    expect(events.find((e) => e.type === 'gap')).toMatchObject({ lost: 3, counter: 5 });
    expect(monitor.current('evse_a')?.lost).toBe(3);
    await beat(0);
    await waitFor(() => monitor.current('evse_a')?.status === 'restarted');
    expect(monitor.current('evse_a')?.restarts).toBe(1);
    await beat({});
    await waitFor(() => monitor.current('evse_a')?.status === 'online');
    // Silence past the timeout: stale, and not commandable.
    await waitFor(() => monitor.current('evse_a')?.status === 'stale', { timeoutMs: 2000 });
    expect(monitor.isCommandable('evse_a')).toBe(false);
    const statuses = await lastValueFrom(monitor.status$('evse_a').pipe(take(1), toArray()));
    expect(statuses).toEqual(['stale']);
    monitor.dispose();
  });

  // ---------------------------------------------------------------- external_energy_limits_consumer_API

  it('publishes set_external_limits as bare ExternalLimits JSON on the limits module topic, valid against the contract', async () => {
    stack = await clientStack(broker.url, ['evse_a']);
    await stack.client.addLimitsModules(['evse_a_limits']);
    const watcher = await rawClient(broker.url);
    extras.push(watcher);
    const wire = await collect(watcher, `${LIMITS_BASE}/#`);
    const message = externalLimitsMessage({ currentA: 13, now: Date.parse('2026-03-02T10:00:00Z'), failsafeS: 60, failsafeCurrentA: 6.5 });

    stack.client.setExternalLimits('evse_a_limits', message);
    await waitFor(() => wire.messages.length === 1);
    const [sent] = wire.messages;
    expect(sent?.topic).toBe(`${LIMITS_BASE}/evse_a_limits/m2e/set_external_limits`);
    const payload: unknown = JSON.parse(sent?.payload ?? '');
    expect(payload).toEqual(message);
    expect(stack.contract.externalLimits.validateSend('set_external_limits', payload)).toMatchObject({ ok: true });
    expect(stack.metrics.out.get('set_external_limits')).toBe(1);

    // The two APIs do not mix: no limits to an EVSE module, no EVSE commands to a limits module.
    expect(() => stack.client.setExternalLimits('evse_a', message)).toThrow(UnknownEvseError);
    expect(() => stack.client.setExternalLimits('nobody', message)).toThrow(UnknownEvseError);
    expect(() => stack.client.evse('evse_a_limits')).toThrow(UnknownEvseError);
    await expect(stack.client.send('evse_a_limits', 'random_delay_enable', null)).rejects.toThrow(UnknownEvseError);
    expect(stack.client.moduleIds).toEqual(['evse_a']);
    expect(stack.client.limitsModuleIds).toEqual(['evse_a_limits']);
  });

  it('keeps the limits module alive and watches its heartbeat exactly as an EVSE module', async () => {
    stack = await clientStack(broker.url, ['evse_a']);
    await stack.client.addLimitsModules(['lim_a']);
    const ids = ['evse_a', 'lim_a'];
    const monitor = new HeartbeatMonitor({ client: stack.client, moduleIds: ids, timeoutMs: 400, logger: quietLogger() });
    const check = new CommunicationCheck({ client: stack.client, status$: stack.transport.status$, moduleIds: ids, intervalMs: 100, logger: quietLogger() });
    const peer = await rawClient(broker.url);
    extras.push(peer);
    const limitsChecks = await collect(peer, `${LIMITS_BASE}/lim_a/m2e/communication_check`);
    const evseChecks = await collect(peer, `${BASE}/evse_a/m2e/communication_check`);
    check.start();

    await waitFor(() => limitsChecks.messages.length >= 3 && evseChecks.messages.length >= 3, { message: 'communication checks on both APIs' });
    expect(new Set(limitsChecks.messages.map((m) => m.payload))).toEqual(new Set(['true']));

    // A heartbeat of the limits module counts for the limits module only, on its own API's topic.
    await peer.publishAsync(`${BASE}/lim_a/e2m/heartbeat`, '5');
    await peer.publishAsync(`${LIMITS_BASE}/evse_a/e2m/heartbeat`, '5');
    await peer.publishAsync(`${LIMITS_BASE}/lim_a/e2m/heartbeat`, '0');
    await peer.publishAsync(`${LIMITS_BASE}/lim_a/e2m/heartbeat`, '1');
    await waitFor(() => monitor.current('lim_a')?.counter === 1);
    expect(monitor.current('lim_a')).toMatchObject({ status: 'online', lost: 0, restarts: 0 });
    expect(monitor.current('evse_a')?.status).toBe('unknown');

    // Garbage is logged, counted and dropped; a restart is seen as on an EVSE.
    await peer.publishAsync(`${LIMITS_BASE}/lim_a/e2m/heartbeat`, '{not json');
    await peer.publishAsync(`${LIMITS_BASE}/lim_a/e2m/heartbeat`, '"x"');
    await peer.publishAsync(`${LIMITS_BASE}/lim_a/e2m/heartbeat`, '0');
    await waitFor(() => monitor.current('lim_a')?.status === 'restarted');
    expect(stack.metrics.invalidByName.get('heartbeat')).toBe(2);

    // Silence: stale.
    await waitFor(() => monitor.current('lim_a')?.status === 'stale', { timeoutMs: 2000 });
    await check.stop(false);
    const after = limitsChecks.messages.length;
    await sleep(250);
    expect(limitsChecks.messages.length).toBe(after);
    monitor.dispose();
  });

  it('uses the configured prefix and API version for the limits topics too', async () => {
    stack = await clientStack(broker.url, ['evse_a'], { prefix: 'site7/', apiVersion: '1.0' });
    await stack.client.addLimitsModules(['lim_a']);
    const watcher = await rawClient(broker.url);
    extras.push(watcher);
    const wire = await collect(watcher, 'site7/everest_api/1.0/external_energy_limits_consumer/lim_a/m2e/#');
    stack.client.setExternalLimits('lim_a', externalLimitsMessage({ currentA: 6, now: Date.now(), failsafeS: 60, failsafeCurrentA: 6 }));
    await stack.client.send('lim_a', 'communication_check', true);
    await waitFor(() => wire.messages.length === 2);
    expect(wire.messages.map((m) => m.topic.split('/').pop()).sort()).toEqual(['communication_check', 'set_external_limits']);
  });
});
