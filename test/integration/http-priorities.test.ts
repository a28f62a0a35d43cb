import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORE_FILE_NAME } from '../../src/priorities/store.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { simEvseId, startHarness, type Harness } from '../support/api-harness.js';

const TOKENS = ['first-token-000001', 'second-token-00001'];

interface PriorityDto {
  module_id: string;
  connector_id: number;
  priority: number;
  assigned: boolean;
  scope: string | null;
  set_by: string | null;
  version: number | null;
}
type Body<T> = { data: T; status_code: number; status_message: string };

let broker: TestBroker;
let h: Harness;

beforeAll(async () => {
  broker = await startBroker();
  h = await startHarness(broker, { tokens: TOKENS });
});
afterAll(async () => {
  await h?.stop();
  await broker?.stop();
});
beforeEach(async () => {
  expect((await h.call('DELETE', '/v1/priorities')).status).toBe(200);
});

describe('PUT /v1/priorities', () => {
  it.each([
    ['module', { by: 'module', module_id: 'evse_1', connector_id: 1 }, 'evse_1'],
    ['evse_id', { by: 'evse_id', evse_id: simEvseId(2) }, 'evse_2'],
    ['serial_number', { by: 'serial_number', serial_number: 'SN-0001', connector_id: 1 }, 'evse_1'],
    ['charge_box_identity', { by: 'charge_box_identity', charge_box_identity: 'CB-0002', connector_id: 1 }, 'evse_2'],
  ])('by %s: 201 on create, 200 on replace, strong ETag of the version', async (_form, ref, moduleId) => {
    const created = await h.call('PUT', '/v1/priorities', { json: { ...ref, priority: 7 } });
    expect(created.status).toBe(201);
    const data = (created.body as Body<PriorityDto>).data;
    expect(data).toMatchObject({ module_id: moduleId, connector_id: 1, priority: 7, assigned: true, scope: 'session', set_by: 'http:token-1' });
    expect(created.headers.get('etag')).toBe(`"${data.version}"`);
    expect(created.headers.get('location')).toBe(`/v1/priorities/${moduleId}/1`);
    expect((created.body as Body<PriorityDto>).status_message).toBe('priority created');

    const replaced = await h.call('PUT', '/v1/priorities', { json: { ...ref, priority: -9, scope: 'persistent' }, token: TOKENS[1] });
    expect(replaced.status).toBe(200);
    const after = (replaced.body as Body<PriorityDto>).data;
    expect(after).toMatchObject({ module_id: moduleId, priority: -9, scope: 'persistent', set_by: 'http:token-2' });
    expect(after.version).toBe((data.version ?? 0) + 1);
    expect(replaced.headers.get('etag')).toBe(`"${after.version}"`);
    expect(replaced.headers.get('location')).toBeNull();
    expect(h.service.priority(moduleId, 1)?.priority).toBe(-9);
    expect((await h.call('GET', `/v1/evses/${moduleId}`)).body).toMatchObject({ data: { priority: -9 } });
  });

  it('answers only after the record is in the store file on disk', async () => {
    const response = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_3', connector_id: 1, priority: 3 } });
    expect(response.status).toBe(201);
    const onDisk = JSON.parse(readFileSync(join(h.module.store.dir, STORE_FILE_NAME), 'utf8')) as { records: PriorityDto[] };
    expect(onDisk.records).toContainEqual(expect.objectContaining({ module_id: 'evse_3', connector_id: 1, priority: 3 }));
  });

  it('honours If-Match: the current ETag, one of a list, and * all write', async () => {
    const first = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 1 } });
    const etag = first.headers.get('etag') ?? '';
    const second = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 2 }, headers: { 'if-match': etag } });
    expect(second.status).toBe(200);
    const third = await h.call('PUT', '/v1/priorities', {
      json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 3 },
      headers: { 'if-match': `"999", W/"1", ${second.headers.get('etag') ?? ''}` },
    });
    expect(third.status).toBe(200);
    const fourth = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 4 }, headers: { 'if-match': '*' } });
    expect(fourth.status).toBe(200);
    expect(h.service.priority('evse_1', 1)?.priority).toBe(4);
  });

  it('lets exactly one of two concurrent writes with the same If-Match win', async () => {
    const first = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_2', connector_id: 1, priority: 1 } });
    const etag = first.headers.get('etag') ?? '';
    const results = await Promise.all(
      [5, 6].map((priority) => h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_2', connector_id: 1, priority }, headers: { 'if-match': etag } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = results.find((r) => r.status === 200)?.body as Body<PriorityDto>;
    expect(h.service.priority('evse_2', 1)?.priority).toBe(winner.data.priority);
  });
});

