import { describe, expect, it } from 'vitest';
import { SseTickets } from '../../../src/api/http/sse-tickets.js';

describe('SseTickets', () => {
  it('redeems a ticket once, for the principal it was issued to', () => {
    const tickets = new SseTickets({ now: () => 1000 });
    const { ticket, expiresAtMs } = tickets.issue('http:token-2');
    expect(expiresAtMs).toBe(31_000);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(tickets.redeem(ticket)).toBe('http:token-2');
    expect(tickets.redeem(ticket)).toBeUndefined();
    expect(tickets.redeem('never-issued')).toBeUndefined();
  });

  it('refuses an expired ticket and forgets expired ones on the next issue', () => {
    let now = 0;
    const tickets = new SseTickets({ ttlMs: 100, now: () => now });
    const old = tickets.issue('a').ticket;
    now = 100;
    expect(tickets.redeem(old)).toBeUndefined();
    tickets.issue('b');
    now = 250;
    tickets.issue('c');
    expect(tickets.outstanding).toBe(1);
  });

  it('holds at most maxOutstanding tickets, dropping the oldest', () => {
    const tickets = new SseTickets({ maxOutstanding: 2, now: () => 0 });
    const first = tickets.issue('a').ticket;
    const second = tickets.issue('b').ticket;
    const third = tickets.issue('c').ticket;
    expect(tickets.outstanding).toBe(2);
    expect(tickets.redeem(first)).toBeUndefined();
    expect(tickets.redeem(second)).toBe('b');
    expect(tickets.redeem(third)).toBe('c');
  });
});
