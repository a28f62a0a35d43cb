import { randomBytes } from 'node:crypto';

export interface SseTicket {
  ticket: string;
  expiresAtMs: number;
}

export interface SseTicketOptions {
  /** How long a ticket may wait before it opens a stream (default 30 s). */
  ttlMs?: number;
  /** Tickets held at once; the oldest is dropped beyond this (default 1000). */
  maxOutstanding?: number;
  now?: () => number;
}

/**
 * One-time tickets that let a browser's EventSource (which cannot send an Authorization header) open
 * /v1/events. A ticket is bought with a bearer token, opens one stream, then is gone: the URL it sits
 * in (browser history, a proxy's access log) is worthless once used or after ttlMs, unlike a token.
 */
export class SseTickets {
  private readonly issued = new Map<string, { principal: string; expiresAtMs: number }>();
  private readonly ttlMs: number;
  private readonly maxOutstanding: number;
  private readonly now: () => number;

  constructor(options: SseTicketOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxOutstanding = options.maxOutstanding ?? 1000;
    this.now = options.now ?? Date.now;
  }

  issue(principal: string): SseTicket {
    this.dropExpired();
    // Map keeps insertion order: the first key is the oldest ticket.
    while (this.issued.size >= this.maxOutstanding) {
      const oldest = this.issued.keys().next().value;
      if (oldest === undefined) break;
      this.issued.delete(oldest);
    }
    const ticket = randomBytes(24).toString('base64url');
    const expiresAtMs = this.now() + this.ttlMs;
    this.issued.set(ticket, { principal, expiresAtMs });
    return { ticket, expiresAtMs };
  }

  /** The principal the ticket was issued to, once; undefined for an unknown, used or expired ticket. */
  redeem(ticket: string): string | undefined {
    const entry = this.issued.get(ticket);
    if (!entry) return undefined;
    this.issued.delete(ticket);
    return entry.expiresAtMs > this.now() ? entry.principal : undefined;
  }

  get outstanding(): number {
    return this.issued.size;
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [ticket, entry] of this.issued) if (entry.expiresAtMs <= now) this.issued.delete(ticket);
  }
}
