import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';
import { startHarness, type Harness } from '../support/api-harness.js';
import { arrive } from '../support/site-stack.js';
import { openSse } from '../support/sse-client.js';

const TOKEN = 'events-token-000001';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
}

interface ActionData {
  id: string;
  status: string;
  type: string;
  result?: string;
}

/** A webhook receiver; answers 503 to the first delivery of each event on /flaky, to exercise retries. */
async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const refusedOnce = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery = String(req.headers['x-evse-priority-delivery']);
      if (req.url === '/flaky' && !refusedOnce.has(delivery)) {
        refusedOnce.add(delivery);
        res.writeHead(503).end();
        return;
      }
      received.push({ path: req.url ?? '', headers: req.headers, raw });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

function verify(raw: string, signature: string | undefined, secret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const given = Buffer.from(signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let broker: TestBroker;
let h: Harness;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  broker = await startBroker();
  receiver = await startReceiver();
  h = await startHarness(broker, {
    tokens: [TOKEN],
    sseKeepaliveMs: 200,
    webhooks: [
      { url: `${receiver.url}/all`, secret: 'secret-all' },
      { url: `${receiver.url}/flaky`, secret: 'secret-flaky', events: ['budget'] },
    ],
    webhookDelivery: { backoffMs: 20 },
  });
});
afterAll(async () => {
  await h?.stop();
  await broker?.stop();
  receiver?.server.close();
});

async function sseClientGauge(): Promise<number> {
  const text = await h.metrics.registry.getSingleMetricAsString('evse_priority_http_sse_clients');
  return Number(/evse_priority_http_sse_clients (\d+)/.exec(text)?.[1] ?? NaN);
}

