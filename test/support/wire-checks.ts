// Checks on what went over the wire to EVerest's EVSE modules, from a raw collector (wait.ts `collect`).
import type { CollectedMessage } from './wait.js';

/**
 * Requests to `moduleId` that went out while an earlier one was still in flight: unanswered and within
 * its late-reply window (request timeout + 2 x request timeout, the client's default window).
 */
export function overlaps(wire: readonly CollectedMessage[], moduleId: string, requestTimeoutMs: number): string[] {
  const open = new Map<string, { name: string; until: number }>();
  const found: string[] = [];
  for (const m of wire) {
    const parts = m.topic.split('/');
    if (parts[3] !== moduleId) continue;
    if (parts[4] === 'm2e' && parts[5] !== 'communication_check') {
      const replyTo = (JSON.parse(m.payload) as { headers?: { replyTo?: string } }).headers?.replyTo;
      if (!replyTo) continue;
      for (const [topic, req] of open) if (req.until < m.at) open.delete(topic);
      if (open.size > 0) found.push(`${parts[5]} at ${m.at} while ${[...open.values()].map((r) => r.name).join(', ')} in flight`);
      open.set(replyTo, { name: parts[5] ?? '', until: m.at + 3 * requestTimeoutMs });
    } else if (parts[4] === 'e2m' && parts.length === 7) open.delete(m.topic);
  }
  return found;
}

/** EVerest may enforce less than our limit, never more; above it by more than this it did not take it. */
const ENFORCED_TOLERANCE_A = 0.1;

/**
 * Limit increases for `evseModuleId` (via its limits module) sent while its last new limit was still in
 * flight: a new limit is in flight until an enforced_limits the EVSE published after it shows EVerest at
 * or below it, or until `confirmTimeoutMs` passed unconfirmed (the enforcer's rule). A decrease never
 * waits, a refresh (same current) is no new limit, and the fail-safe sent at shutdown (one entry) is
 * not a plan.
 */
export function limitIncreasesInFlight(wire: readonly CollectedMessage[], evseModuleId: string, limitsModuleId: string, confirmTimeoutMs: number): string[] {
  let sentA: number | undefined;
  let pending: { currentA: number; until: number } | undefined;
  const found: string[] = [];
  for (const m of wire) {
    const parts = m.topic.split('/');
    if (parts[3] === limitsModuleId && parts[4] === 'm2e' && parts[5] === 'set_external_limits') {
      const entries = (JSON.parse(m.payload) as { schedule_import: Array<{ limits_to_root: { ac_max_current_A?: { value: number } } }> }).schedule_import;
      const currentA = entries[0]?.limits_to_root.ac_max_current_A?.value;
      if (entries.length < 2 || currentA === undefined || currentA === sentA) continue;
      if (pending && pending.until < m.at) pending = undefined;
      if (pending && sentA !== undefined && currentA > sentA) found.push(`${currentA} A at ${m.at} while ${pending.currentA} A was unconfirmed`);
      sentA = currentA;
      pending = { currentA, until: m.at + confirmTimeoutMs };
    } else if (parts[3] === evseModuleId && parts[4] === 'e2m' && parts[5] === 'enforced_limits' && pending) {
      const enforced = (JSON.parse(m.payload) as { limits_root_side?: { ac_max_current_A?: { value: number } } }).limits_root_side?.ac_max_current_A?.value;
      if (enforced !== undefined && enforced <= pending.currentA + ENFORCED_TOLERANCE_A) pending = undefined;
    }
  }
  return found;
}
