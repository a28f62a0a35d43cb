// Every way a request can be wrong, with the exact HTTP status and OCPI status_code it gets, and proof
// that none of them touched the store (records in memory and the file on disk) or the site budget.
import { mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { startHarness, simEvseId, type CallOptions, type Harness } from '../support/api-harness.js';

const TOKEN = 'good-token-00000001';
const BODY_LIMIT = 4096;

interface Row {
  name: string;
  method: string;
  path: string;
  options?: CallOptions;
  status: number;
  code: number;
  message: RegExp;
}

const put = (json: unknown, extra: CallOptions = {}): CallOptions => ({ json, ...extra });
const mod = { by: 'module', module_id: 'evse_1', connector_id: 1 };

const table: Row[] = [
  { name: 'malformed JSON', method: 'PUT', path: '/v1/priorities', options: { raw: '{"by":"module",' }, status: 400, code: 2001, message: /not valid JSON/ },
  { name: 'empty JSON body', method: 'PUT', path: '/v1/priorities', options: { raw: '' }, status: 400, code: 2001, message: /body is empty/ },
  { name: 'body is a list', method: 'PUT', path: '/v1/priorities', options: put([mod]), status: 400, code: 2001, message: /request body must be an object/ },
  { name: 'priority as a string', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: '5' }), status: 400, code: 2001, message: /field "priority" must be an integer \(got the string "5"\)/ },
  { name: 'connector_id as a string', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, connector_id: '1', priority: 5 }), status: 400, code: 2001, message: /field "connector_id" must be an integer/ },
  { name: 'priority 10', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 10 }), status: 400, code: 2001, message: /field "priority" must be an integer from -9 to 9 \(got 10\)/ },
  { name: 'priority -10', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: -10 }), status: 400, code: 2001, message: /field "priority" must be an integer from -9 to 9 \(got -10\)/ },
  { name: 'priority 1.5', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1.5 }), status: 400, code: 2001, message: /field "priority" must be an integer/ },
  { name: 'priority missing', method: 'PUT', path: '/v1/priorities', options: put(mod), status: 400, code: 2001, message: /field "priority" is required/ },
  { name: 'unknown identifier form', method: 'PUT', path: '/v1/priorities', options: put({ by: 'vin', priority: 1 }), status: 400, code: 2001, message: /field "by" must be one of "module", "evse_id"/ },
  { name: 'unknown field', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1, colour: 'red' }), status: 400, code: 2001, message: /field "colour" is not a known field/ },
  { name: 'unknown scope', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1, scope: 'forever' }), status: 400, code: 2001, message: /field "scope" must be one of "session", "persistent"/ },
  { name: 'missing connector_id (by module)', method: 'PUT', path: '/v1/priorities', options: put({ by: 'module', module_id: 'evse_1', priority: 1 }), status: 400, code: 2001, message: /field "connector_id" is required when "by" is "module"/ },
  { name: 'missing connector_id (by serial_number)', method: 'PUT', path: '/v1/priorities', options: put({ by: 'serial_number', serial_number: 'SN-0001', priority: 1 }), status: 400, code: 2001, message: /field "connector_id" is required when "by" is "serial_number"/ },
  { name: 'identifier of another form', method: 'PUT', path: '/v1/priorities', options: put({ by: 'evse_id', evse_id: simEvseId(1), connector_id: 1, priority: 1 }), status: 400, code: 2001, message: /field "connector_id" is not allowed when "by" is "evse_id"/ },
  { name: 'empty module_id', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, module_id: '', priority: 1 }), status: 400, code: 2001, message: /field "module_id" must not be empty/ },
  { name: 'unknown module_id', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, module_id: 'evse_9', priority: 1 }), status: 404, code: 2003, message: /unknown module_id "evse_9"/ },
  { name: 'unknown evse_id', method: 'PUT', path: '/v1/priorities', options: put({ by: 'evse_id', evse_id: 'DE*XXX*E1', priority: 1 }), status: 404, code: 2003, message: /unknown evse_id "DE\*XXX\*E1"/ },
  { name: 'unknown serial_number', method: 'PUT', path: '/v1/priorities', options: put({ by: 'serial_number', serial_number: 'SN-9', connector_id: 1, priority: 1 }), status: 404, code: 2003, message: /unknown serial_number "SN-9"/ },
  { name: 'unknown charge_box_identity', method: 'PUT', path: '/v1/priorities', options: put({ by: 'charge_box_identity', charge_box_identity: 'CB-9', connector_id: 1, priority: 1 }), status: 404, code: 2003, message: /unknown charge_box_identity "CB-9"/ },
  { name: 'unknown connector', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, connector_id: 2, priority: 1 }), status: 404, code: 2003, message: /connector 2 does not exist on evse_1/ },
  { name: 'oversize body', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1, pad: 'x'.repeat(BODY_LIMIT) }), status: 413, code: 2001, message: /exceeds 4096 bytes/ },
  { name: 'text/plain body', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1 }, { contentType: 'text/plain' }), status: 415, code: 2000, message: /Content-Type "text\/plain" is not supported; send application\/json/ },
  { name: 'body without Content-Type', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1 }, { contentType: '' }), status: 415, code: 2000, message: /without Content-Type is not supported/ },
  { name: 'wrong token', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1 }, { token: 'bad-token' }), status: 401, code: 2000, message: /invalid bearer token/ },
  { name: 'missing token', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1 }, { token: null }), status: 401, code: 2000, message: /missing bearer token/ },
  { name: 'Basic instead of Bearer', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 1 }, { token: null, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } }), status: 401, code: 2000, message: /missing bearer token/ },
  { name: 'wrong token and malformed body: auth first', method: 'PUT', path: '/v1/priorities', options: { raw: '{', token: 'bad-token' }, status: 401, code: 2000, message: /invalid bearer token/ },
  { name: 'stale If-Match', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 2 }, { headers: { 'if-match': '"7"' } }), status: 412, code: 2000, message: /If-Match "7" does not match the current version "1" of evse_1\/1/ },
  { name: 'weak If-Match', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 2 }, { headers: { 'if-match': 'W/"1"' } }), status: 412, code: 2000, message: /does not match the current version "1"/ },
  { name: 'If-Match * on an unassigned connector', method: 'PUT', path: '/v1/priorities', options: put({ by: 'module', module_id: 'evse_3', connector_id: 1, priority: 2 }, { headers: { 'if-match': '*' } }), status: 412, code: 2000, message: /no priority is assigned to evse_3\/1/ },
  { name: 'If-Match without quotes', method: 'PUT', path: '/v1/priorities', options: put({ ...mod, priority: 2 }, { headers: { 'if-match': '1' } }), status: 400, code: 2001, message: /"If-Match" must be "\*" or a list of quoted ETags/ },
  { name: 'DELETE with stale If-Match', method: 'DELETE', path: '/v1/priorities/evse_1/1', options: { headers: { 'if-match': '"2"' } }, status: 412, code: 2000, message: /does not match the current version "1"/ },
  { name: 'DELETE unknown module', method: 'DELETE', path: '/v1/priorities/evse_9/1', status: 404, code: 2003, message: /unknown module_id "evse_9"/ },
  { name: 'DELETE unknown connector', method: 'DELETE', path: '/v1/priorities/evse_1/9', status: 404, code: 2003, message: /connector 9 does not exist on evse_1/ },
  { name: 'DELETE all without token', method: 'DELETE', path: '/v1/priorities', options: { token: null }, status: 401, code: 2000, message: /missing bearer token/ },
  { name: 'GET connector_id not a number', method: 'GET', path: '/v1/priorities/evse_1/abc', status: 400, code: 2001, message: /path parameter "connector_id" must be an integer \(got the string "abc"\)/ },
  { name: 'GET unknown connector', method: 'GET', path: '/v1/priorities/evse_1/2', status: 404, code: 2003, message: /connector 2 does not exist/ },
  { name: 'limit 0', method: 'GET', path: '/v1/priorities?limit=0', status: 400, code: 2001, message: /query parameter "limit" must be >= 1/ },
  { name: 'negative offset', method: 'GET', path: '/v1/priorities?offset=-1', status: 400, code: 2001, message: /query parameter "offset" must be >= 0/ },
  { name: 'limit not a number', method: 'GET', path: '/v1/priorities?limit=all', status: 400, code: 2001, message: /query parameter "limit" must be an integer/ },
  { name: 'EVSE page limit 0', method: 'GET', path: '/v1/evses?limit=0', status: 400, code: 2001, message: /query parameter "limit" must be >= 1/ },
  { name: 'EVSE page negative offset', method: 'GET', path: '/v1/evses?offset=-1', status: 400, code: 2001, message: /query parameter "offset" must be >= 0/ },
  { name: 'EVSE page limit not a number', method: 'GET', path: '/v1/evses?limit=all', status: 400, code: 2001, message: /query parameter "limit" must be an integer/ },
  { name: 'EVSE page offset a fraction', method: 'GET', path: '/v1/evses?offset=1.5', status: 400, code: 2001, message: /query parameter "offset" must be an integer/ },
  { name: 'EVSE page limit given twice', method: 'GET', path: '/v1/evses?limit=1&limit=2', status: 400, code: 2001, message: /query parameter "limit" must be an integer/ },
  { name: 'unknown EVSE', method: 'GET', path: '/v1/evses/evse_9', status: 404, code: 2003, message: /unknown module_id "evse_9"/ },
  { name: 'action of unknown type', method: 'POST', path: '/v1/evses/evse_1/actions', options: put({ type: 'explode' }), status: 400, code: 2001, message: /field "type" must be one of "pause", "resume"/ },
  { name: 'action for unknown EVSE', method: 'POST', path: '/v1/evses/evse_9/actions', options: put({ type: 'pause' }), status: 404, code: 2003, message: /unknown module_id "evse_9"/ },
  { name: 'action for unknown connector', method: 'POST', path: '/v1/evses/evse_1/actions', options: put({ type: 'unlock', connector_id: 3 }), status: 404, code: 2003, message: /connector 3 does not exist on evse_1/ },
  { name: 'unknown action id', method: 'GET', path: '/v1/actions/nope', status: 404, code: 2000, message: /unknown action "nope"/ },
  { name: 'negative site budget', method: 'PUT', path: '/v1/site', options: put({ max_power_w: -1 }), status: 400, code: 2001, message: /field "max_power_w" must be a number from 0 to 100000000 \(got -1\)/ },
  { name: 'site budget as a string', method: 'PUT', path: '/v1/site', options: put({ max_power_w: '11000' }), status: 400, code: 2001, message: /field "max_power_w" must be a number/ },
  { name: 'unknown event type', method: 'GET', path: '/v1/events?types=action,gossip', status: 400, code: 2001, message: /query parameter "types" must match/ },
  { name: 'unknown route', method: 'GET', path: '/v1/nothing', status: 404, code: 2000, message: /no route for GET \/v1\/nothing/ },
  { name: 'unknown route without token', method: 'GET', path: '/v1/nothing', options: { token: null }, status: 401, code: 2000, message: /missing bearer token/ },
  { name: 'wrong method', method: 'PATCH', path: '/v1/priorities', options: put({}), status: 404, code: 2000, message: /no route for PATCH \/v1\/priorities/ },
];

