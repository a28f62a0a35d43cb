/// <reference lib="dom" />
// The dashboard of a site with more EVSEs than one page of GET /v1/evses holds, in a real browser
// (Debian's chromium via playwright-core) against the real module and a real Mosquitto: every EVSE
// gets its card, a card from the last page follows live events, and events that come while the list
// is still loading (or failed to load) are not lost. Two EVSEs are simulated, the first and the last;
// the others are configured and silent, which the list shows all the same.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAGE_LIMIT } from '../../src/api/http/schemas/pagination.js';
import { startHarness, type Harness } from '../support/api-harness.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { arrive } from '../support/site-stack.js';

const TOKEN = 'large-site-token-0001';
const EVSE_COUNT = 1000;
const ids = Array.from({ length: EVSE_COUNT }, (_, i) => `evse_${String(i + 1).padStart(4, '0')}`);
const [firstId, lastId] = [ids[0] ?? '', ids[EVSE_COUNT - 1] ?? ''];

const missing = browserMissing();

describe.skipIf(missing !== undefined)(missing ? `dashboard of a 1000-EVSE site (skipped: ${missing})` : 'dashboard of a 1000-EVSE site in a real browser', () => {
  let broker: TestBroker;
  let h: Harness;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    broker = await startBroker();
    h = await startHarness(broker, {
      tokens: [TOKEN],
      config: { evses: ids.map((module_id) => ({ module_id, connectors: [1], phases: 3 })) },
      simulated: [firstId, lastId],
    });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
    await broker?.stop();
  });

  it('shows a card for every EVSE, reading the list page by page', async () => {
    page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const listReads: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/evses') listReads.push(`${url.pathname}${url.search}`);
    });
    await page.goto(`${h.url}/?token=${TOKEN}`);
    await page.locator(`[data-module-id="${lastId}"]`).waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-module-id]').count()).toBe(EVSE_COUNT);
    expect(await page.locator('.summary').innerText()).toMatch(new RegExp(`^${EVSE_COUNT} EVSEs`));
    // The largest page the API serves, then its rel="next" link: two reads for 1000 EVSEs.
    expect(listReads).toEqual([`/v1/evses?limit=${MAX_PAGE_LIMIT}`, `/v1/evses?limit=${MAX_PAGE_LIMIT}&offset=${MAX_PAGE_LIMIT}`]);
    expect(pageErrors).toEqual([]);
  });

  it('keeps a card from the last page live', async () => {
    const field = (name: string) => page.locator(`[data-module-id="${lastId}"] [data-field="${name}"]`);
    await expect.poll(() => field('heartbeat').innerText(), { timeout: 10_000 }).toBe('online');
    arrive(h.sim, lastId);
    await expect.poll(() => field('state').innerText(), { timeout: 15_000 }).toBe('Charging');
  });

  it('loses no live event that arrives while the list is still loading', async () => {
    const late = await browser.context.newPage();
    const pageErrors: string[] = [];
    late.on('pageerror', (err) => pageErrors.push(err.message));
    // The list's last page is read from the module when the page asks for it, before the changes
    // below, and handed to the page only once the page has heard of them on the event stream.
    let held = false;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    await late.route(
      (url) => url.pathname === '/v1/evses' && url.searchParams.has('offset'),
      async (route) => {
        const response = await route.fetch();
        held = true;
        await released;
        await route.fulfill({ response });
      },
    );
    await late.goto(`${h.url}/?token=${TOKEN}`);
    await expect.poll(() => held, { timeout: 30_000 }).toBe(true);
    // A priority for an EVSE of the first page, read before it, and a new budget, after the site was read.
    expect((await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: firstId, connector_id: 1, priority: 6, scope: 'persistent' } })).status).toBe(201);
    expect((await h.call('PUT', '/v1/site', { json: { max_power_w: 33_000 } })).status).toBe(200);
    await late.locator('.log').filter({ hasText: 'site budget set to 33.0 kW' }).waitFor({ timeout: 10_000 });
    expect(await late.locator('[data-module-id]').count()).toBe(0);

    release();
    await late.locator(`[data-module-id="${lastId}"]`).waitFor({ timeout: 30_000 });
    expect(await late.locator(`[data-module-id="${firstId}"] input[name="priority"]`).inputValue()).toBe('6');
    expect(await late.locator('[data-field="budget"]').innerText()).toBe('33.0 kW');
    expect(pageErrors).toEqual([]);
    await late.close();
  });

  it('reads the list again when it fails to load, and applies what came meanwhile', async () => {
    const retried = await browser.context.newPage();
    let refused = 0;
    await retried.route(
      (url) => url.pathname === '/v1/evses' && !url.searchParams.has('offset'),
      async (route) => {
        if (refused > 0) return route.continue();
        refused++;
        return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ status_code: 3000, status_message: 'not now', timestamp: new Date().toISOString() }) });
      },
    );
    await retried.goto(`${h.url}/?token=${TOKEN}`);
    await retried.getByRole('alert').filter({ hasText: /Could not load the site: not now; trying again in 2 s/ }).waitFor({ timeout: 10_000 });
    expect((await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: firstId, connector_id: 1, priority: -2, scope: 'persistent' } })).status).toBeOneOf([200, 201]);
    await retried.locator(`[data-module-id="${lastId}"]`).waitFor({ timeout: 30_000 });
    await expect.poll(() => retried.locator(`[data-module-id="${firstId}"] input[name="priority"]`).inputValue()).toBe('-2');
    expect(await retried.getByRole('alert').count()).toBe(0);
    await retried.close();
  });
});
