// Fault injection for one EVSE's requests: an EVerest that ignores or refuses a command, or whose
// answer and events never make it back (a broker that dies after the request arrived). Tests of the
// enforcer's uncertain outcomes and of the escalation ladder use it on the wire.
import type { M2eRequest } from '../everest/payloads.js';

export type CommandFault =
  /** Never answered and not carried out (a request EVerest could not parse looks the same). */
  | { command: M2eRequest; mode: 'ignore' }
  /** Answered `false` and not carried out. */
  | { command: M2eRequest; mode: 'refuse' }
  /** Carried out, but everything this EVSE publishes for `ms` afterwards (the reply, the events) is lost. */
  | { command: M2eRequest; mode: 'mute_after'; ms: number };

/** The replyTo of a request envelope, if it has one (a refusal is sent there). */
export function replyToOf(payload: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const headers = (parsed as { headers?: unknown }).headers;
    if (typeof headers !== 'object' || headers === null) return undefined;
    const replyTo = (headers as { replyTo?: unknown }).replyTo;
    return typeof replyTo === 'string' ? replyTo : undefined;
  } catch {
    // Not JSON: EVerest would drop it without a word; so does the fault.
    return undefined;
  }
}
