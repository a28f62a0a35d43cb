import type { Contract } from '../everest/contract.js';
import {
  M2E_REQUESTS,
  M2E_SENDS,
  type AuthorizeResponse,
  type EnableDisableRequest,
  type M2eRequest,
  type M2eSend,
  type StopTransactionRequest,
} from '../everest/payloads.js';
import { hasM2eRoute } from '../everest/release.js';
import type { EvseModel } from './evse-model.js';

export type M2eOutcome =
  | { kind: 'reply'; request: M2eRequest; replyTo: string; reply: unknown; body: string }
  | { kind: 'accepted'; send: M2eSend; value: unknown }
  | { kind: 'comm_check'; value: boolean; changed: boolean }
  /** EVerest's answer to anything it cannot parse: nothing on the wire, a warning in its log. */
  | { kind: 'ignored'; reason: string };

const REQUESTS: ReadonlySet<string> = new Set(M2E_REQUESTS);
const SENDS: ReadonlySet<string> = new Set(M2E_SENDS);
/** Commands whose payload EVerest never reads. */
const PAYLOAD_IGNORED: ReadonlySet<string> = new Set(['withdraw_authorization', 'cancel_reservation']);
/** Needs a random_delay module wired in EVerest; the simulator does not wire one, so EVerest would not even subscribe. */
const NOT_WIRED: ReadonlySet<string> = new Set(['random_delay_enable', 'random_delay_disable', 'random_delay_cancel', 'random_delay_set_duration_s']);

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function replyToOf(envelope: unknown): string | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const headers = (envelope as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const replyTo = (headers as { replyTo?: unknown }).replyTo;
  return typeof replyTo === 'string' && replyTo.length > 0 ? replyTo : undefined;
}

/** Handles one message on `m2e/<name>` the way the API module and EvseManager would. */
export function handleM2e(model: EvseModel, name: string, raw: Buffer, contract: Contract, now: number): M2eOutcome {
  if (!hasM2eRoute(model.release, name)) return { kind: 'ignored', reason: `${name}: no such route in EVerest ${model.release}` };
  if (REQUESTS.has(name)) return handleRequest(model, name as M2eRequest, raw, contract, now);
  if (NOT_WIRED.has(name)) return { kind: 'ignored', reason: `${name}: no random_delay module wired` };
  if (!SENDS.has(name)) return { kind: 'ignored', reason: `unknown command ${name}` };
  const send = name as M2eSend;
  if (PAYLOAD_IGNORED.has(send)) {
    if (send === 'withdraw_authorization') model.withdrawAuthorization(now);
    else model.cancelReservation(now);
    return { kind: 'accepted', send, value: null };
  }
  const parsed = parseJson(raw);
  if (!parsed.ok) return { kind: 'ignored', reason: `${send}: payload is not JSON` };
  const checked = contract.validateSend(send, parsed.value);
  if (!checked.ok) return { kind: 'ignored', reason: `${send}: ${checked.reason}` };
  if (send === 'communication_check') {
    const result = model.comm.receive(parsed.value, now);
    if (!result.accepted) return { kind: 'ignored', reason: `communication_check: ${result.reason}` };
    return { kind: 'comm_check', value: parsed.value as boolean, changed: result.changed };
  }
  if (send === 'authorize_response') model.authorizeResponse(parsed.value as AuthorizeResponse, now);
  return { kind: 'accepted', send, value: parsed.value };
}

function handleRequest(model: EvseModel, request: M2eRequest, raw: Buffer, contract: Contract, now: number): M2eOutcome {
  const parsed = parseJson(raw);
  if (!parsed.ok) return { kind: 'ignored', reason: `${request}: request is not JSON` };
  const replyTo = replyToOf(parsed.value);
  if (replyTo === undefined) {
    if (model.release === '2025.11') return { kind: 'ignored', reason: `${request}: no headers.replyTo` };
    // 2026.02 executes a request without headers and has nowhere to send the reply.
    const payload = (parsed.value as { payload?: unknown } | null)?.payload;
    const checked = contract.validateRequest(request, { headers: { replyTo: 'none' }, ...(payload !== undefined ? { payload } : {}) });
    if (!checked.ok) return { kind: 'ignored', reason: `${request}: ${checked.reason}` };
    dispatch(model, request, payload, now);
    return { kind: 'ignored', reason: `${request}: executed, no headers.replyTo to answer on` };
  }
  const checked = contract.validateRequest(request, parsed.value);
  if (!checked.ok) return { kind: 'ignored', reason: `${request}: ${checked.reason}` };
  const payload = (parsed.value as { payload?: unknown }).payload;
  const reply = dispatch(model, request, payload, now);
  // get_evse comes back pretty-printed, the booleans as bare literals.
  const body = request === 'get_evse' ? JSON.stringify(reply, null, 2) : JSON.stringify(reply);
  return { kind: 'reply', request, replyTo, reply, body };
}

function dispatch(model: EvseModel, request: M2eRequest, payload: unknown, now: number): unknown {
  switch (request) {
    case 'get_evse':
      return model.getEvse();
    case 'enable_disable':
      return model.enableDisable(payload as EnableDisableRequest, now);
    case 'reserve':
      return model.reserve(payload as number, now);
    case 'pause_charging':
      return model.pauseCharging(now);
    case 'resume_charging':
      return model.resumeCharging(now);
    case 'stop_transaction':
      return model.stopTransaction(payload as StopTransactionRequest, now);
    case 'force_unlock':
      return model.forceUnlock(payload as number, now);
    case 'external_ready_to_start_charging':
      return model.externalReadyToStartCharging(now);
  }
}
