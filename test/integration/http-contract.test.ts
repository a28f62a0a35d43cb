// Contract tests: the OpenAPI document and the running server describe the same API, and what the
// server answers on its happy paths validates against what the document promises.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';
import { EVSES, simEvseId, startHarness, type ApiResponse, type Harness } from '../support/api-harness.js';
import { openSse } from '../support/sse-client.js';

const TOKEN = 'contract-token-0001';

let broker: TestBroker;
let h: Harness;
let ajv: Ajv2020;

type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
type Operation = {
  operationId: string;
  security: unknown[];
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
};

function pointer(...segments: string[]): string {
  return segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

function docPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Validates a response against the schema the document gives for this path, method, status and content type. */
function expectDocumented(path: string, method: string, response: ApiResponse, contentType = 'application/json', body: unknown = response.body): void {
  const ref = `openapi#/${pointer('paths', path, method.toLowerCase(), 'responses', String(response.status), 'content', contentType, 'schema')}`;
  const validate = ajv.getSchema(ref);
  expect(validate, `${method} ${path} ${response.status} ${contentType} is documented`).toBeDefined();
  const ok = validate?.(body);
  expect(ok, `${method} ${path} ${response.status}: ${ajv.errorsText(validate?.errors)}\n${JSON.stringify(body).slice(0, 500)}`).toBe(true);
}

beforeAll(async () => {
  broker = await startBroker();
  // evse_2 under current control, so the documents are checked with a limits module too.
  const evses = EVSES.map((e) => ({ ...e, connectors: [...e.connectors], ...(e.module_id === 'evse_2' ? { limits_module_id: 'evse_2_limits' } : {}) }));
  h = await startHarness(broker, { tokens: [TOKEN], config: { evses } });
  const doc = await h.call('GET', '/v1/openapi.json');
  expect(doc.status).toBe(200);
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormatsModule.default(ajv);
  ajv.addSchema(doc.body as object, 'openapi');
});
afterAll(async () => {
  await h?.stop();
  await broker?.stop();
});

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and equals the document the server was built with', async () => {
    const doc = (await h.call('GET', '/v1/openapi.json')).body as Doc;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc).toEqual(JSON.parse(JSON.stringify(h.server.openapi)));
  });

  it('documents every route the server serves, and the server serves every documented route', () => {
    const doc = h.server.openapi as unknown as Doc;
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const served = h.server.routes.map((r) => `${r.method} ${docPath(r.url)}`);
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('every documented operation answers (no route-not-found) and has an id, responses and path parameters', async () => {
    const doc = h.server.openapi as unknown as Doc;
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
          expect(op.parameters?.some((p) => p.in === 'path' && p.name === name), `${path} declares ${name}`).toBe(true);
        }
        if (path === '/v1/events') continue;
        const url = path.replace('{module_id}', 'nope').replace('{connector_id}', '1').replace('{id}', 'nope');
        const r = await h.call(method.toUpperCase(), url, method === 'get' || method === 'delete' ? {} : { json: {} });
        expect((r.body as { status_message?: string }).status_message ?? '', `${method} ${path}`).not.toMatch(/^no route for/);
      }
    }
  });

  it('every component schema is a valid JSON Schema 2020-12', () => {
    const doc = h.server.openapi as unknown as Doc;
    for (const name of Object.keys(doc.components.schemas)) {
      expect(ajv.getSchema(`openapi#/${pointer('components', 'schemas', name)}`), name).toBeDefined();
    }
    // The validation above must be able to fail, through $refs too.
    const envelope = ajv.getSchema(`openapi#/${pointer('paths', '/v1/priorities/{module_id}/{connector_id}', 'get', 'responses', '200', 'content', 'application/json', 'schema')}`);
    const good = { module_id: 'm', connector_id: 1, priority: 9, assigned: true, scope: 'session', set_by: 'x', set_at: 'now', version: 1 };
    expect(envelope?.({ data: good, status_code: 1000, status_message: '', timestamp: '2025-01-01T00:00:00Z' })).toBe(true);
    expect(envelope?.({ data: { ...good, priority: 10 }, status_code: 1000, status_message: '', timestamp: '2025-01-01T00:00:00Z' })).toBe(false);
    expect(envelope?.({ data: good, status_code: 1000, status_message: '', timestamp: 'yesterday' })).toBe(false);
  });

  it('marks token-protected operations with bearerAuth and open ones with an empty security list', () => {
    const doc = h.server.openapi as unknown as Doc;
    expect(doc.paths['/v1/evses']?.get?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz']?.get?.security).toEqual([]);
    expect(doc.paths['/metrics']?.get?.security).toEqual([{ bearerAuth: [] }]);
  });
});

