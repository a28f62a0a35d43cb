// Hostile HTTP input against the real composition root: no request, however malformed, gets a 5xx
// or changes anything (priorities on disk, the budget, commands to the EVSEs).
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../support/broker.js';
import { rawHttp } from '../support/raw-http.js';
import { startHarness, type CallOptions, type Harness } from '../support/api-harness.js';

const TOKEN = 'fuzz-token-0123456789';

const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const wide = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;
const priority = { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 5 };

interface Case {
  name: string;
  method: string;
  path: string;
  options?: CallOptions;
}

const MUTATING: ReadonlyArray<[string, string]> = [
  ['PUT', '/v1/priorities'],
  ['PUT', '/v1/site'],
  ['POST', '/v1/evses/evse_1/actions'],
];

const BODIES: ReadonlyArray<[string, string]> = [
  ['deep array', deepArray(20_000)],
  ['deep object', deepObject(5_000)],
  ['deep value in a known field', `{"max_power_w":${deepArray(3_000)},"module_id":${deepObject(3_000)}}`],
  ['8 557 unknown fields', wide(8_557)],
  ['300 unknown fields', wide(300)],
  ['__proto__ key', '{"__proto__":{"polluted":true},"max_power_w":1}'],
  ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}},"type":"pause"}'],
  ['huge number', '{"max_power_w":1e400,"priority":1e400,"connector_id":1e300,"type":"unlock"}'],
  ['negative zero and fractions', '{"max_power_w":-0.0000001,"priority":5.5,"connector_id":0.5}'],
  ['strings for numbers', '{"max_power_w":"0","priority":"9","connector_id":"1"}'],
  ['null everywhere', '{"by":null,"module_id":null,"priority":null,"max_power_w":null,"type":null}'],
  ['top-level array', '[1,2,3]'],
  ['top-level string', '"pause"'],
  ['top-level null', 'null'],
  ['truncated JSON', '{"max_power_w":'],
  ['NUL and lone surrogates', '{"module_id":"evse_1\\u0000","reason":"\\ud800","type":"pause\\u0000"}'],
  ['long string', JSON.stringify({ ...priority, module_id: 'x'.repeat(50_000) })],
  // Bodies below would be valid but for one field, so a parser that mangled them would show.
  ['duplicate keys, the last invalid', '{"max_power_w":1,"max_power_w":-1}'],
  ['BOM before JSON', '\ufeff{"max_power_w":-5}'],
];

function cases(): Case[] {
  const out: Case[] = [];
  for (const [method, path] of MUTATING) {
    for (const [name, raw] of BODIES) out.push({ name: `${method} ${path}: ${name}`, method, path, options: { raw } });
    out.push({ name: `${method} ${path}: text/plain`, method, path, options: { raw: '{"max_power_w":0}', contentType: 'text/plain' } });
    out.push({ name: `${method} ${path}: no content type`, method, path, options: { raw: '{"max_power_w":0}', contentType: '' } });
    out.push({ name: `${method} ${path}: json with charset and garbage`, method, path, options: { raw: '{}', contentType: 'application/json; charset=ebcdic; x="' } });
    out.push({ name: `${method} ${path}: no token`, method, path, options: { json: { max_power_w: 0 }, token: null } });
    out.push({ name: `${method} ${path}: malformed Authorization`, method, path, options: { json: { max_power_w: 0 }, token: null, headers: { authorization: 'Bearer\t\t' } } });
  }
  const weird = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '%2e%2e', '..%2f..%2f', '%00', 'evse_1%2Fx', 'x'.repeat(3000)];
  for (const id of weird) {
    out.push({ name: `POST actions on module_id ${id.slice(0, 20)}`, method: 'POST', path: `/v1/evses/${id}/actions`, options: { json: { type: 'pause' } } });
    out.push({ name: `GET evse ${id.slice(0, 20)}`, method: 'GET', path: `/v1/evses/${id}` });
    out.push({ name: `DELETE priority ${id.slice(0, 20)}`, method: 'DELETE', path: `/v1/priorities/${id}/1` });
    out.push({ name: `GET action ${id.slice(0, 20)}`, method: 'GET', path: `/v1/actions/${id}` });
  }
  for (const connector of ['0', '-1', '1e300', '99999999999999999999', 'NaN', '1.5', '__proto__']) {
    out.push({ name: `DELETE priority connector ${connector}`, method: 'DELETE', path: `/v1/priorities/evse_1/${connector}` });
  }
  for (const query of ['offset=-1', 'limit=1e309', 'limit=0', 'offset=__proto__', 'limit=1&limit=2', 'offset[]=1', '__proto__[x]=1', `offset=${'9'.repeat(400)}`]) {
    out.push({ name: `GET priorities ?${query.slice(0, 30)}`, method: 'GET', path: `/v1/priorities?${query}` });
  }
  for (const ifMatch of ['"', 'W/"', '"-1"', '"1e400"', '"__proto__"', 'x'.repeat(5000)]) {
    out.push({ name: `PUT priority with If-Match ${ifMatch.slice(0, 12)}`, method: 'PUT', path: '/v1/priorities', options: { json: priority, headers: { 'if-match': ifMatch } } });
    out.push({ name: `DELETE priority with If-Match ${ifMatch.slice(0, 12)}`, method: 'DELETE', path: '/v1/priorities/evse_1/1', options: { headers: { 'if-match': ifMatch } } });
  }
  out.push({ name: 'SSE with a hostile Last-Event-ID', method: 'GET', path: '/v1/events?types=__proto__', options: { headers: { 'last-event-id': 'x'.repeat(5000) } } });
  return out;
}

