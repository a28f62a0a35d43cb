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