describe('actions and the event stream', () => {
  it('streams an action POSTed over HTTP from requested to completed, with increasing ids', async () => {
    const sse = await openSse(`${h.url}/v1/events`, auth);
    try {
      expect(sse.status).toBe(200);
      const posted = await h.call('POST', '/v1/evses/evse_2/actions', { json: { type: 'unlock', reason: 'cable stuck' } });
      expect(posted.status).toBe(202);
      const action = (posted.body as { data: ActionData }).data;
      expect(action.status).toBe('requested');
      expect(posted.headers.get('location')).toBe(`/v1/actions/${action.id}`);

      const mine = (m: { event?: string; data: string }): boolean => m.event === 'action' && (JSON.parse(m.data) as { data: ActionData }).data.id === action.id;
      await sse.next((m) => mine(m) && (JSON.parse(m.data) as { data: ActionData }).data.status === 'completed');
      const statuses = sse.messages.filter(mine).map((m) => (JSON.parse(m.data) as { data: ActionData }).data.status);
      expect(statuses).toEqual(['requested', 'in_flight', 'completed']);
      const ids = sse.messages.map((m) => Number(m.id));
      expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0))).toBe(true);
      const event = JSON.parse(sse.messages.find(mine)?.data ?? '{}') as { id: number; type: string; timestamp: string };
      expect(event.type).toBe('action');
      expect(String(event.id)).toBe(sse.messages.find(mine)?.id);

      const followed = await h.call('GET', posted.headers.get('location') ?? '');
      expect(followed.body).toMatchObject({ data: { id: action.id, status: 'completed', type: 'unlock', reason: 'cable stuck', origin: 'api' } });
    } finally {
      sse.close();
    }
  });

  it('sends keepalive comments and filters by event type', async () => {
    const sse = await openSse(`${h.url}/v1/events?types=budget`, auth);
    try {
      await waitFor(() => sse.comments.includes('heartbeat'), { timeoutMs: 3000 });
      await h.call('POST', '/v1/evses/evse_1/actions', { json: { type: 'unlock' } });
      await h.call('PUT', '/v1/site', { json: { max_power_w: 15000 } });
      const budget = await sse.next((m) => m.event === 'budget');
      expect(JSON.parse(budget.data)).toMatchObject({ type: 'budget', data: { max_power_w: 15000, set_by: 'http:token-1' } });
      expect(sse.messages.every((m) => m.event === 'budget')).toBe(true);
    } finally {
      sse.close();
      await h.call('PUT', '/v1/site', { json: { max_power_w: 22000 } });
    }
  });

  it('replays what was missed after Last-Event-ID', async () => {
    const first = await openSse(`${h.url}/v1/events?types=budget`, auth);
    await h.call('PUT', '/v1/site', { json: { max_power_w: 16000 } });
    const seen = await first.next((m) => m.event === 'budget' && m.data.includes('16000'));
    first.close();
    await h.call('PUT', '/v1/site', { json: { max_power_w: 17000 } });
    const again = await openSse(`${h.url}/v1/events?types=budget`, { ...auth, 'last-event-id': seen.id ?? '' });
    try {
      const missed = await again.next((m) => m.event === 'budget');
      expect(JSON.parse(missed.data)).toMatchObject({ data: { max_power_w: 17000 } });
      expect(Number(missed.id)).toBeGreaterThan(Number(seen.id));
    } finally {
      again.close();
      await h.call('PUT', '/v1/site', { json: { max_power_w: 22000 } });
    }
  });

  it('releases the subscription when the client disconnects', async () => {
    const before = await sseClientGauge();
    const sse = await openSse(`${h.url}/v1/events`, auth);
    await waitFor(async () => (await sseClientGauge()) === before + 1);
    sse.close();
    await waitFor(async () => (await sseClientGauge()) === before);
  });

  it('answers the envelope, not a stream, without a token', async () => {
    const sse = await openSse(`${h.url}/v1/events`);
    expect(sse.status).toBe(401);
    expect(sse.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('counts finished actions by type, origin and outcome', async () => {
    const posted = await h.call('POST', '/v1/evses/evse_3/actions', { json: { type: 'unlock' } });
    const id = (posted.body as { data: ActionData }).data.id;
    await waitFor(() => h.service.action(id)?.status === 'completed');
    const text = (await h.call('GET', '/metrics')).text;
    expect(text).toMatch(/evse_priority_actions_total\{type="unlock",origin="api",outcome="completed"\} [1-9]/);
    expect(text).toMatch(/evse_priority_actions_total\{type="release",origin="reconcile",outcome="completed"\} 3/);
    expect(text).toMatch(/evse_priority_http_requests_total\{method="POST",route="\/v1\/evses\/:module_id\/actions",status_code="202"\} [1-9]/);
    expect(text).toMatch(/evse_priority_everest_heartbeat_age_seconds\{module_id="evse_1"\} \d/);
    expect(text).toMatch(/evse_priority_everest_request_duration_seconds_count\{command="force_unlock",outcome="reply"\} [1-9]/);
    expect(text).toMatch(/evse_priority_everest_messages_received_total\{name="heartbeat"\} [1-9]/);
  });
});

describe('webhooks', () => {
  it('POSTs every event signed with the webhook secret, and retries a 5xx', async () => {
    await h.call('PUT', '/v1/site', { json: { max_power_w: 18000 } });
    const all = await waitFor(() => receiver.received.find((r) => r.path === '/all' && r.raw.includes('"max_power_w":18000')));
    expect(all.headers['content-type']).toBe('application/json');
    expect(verify(all.raw, all.headers['x-evse-priority-signature'] as string, 'secret-all')).toBe(true);
    expect(verify(all.raw, all.headers['x-evse-priority-signature'] as string, 'another-secret')).toBe(false);
    const body = JSON.parse(all.raw) as { type: string; data: unknown; timestamp: string; id: number };
    expect(Object.keys(body).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
    expect(body).toMatchObject({ type: 'budget', data: { max_power_w: 18000, set_by: 'http:token-1' } });
    expect(Number(all.headers['x-evse-priority-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(all.headers['x-evse-priority-event']).toBe('budget');
    expect(all.headers['x-evse-priority-delivery']).toBe(String(body.id));

    // /flaky refused the first attempt with 503 and got the event on the retry, signed with its own secret.
    const flaky = await waitFor(() => receiver.received.find((r) => r.path === '/flaky' && r.raw.includes('"max_power_w":18000')));
    expect(verify(flaky.raw, flaky.headers['x-evse-priority-signature'] as string, 'secret-flaky')).toBe(true);
  });

  it('sends only the configured event types', async () => {
    const posted = await h.call('POST', '/v1/evses/evse_1/actions', { json: { type: 'unlock' } });
    const id = (posted.body as { data: ActionData }).data.id;
    await waitFor(() => receiver.received.some((r) => r.path === '/all' && r.raw.includes(id) && r.raw.includes('"completed"')));
    expect(receiver.received.filter((r) => r.path === '/flaky').every((r) => (JSON.parse(r.raw) as { type: string }).type === 'budget')).toBe(true);
  });
});

describe('live view events and SSE tickets', () => {
  async function ticket(): Promise<string> {
    const r = await h.call('POST', '/v1/events/tickets');
    expect(r.status).toBe(201);
    const data = (r.body as { data: { ticket: string; expires_at: string } }).data;
    expect(Date.parse(data.expires_at)).toBeGreaterThan(Date.now());
    return data.ticket;
  }

  it('a ticket opens the stream once without a header; a spent, unknown or missing one does not', async () => {
    expect((await h.call('POST', '/v1/events/tickets', { token: null })).status).toBe(401);
    const t = await ticket();
    // Tickets are for the event stream only.
    expect((await h.call('GET', `/v1/evses?ticket=${t}`, { token: null })).status).toBe(401);
    const sse = await openSse(`${h.url}/v1/events?ticket=${t}`);
    expect(sse.status).toBe(200);
    const again = await openSse(`${h.url}/v1/events?ticket=${t}`);
    expect(again.status).toBe(401);
    const bogus = await openSse(`${h.url}/v1/events?ticket=not-a-ticket`);
    expect(bogus.status).toBe(401);
    expect(bogus.headers.get('www-authenticate')).toContain('invalid_token');

    // last_event_id in the query replays like the header, for EventSource that reconnects with a new ticket.
    await h.call('PUT', '/v1/site', { json: { max_power_w: 20500 } });
    const seen = await sse.next((m) => m.event === 'budget' && m.data.includes('20500'));
    await h.call('PUT', '/v1/site', { json: { max_power_w: 20600 } });
    sse.close();
    const resumed = await openSse(`${h.url}/v1/events?types=budget&ticket=${await ticket()}&last_event_id=${seen.id}`);
    const replayed = await resumed.next((m) => m.data.includes('20600'));
    expect(Number(replayed.id)).toBeGreaterThan(Number(seen.id));
    expect(resumed.messages.some((m) => m.data.includes('20500'))).toBe(false);
    resumed.close();
  });

  it('recent=N starts a new stream with the last N kept events of the selected types', async () => {
    for (const w of [21100, 21200, 21300]) await h.call('PUT', '/v1/site', { json: { max_power_w: w } });
    const sse = await openSse(`${h.url}/v1/events?types=budget&recent=2`, auth);
    await sse.next((m) => m.data.includes('21300'));
    expect(sse.messages.map((m) => (JSON.parse(m.data) as { data: { max_power_w: number } }).data.max_power_w)).toEqual([21200, 21300]);
    sse.close();
  });

  it('site figures: the latest at once, then only changes, at most one a second', async () => {
    const sse = await openSse(`${h.url}/v1/events?types=site`, auth);
    const first = await sse.next((m) => m.event === 'site', 3000);
    const figures = JSON.parse(first.data) as { data: { max_power_w: number; evses: Array<{ module_id: string; power_w: number; energy_wh: number }> } };
    expect(figures.data.evses.map((e) => e.module_id)).toEqual(['evse_1', 'evse_2', 'evse_3']);
    await h.call('PUT', '/v1/site', { json: { max_power_w: 19000 } });
    await sse.next((m) => m.event === 'site' && m.data.includes('"max_power_w":19000'));
    arrive(h.sim, 'evse_1');
    await sse.next((m) => m.event === 'site' && (JSON.parse(m.data) as typeof figures).data.evses[0]!.power_w > 0, 15_000);
    await h.call('PUT', '/v1/site', { json: { max_power_w: 22000 } });
    await sse.next((m) => m.event === 'site' && m.data.includes('"max_power_w":22000'));
    sse.close();
    const events = sse.messages.filter((m) => m.event === 'site').map((m) => JSON.parse(m.data) as { timestamp: string; data: unknown });
    for (let i = 1; i < events.length; i++) {
      expect(JSON.stringify(events[i]!.data)).not.toBe(JSON.stringify(events[i - 1]!.data));
      // Server-side timestamps: the throttle's window, not this machine's scheduling, decides the spacing.
      expect(Date.parse(events[i]!.timestamp) - Date.parse(events[i - 1]!.timestamp)).toBeGreaterThanOrEqual(990);
    }
    // Webhooks get the figures only when they ask for them.
    expect(receiver.received.some((r) => r.headers['x-evse-priority-event'] === 'site')).toBe(false);
  });

  it('evse: the whole status of an EVSE as soon as its priority or session changes', async () => {
    const sse = await openSse(`${h.url}/v1/events?types=evse`, auth);
    await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_2', connector_id: 1, priority: 5 } });
    const pushed = await sse.next((m) => m.data.includes('"module_id":"evse_2"') && m.data.includes('"priority":5'));
    const status = (JSON.parse(pushed.data) as { data: Record<string, unknown> }).data;
    const fetched = ((await h.call('GET', '/v1/evses/evse_2')).body as { data: Record<string, unknown> }).data;
    const settled = (s: Record<string, unknown>) => ({ ...s, power_w: 0, energy_wh: 0, heartbeat: { ...(s.heartbeat as object), last_seen_at: null } });
    expect(settled(status)).toEqual(settled(fetched));
    arrive(h.sim, 'evse_2');
    await sse.next((m) => m.data.includes('"module_id":"evse_2"') && m.data.includes('"state":"Charging"'), 15_000);
    sse.close();
  });
});

describe('shutdown', () => {
  it('close() ends open event streams instead of waiting for their clients', async () => {
    const sse = await openSse(`${h.url}/v1/events`, auth);
    expect(sse.status).toBe(200);
    const started = Date.now();
    await h.server.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => sse.ended, { timeoutMs: 2000 });
  });
});