let broker: TestBroker;
let h: Harness;
let commands: string[] = [];
let watch: Subscription;

beforeAll(async () => {
  broker = await startBroker({ name: 'http-fuzz' });
  h = await startHarness(broker, { tokens: [TOKEN], bodyLimitBytes: 65_536, config: { http: { auth_failures_per_minute: 100_000 } } });
  // A baseline priority, so "nothing changed" covers replacing and deleting too.
  expect((await h.call('PUT', '/v1/priorities', { json: { ...priority, scope: 'persistent' } })).status).toBe(201);
  watch = h.sim.events$.subscribe((e) => {
    // Requests (answered by the simulator) and fire-and-forget sends, but not the periodic ones.
    if (e.kind === 'replied') commands.push(`${e.moduleId} ${e.request}`);
    if (e.kind === 'received' && e.name !== 'communication_check' && e.name !== 'set_external_limits') commands.push(`${e.moduleId} ${e.name}`);
  });
});
afterAll(async () => {
  watch?.unsubscribe();
  await h?.stop();
  await broker?.stop();
});

describe('HTTP fuzz table', () => {
  it('never answers 5xx, answers every /v1 error with the envelope, and changes nothing', { timeout: 120_000 }, async () => {
    const store = h.storeFile();
    const budget = h.service.site().max_power_w;
    commands = [];
    const failures: string[] = [];
    for (const c of cases()) {
      const response = await h.call(c.method, c.path, c.options);
      if (response.status >= 500) failures.push(`${c.name}: ${response.status} ${response.text.slice(0, 200)}`);
      if (response.status >= 400 && c.path.startsWith('/v1') && !c.path.startsWith('/v1/events')) {
        const body = response.body as { data?: unknown; status_code?: unknown } | string;
        if (typeof body !== 'object' || body.data !== null || typeof body.status_code !== 'number') failures.push(`${c.name}: ${response.status} without envelope: ${response.text.slice(0, 200)}`);
      }
      const link = response.headers.get('link');
      if (link !== null && !link.startsWith('</v1/')) failures.push(`${c.name}: Link not relative: ${link.slice(0, 100)}`);
    }
    // fetch will not send a Host of its own choosing; a raw request does, as a rebinding page would.
    for (const host of ['evil.example', 'a:b:c:d', '[::1', '[zz]:80', 'x'.repeat(2000), 'localhost:99999', '%00', '']) {
      const r = await rawHttp(h.url, 'GET', '/v1/priorities?limit=1', { host, authorization: `Bearer ${TOKEN}` });
      if (r.status >= 500) failures.push(`Host ${host.slice(0, 20)}: ${r.status} ${r.text.slice(0, 200)}`);
      const link = r.headers.link;
      if (link !== undefined && !String(link).startsWith('</v1/')) failures.push(`Host ${host.slice(0, 20)}: Link not relative: ${String(link).slice(0, 100)}`);
    }
    expect(failures).toEqual([]);
    expect(h.storeFile()).toBe(store);
    expect(h.service.site().max_power_w).toBe(budget);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(commands).toEqual([]);
  });
});