describe('GET and DELETE /v1/priorities/{module_id}/{connector_id}', () => {
  it('answers the gridX default for a connector without an assigned priority', async () => {
    const response = await h.call('GET', '/v1/priorities/evse_3/1');
    expect(response.status).toBe(200);
    expect((response.body as Body<PriorityDto>).data).toEqual({
      module_id: 'evse_3',
      connector_id: 1,
      priority: 0,
      assigned: false,
      scope: null,
      set_by: null,
      set_at: null,
      version: null,
    });
    expect(response.headers.get('etag')).toBeNull();
  });

  it('gets an assigned priority with its ETag, deletes it (If-Match honoured), and deleting again is harmless', async () => {
    const created = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 8 } });
    const got = await h.call('GET', '/v1/priorities/evse_1/1');
    expect((got.body as Body<PriorityDto>).data).toMatchObject({ priority: 8, assigned: true });
    expect(got.headers.get('etag')).toBe(created.headers.get('etag'));
    const deleted = await h.call('DELETE', '/v1/priorities/evse_1/1', { headers: { 'if-match': created.headers.get('etag') ?? '' } });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ data: { priority: 0, assigned: false }, status_message: 'priority deleted' });
    expect(h.service.priority('evse_1', 1)).toBeUndefined();
    const again = await h.call('DELETE', '/v1/priorities/evse_1/1');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status_message: 'no priority was assigned' });
  });

  it('DELETE /v1/priorities resets every priority', async () => {
    for (const module_id of ['evse_1', 'evse_2']) await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id, connector_id: 1, priority: 2 } });
    const reset = await h.call('DELETE', '/v1/priorities');
    expect(reset.body).toMatchObject({ data: { removed: 2 }, status_message: '2 priorities reset' });
    expect(h.service.priorities()).toEqual([]);
  });
});

describe('GET /v1/priorities', () => {
  async function setAll(order: string[]): Promise<void> {
    for (const module_id of order) {
      const r = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id, connector_id: 1, priority: 1 } });
      expect(r.status).toBeLessThan(300);
    }
  }

  it('lists assigned priorities only, oldest first', async () => {
    await setAll(['evse_2', 'evse_3']);
    const response = await h.call('GET', '/v1/priorities');
    expect((response.body as Body<PriorityDto[]>).data.map((p) => p.module_id)).toEqual(['evse_2', 'evse_3']);
    await setAll(['evse_2']);
    const reordered = await h.call('GET', '/v1/priorities');
    expect((reordered.body as Body<PriorityDto[]>).data.map((p) => p.module_id)).toEqual(['evse_3', 'evse_2']);
  });

  it('pages with offset/limit, X-Total-Count, X-Limit and a rel="next" Link until the last page', async () => {
    await setAll(['evse_1', 'evse_2', 'evse_3']);
    const first = await h.call('GET', '/v1/priorities?limit=2');
    expect((first.body as Body<PriorityDto[]>).data.map((p) => p.module_id)).toEqual(['evse_1', 'evse_2']);
    expect(first.headers.get('x-total-count')).toBe('3');
    expect(first.headers.get('x-limit')).toBe('2');
    const link = first.headers.get('link') ?? '';
    const match = /^<([^>]+)>; rel="next"$/.exec(link);
    // Relative: never built from the Host header (http.public_base_url makes it absolute).
    expect(match?.[1]).toBe('/v1/priorities?limit=2&offset=2');

    const next = await fetch(`${h.url}${match?.[1] ?? ''}`, { headers: { authorization: `Bearer ${TOKENS[0]}` } });
    const nextBody = (await next.json()) as Body<PriorityDto[]>;
    expect(nextBody.data.map((p) => p.module_id)).toEqual(['evse_3']);
    expect(next.headers.get('link')).toBeNull();
    expect(next.headers.get('x-total-count')).toBe('3');

    const defaults = await h.call('GET', '/v1/priorities');
    expect(defaults.headers.get('x-limit')).toBe('50');
    expect(defaults.headers.get('link')).toBeNull();
    const capped = await h.call('GET', '/v1/priorities?limit=100000');
    expect(capped.headers.get('x-limit')).toBe('500');
    const beyond = await h.call('GET', '/v1/priorities?offset=10');
    expect((beyond.body as Body<PriorityDto[]>).data).toEqual([]);
    expect(beyond.headers.get('x-total-count')).toBe('3');
  });
});
