import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { NO_CURRENT_CONTROL_WARNING } from '../../src/config/current-control.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';
import { startHarness, type Harness, type HarnessOptions } from '../support/api-harness.js';
import { captureLog } from '../support/log-capture.js';

let broker: TestBroker;
let h: Harness | undefined;
let lines: string[] = [];

async function start(options: HarnessOptions): Promise<Harness> {
  // Every line, at trace level, with the production redaction.
  const log = captureLog('trace');
  lines = log.lines;
  h = await startHarness(broker, { ...options, logger: log.logger });
  return h;
}

beforeAll(async () => {
  broker = await startBroker();
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});
afterAll(async () => {
  await broker?.stop();
});

describe('without tokens', () => {
  it('serves reads, refuses changes and /metrics with 403 (nobody can present a token), and says why at start', async () => {
    const harness = await start({ tokens: [] });
    expect((await harness.call('GET', '/v1/evses')).status).toBe(200);
    expect((await harness.call('GET', '/healthz')).status).toBe(200);
    const metrics = await harness.call('GET', '/metrics');
    expect(metrics.status).toBe(403);
    expect(metrics.body).toMatchObject({ status_code: 2000, status_message: expect.stringContaining('http.metrics_public') });
    const before = harness.storeFile();
    for (const [method, path, json] of [
      ['PUT', '/v1/priorities', { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 1 }],
      ['PUT', '/v1/site', { max_power_w: 0 }],
      ['POST', '/v1/evses/evse_1/actions', { type: 'unlock' }],
      ['DELETE', '/v1/priorities/evse_1/1', undefined],
    ] as const) {
      const r = await harness.call(method, path, json === undefined ? {} : { json });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body, `${method} ${path}`).toMatchObject({ data: null, status_code: 2000, status_message: expect.stringContaining('http.allow_anonymous') });
    }
    expect(harness.storeFile()).toBe(before);
    expect(harness.service.site().max_power_w).toBe(22000);
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.startsWith('HTTP API has no tokens'));
    expect(warning?.level).toBe(40);
  });

  it('with http.allow_anonymous serves every route openly, records set_by "http" and warns loudly at start', async () => {
    const harness = await start({ tokens: [], config: { http: { allow_anonymous: true } } });
    expect((await harness.call('GET', '/v1/evses')).status).toBe(200);
    expect((await harness.call('GET', '/metrics')).status).toBe(200);
    const put = await harness.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_1', connector_id: 1, priority: 1 } });
    expect(put.body).toMatchObject({ data: { set_by: 'http' } });
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.startsWith('HTTP API IS OPEN'));
    expect(warning?.level).toBe(40);
  });

  it('reports 503 on /healthz once no EVSE has a current heartbeat', async () => {
    const harness = await start({ tokens: [], config: { http: { allow_anonymous: true } } });
    expect((await harness.call('GET', '/healthz')).status).toBe(200);
    await harness.sim.stop();
    const unready = await waitFor(async () => {
      const r = await harness.call('GET', '/healthz');
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 8000 });
    expect(unready.body).toMatchObject({ status: 'unavailable', ready: false, broker_connected: true, evses_online: 0 });
  });
});

describe('start-up warnings', () => {
  it('warns when the budget is below an on/off EVSE\'s rating, naming it', async () => {
    const harness = await start({
      tokens: [],
      config: {
        site: { max_power_w: 9000 },
        evses: [
          { module_id: 'evse_1', connectors: [1], max_current_a: 16 },
          { module_id: 'evse_2', connectors: [1], max_current_a: 16, limits_module_id: 'evse_2_limits' },
        ],
      },
    });
    expect(harness.config.evses).toHaveLength(2);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; evses?: unknown });
    const warning = logged.find((l) => l.msg === NO_CURRENT_CONTROL_WARNING);
    expect(warning).toMatchObject({ level: 40, evses: [{ module_id: 'evse_1', rating_w: 11040 }], max_power_w: 9000 });
  });

  it('says nothing when every EVSE fits or is under current control', async () => {
    await start({ tokens: ['a-token-of-16-chars-or-more'] });
    expect(lines.some((l) => l.includes(NO_CURRENT_CONTROL_WARNING))).toBe(false);
  });
});

describe('with tokens', () => {
  const TOKENS = ['alpha-token-3f9c', 'beta-token-77d1-x'];
  const SECRET = 'webhook-secret-5e2a';

  it('needs a token for /v1 and /metrics but not /healthz by default; any configured token works', async () => {
    const harness = await start({
      tokens: TOKENS,
      webhooks: [{ url: 'http://127.0.0.1:9/hook?key=query-secret-8b1', secret: SECRET }],
      // This test presents wrong tokens on purpose; the failed-authentication limit has its own test.
      config: { http: { auth_failures_per_minute: 1000 } },
    });
    for (const path of ['/v1/evses', '/v1/priorities', '/v1/site', '/v1/openapi.json', '/metrics']) {
      expect((await harness.call('GET', path, { token: null })).status, path).toBe(401);
      expect((await harness.call('GET', path, { token: 'alpha-token-3f9' })).status, path).toBe(401);
      expect((await harness.call('GET', path, { token: TOKENS[1] })).status, path).toBe(200);
    }
    expect((await harness.call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await harness.call('GET', '/healthz', { token: 'wrong' })).status).toBe(200);
    const lower = await harness.call('GET', '/v1/evses', { token: null, headers: { authorization: `bearer ${TOKENS[0]}` } });
    expect(lower.status).toBe(200);
    // Let a webhook delivery fail (nothing listens on port 9) so its logging is covered too.
    await harness.call('PUT', '/v1/site', { json: { max_power_w: 20000 } });
    await waitFor(() => lines.some((l) => l.includes('webhook delivery failed')), { timeoutMs: 8000 });
    const log = lines.join('\n');
    for (const secret of [...TOKENS, SECRET, 'query-secret-8b1']) expect(log).not.toContain(secret);
  });

  it('follows http.metrics_public and http.health_public', async () => {
    const harness = await start({ tokens: TOKENS, metricsPublic: true, healthPublic: false });
    expect((await harness.call('GET', '/metrics', { token: null })).status).toBe(200);
    const health = await harness.call('GET', '/healthz', { token: null });
    expect(health.status).toBe(401);
    expect(health.body).toMatchObject({ status_code: 2000, data: null });
    expect((await harness.call('GET', '/healthz')).status).toBe(200);
    const doc = harness.server.openapi.paths;
    expect((doc['/metrics']?.get as { security: unknown[] }).security).toEqual([]);
    expect((doc['/healthz']?.get as { security: unknown[] }).security).toEqual([{ bearerAuth: [] }]);
  });
});