let broker: TestBroker;
let h: Harness;

beforeAll(async () => {
  broker = await startBroker();
  h = await startHarness(broker, { tokens: [TOKEN, 'second-token-000001'], bodyLimitBytes: BODY_LIMIT });
  const seeded = await h.call('PUT', '/v1/priorities', { json: { ...mod, priority: 5, scope: 'persistent' } });
  expect(seeded.status).toBe(201);
});
afterAll(async () => {
  await h?.stop();
  await broker?.stop();
});

function state(): string {
  return JSON.stringify({ records: h.service.priorities(), file: h.storeFile(), budget: h.service.site().max_power_w });
}

describe('bad requests', () => {
  it.each(table)('$name -> $status / $code', async (row) => {
    const before = state();
    expect(JSON.parse(before).records).toHaveLength(1);
    const response = await h.call(row.method, row.path, row.options);
    expect(response.status).toBe(row.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = response.body as { data: unknown; status_code: number; status_message: string; timestamp: string };
    expect(body.status_code).toBe(row.code);
    expect(body.data).toBeNull();
    expect(body.status_message).toMatch(row.message);
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
    if (row.status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="evse-priority"/);
    expect(state()).toBe(before);
  });

  it('a failed durable write answers 500 / 3000 and leaves the records as they were', async () => {
    const before = h.service.priorities();
    rmSync(h.module.store.dir, { recursive: true, force: true });
    try {
      const response = await h.call('PUT', '/v1/priorities', { json: { ...mod, priority: -4 } });
      expect(response.status).toBe(500);
      expect(response.body).toMatchObject({ data: null, status_code: 3000, status_message: 'internal server error (see the module log)' });
      expect(h.service.priorities()).toEqual(before);
    } finally {
      mkdirSync(h.module.store.dir, { recursive: true });
    }
    const retried = await h.call('PUT', '/v1/priorities', { json: { ...mod, priority: -4 } });
    expect(retried.status).toBe(200);
  });
});