describe('happy paths validate against the documented response schemas', () => {
  it('EVSE pages: offset/limit as GET /v1/priorities, with X-Total-Count, X-Limit and a rel="next" Link to the last page', async () => {
    const doc = h.server.openapi as unknown as Doc;
    expect(doc.paths['/v1/evses']?.get?.parameters?.map((p) => [p.in, p.name])).toEqual([['query', 'offset'], ['query', 'limit']]);
    const ids = (r: ApiResponse) => (r.body as { data: Array<{ module_id: string }> }).data.map((e) => e.module_id);

    const first = await h.call('GET', '/v1/evses?limit=2');
    expectDocumented('/v1/evses', 'GET', first);
    expect(ids(first)).toEqual(['evse_1', 'evse_2']);
    expect([first.headers.get('x-total-count'), first.headers.get('x-limit'), first.headers.get('link')]).toEqual(['3', '2', '</v1/evses?limit=2&offset=2>; rel="next"']);
    const last = await h.call('GET', /^<([^>]+)>/.exec(first.headers.get('link') ?? '')?.[1] ?? '');
    expectDocumented('/v1/evses', 'GET', last);
    expect(ids(last)).toEqual(['evse_3']);
    expect([last.headers.get('x-total-count'), last.headers.get('link')]).toEqual(['3', null]);

    const defaults = await h.call('GET', '/v1/evses');
    expect(ids(defaults)).toEqual(EVSES.map((e) => e.module_id));
    expect([defaults.headers.get('x-limit'), defaults.headers.get('link')]).toEqual(['50', null]);
    expect((await h.call('GET', '/v1/evses?limit=100000')).headers.get('x-limit')).toBe('500');
    const beyond = await h.call('GET', '/v1/evses?offset=10');
    expect([ids(beyond), beyond.headers.get('x-total-count')]).toEqual([[], '3']);
  });

  it('EVSEs', async () => {
    const list = await h.call('GET', '/v1/evses');
    expect(list.status).toBe(200);
    expectDocumented('/v1/evses', 'GET', list);
    const one = await h.call('GET', '/v1/evses/evse_1');
    expect(one.status).toBe(200);
    expectDocumented('/v1/evses/{module_id}', 'GET', one);
    expect((one.body as { data: { limits: unknown } }).data.limits).toBeNull();
    // The limits module's liveness is watched like the EVSE's, from its own heartbeat.
    const limited = await waitFor(async () => {
      const r = await h.call('GET', '/v1/evses/evse_2');
      const limits = (r.body as { data: { limits: { module_id: string; heartbeat: { status: string } } | null } }).data.limits;
      return limits?.heartbeat.status === 'online' ? r : undefined;
    });
    expectDocumented('/v1/evses/{module_id}', 'GET', limited);
    expect((limited.body as { data: { limits: unknown } }).data.limits).toMatchObject({ module_id: 'evse_2_limits', heartbeat: { status: 'online', lost: 0 } });
  });

  it('priorities: create, replace, list, get, delete, reset', async () => {
    const created = await h.call('PUT', '/v1/priorities', { json: { by: 'evse_id', evse_id: simEvseId(2), priority: 4 } });
    expect(created.status).toBe(201);
    expectDocumented('/v1/priorities', 'PUT', created);
    const replaced = await h.call('PUT', '/v1/priorities', { json: { by: 'serial_number', serial_number: 'SN-0002', connector_id: 1, priority: -3 } });
    expect(replaced.status).toBe(200);
    expectDocumented('/v1/priorities', 'PUT', replaced);
    const list = await h.call('GET', '/v1/priorities');
    expectDocumented('/v1/priorities', 'GET', list);
    const assigned = await h.call('GET', '/v1/priorities/evse_2/1');
    expectDocumented('/v1/priorities/{module_id}/{connector_id}', 'GET', assigned);
    const unassigned = await h.call('GET', '/v1/priorities/evse_3/1');
    expectDocumented('/v1/priorities/{module_id}/{connector_id}', 'GET', unassigned);
    const deleted = await h.call('DELETE', '/v1/priorities/evse_2/1');
    expectDocumented('/v1/priorities/{module_id}/{connector_id}', 'DELETE', deleted);
    const reset = await h.call('DELETE', '/v1/priorities');
    expectDocumented('/v1/priorities', 'DELETE', reset);
  });

  it('actions', async () => {
    const posted = await h.call('POST', '/v1/evses/evse_3/actions', { json: { type: 'unlock', connector_id: 1, reason: 'contract' } });
    expect(posted.status).toBe(202);
    expectDocumented('/v1/evses/{module_id}/actions', 'POST', posted);
    const id = (posted.body as { data: { id: string } }).data.id;
    const done = await waitFor(async () => {
      const r = await h.call('GET', `/v1/actions/${id}`);
      return (r.body as { data: { status: string } }).data.status === 'completed' ? r : undefined;
    });
    expectDocumented('/v1/actions/{id}', 'GET', done);
  });

  it('site', async () => {
    const site = await h.call('GET', '/v1/site');
    expectDocumented('/v1/site', 'GET', site);
    const changed = await h.call('PUT', '/v1/site', { json: { max_power_w: 21000 } });
    expectDocumented('/v1/site', 'PUT', changed);
    await h.call('PUT', '/v1/site', { json: { max_power_w: 22000 } });
  });

  it('health, metrics and the event stream', async () => {
    const health = await h.call('GET', '/healthz');
    expect(health.status).toBe(200);
    expectDocumented('/healthz', 'GET', health);
    expect((health.body as { evses: unknown[] }).evses[1]).toMatchObject({ module_id: 'evse_2', limits_module_id: 'evse_2_limits', limits_heartbeat: 'online' });
    const metrics = await h.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expectDocumented('/metrics', 'GET', metrics, 'text/plain', metrics.text);
    expect(metrics.text).toMatch(/evse_priority_everest_heartbeat_age_seconds\{module_id="evse_2_limits"\} \d/);

    const sse = await openSse(`${h.url}/v1/events`, { authorization: `Bearer ${TOKEN}` });
    try {
      expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await h.call('PUT', '/v1/site', { json: { max_power_w: 20000 } });
      await h.call('POST', '/v1/evses/evse_1/actions', { json: { type: 'unlock' } });
      const budget = await sse.next((m) => m.event === 'budget');
      const action = await sse.next((m) => m.event === 'action');
      for (const m of [budget, action]) expectDocumented('/v1/events', 'GET', { status: 200, headers: sse.headers, body: null, text: '' }, 'text/event-stream', JSON.parse(m.data));
    } finally {
      sse.close();
    }
  });

  it('error envelopes validate against the documented error responses', async () => {
    const bad = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 10 } });
    expectDocumented('/v1/priorities', 'PUT', bad);
    const unknown = await h.call('GET', '/v1/evses/nope');
    expectDocumented('/v1/evses/{module_id}', 'GET', unknown);
    const noToken = await h.call('GET', '/v1/site', { token: null });
    expectDocumented('/v1/site', 'GET', noToken);
  });
});
