import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../../src/api/events.js';
import { signBody, WebhookDispatcher } from '../../../src/api/webhooks.js';
import { waitFor } from '../../support/wait.js';

const logger = pino({ level: 'silent' });

function budgetEvent(id: number): ApiEvent {
  return { id, type: 'budget', timestamp: '2025-01-01T00:00:00.000Z', data: { max_power_w: id, set_by: 'test' } };
}

interface Receiver {
  url: string;
  bodies: string[];
  attempts: number;
  server: Server;
  /** Released to let held requests answer. */
  release(): void;
}

/** Answers with `statuses` in turn (the last one repeats); `hold` keeps requests open until release(). */
async function receiver(statuses: number[], hold = false): Promise<Receiver> {
  const waiting: Array<() => void> = [];
  let released = !hold;
  const r: Receiver = {
    url: '',
    bodies: [],
    attempts: 0,
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = statuses[Math.min(r.attempts, statuses.length - 1)] ?? 200;
        r.attempts += 1;
        const answer = (): void => {
          if (status < 300) r.bodies.push(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(status).end();
        };
        if (released) answer();
        else waiting.push(answer);
      });
    }),
    release: () => {
      released = true;
      for (const w of waiting.splice(0)) w();
    },
  };
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dispatcher(...args: ConstructorParameters<typeof WebhookDispatcher>): WebhookDispatcher {
  const d = new WebhookDispatcher(...args);
  cleanups.push(() => d.close());
  return d;
}

describe('signBody', () => {
  it('is sha256= and the hex HMAC-SHA256 of the raw body', () => {
    const body = '{"type":"budget"}';
    expect(signBody(body, 'k')).toBe(`sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`);
    // RFC 4231 test case 2.
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('WebhookDispatcher', () => {
  it('retries network errors and 5xx with backoff, then gives up after the configured attempts', async () => {
    const r = await receiver([503, 502, 200]);
    cleanups.push(() => r.server.close());
    const events = new Subject<ApiEvent>();
    const d = dispatcher([{ url: r.url, secret: 's' }], events, logger, { attempts: 3, backoffMs: 10 });
    events.next(budgetEvent(1));
    await waitFor(() => d.stats()[0]?.delivered === 1);
    expect(r.attempts).toBe(3);
    expect(JSON.parse(r.bodies[0] ?? '{}')).toEqual({ type: 'budget', data: { max_power_w: 1, set_by: 'test' }, timestamp: '2025-01-01T00:00:00.000Z', id: 1 });

    const dead = dispatcher([{ url: 'http://127.0.0.1:9/nothing', secret: 's' }], events, logger, { attempts: 2, backoffMs: 10 });
    events.next(budgetEvent(2));
    await waitFor(() => dead.stats()[0]?.failed === 1);
  });

  it('does not retry a 4xx refusal', async () => {
    const r = await receiver([400]);
    cleanups.push(() => r.server.close());
    const events = new Subject<ApiEvent>();
    const d = dispatcher([{ url: r.url, secret: 's' }], events, logger, { attempts: 3, backoffMs: 10 });
    events.next(budgetEvent(1));
    await waitFor(() => d.stats()[0]?.failed === 1);
    expect(r.attempts).toBe(1);
  });

  it('never blocks the event pipeline, delivers in order and drops the oldest beyond the queue bound', async () => {
    const r = await receiver([200], true);
    cleanups.push(() => r.server.close());
    const events = new Subject<ApiEvent>();
    const d = dispatcher([{ url: r.url, secret: 's' }], events, logger, { maxQueue: 5 });
    const started = performance.now();
    for (let i = 1; i <= 10_000; i++) events.next(budgetEvent(i));
    expect(performance.now() - started).toBeLessThan(500);
    // Event 1 is in flight (held); the queue keeps the newest five.
    expect(d.stats()[0]).toMatchObject({ queued: 5, dropped: 9_994 });
    r.release();
    await waitFor(() => d.stats()[0]?.delivered === 6);
    expect(r.bodies.map((b) => (JSON.parse(b) as { id: number }).id)).toEqual([1, 9_996, 9_997, 9_998, 9_999, 10_000]);
  });

  it('sends only the configured event types', async () => {
    const r = await receiver([200]);
    cleanups.push(() => r.server.close());
    const events = new Subject<ApiEvent>();
    const d = dispatcher([{ url: r.url, secret: 's', events: ['liveness'] }], events, logger);
    events.next(budgetEvent(1));
    events.next({ id: 2, type: 'liveness', timestamp: '2025-01-01T00:00:00.000Z', data: { module_id: 'm', status: 'online' } });
    await waitFor(() => d.stats()[0]?.delivered === 1);
    expect(r.bodies.map((b) => (JSON.parse(b) as { type: string }).type)).toEqual(['liveness']);
  });

  it('abandons deliveries on close', async () => {
    const r = await receiver([200], true);
    cleanups.push(() => r.server.close());
    const events = new Subject<ApiEvent>();
    const d = new WebhookDispatcher([{ url: r.url, secret: 's' }], events, logger);
    events.next(budgetEvent(1));
    await waitFor(() => r.attempts === 1);
    d.close();
    expect(events.observed).toBe(false);
    r.release();
  });
});
