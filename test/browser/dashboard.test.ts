/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The dashboard in a real browser (Debian's chromium via playwright-core) against the real module, the
// simulated EVerest and a real Mosquitto: what an operator sees and does at `/`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/api-harness.js';
import { browserMissing, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { arrive } from '../support/site-stack.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'dashboard-test-token';
const PAGE_BUDGET_BYTES = 300 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// docs/dashboard.png is what the README shows; it is rewritten only on request so that a test run
// leaves the worktree clean (UPDATE_SCREENSHOTS=1 npm test -- test/browser).
const SCREENSHOTS = join(root, 'dist', 'screenshots');
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS ? join(root, 'docs', 'dashboard.png') : join(SCREENSHOTS, 'dashboard.png');

const missing = browserMissing();

describe.skipIf(missing !== undefined)(missing ? `dashboard (skipped: ${missing})` : 'dashboard in a real browser', () => {
  let broker: TestBroker;
  let h: Harness;
  let browser: TestBrowser;
  let page: Page;
  const consoleErrors: string[] = [];
  /** Errors the browser logs for a request the test makes fail on purpose (its own network line). */
  const provokedErrors: string[] = [];
  let provoking = false;
  const transfers: Array<{ url: string; status: number; bytes: number }> = [];

  const card = (moduleId: string) => page.locator(`[data-module-id="${moduleId}"]`);
  const field = (moduleId: string, name: string) => card(moduleId).locator(`[data-field="${name}"]`);

  beforeAll(async () => {
    broker = await startBroker();
    h = await startHarness(broker, { tokens: [TOKEN] });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
    await broker?.stop();
  });

  it('logs in from the link, hides the token and shows every EVSE with live state', async () => {
    page = await browser.context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') (provoking ? provokedErrors : consoleErrors).push(m.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    page.on('requestfinished', (request: Request) => {
      if (new URL(request.url()).pathname === '/v1/events') return;
      void Promise.all([request.sizes(), request.response()]).then(([s, response]) =>
        transfers.push({ url: request.url(), status: response?.status() ?? 0, bytes: s.responseBodySize + s.responseHeadersSize }),
      );
    });
    // The first page of a fresh profile: a cold load, as on a first visit.
    await page.goto(`${h.url}/?token=${TOKEN}`);
    for (const id of ['evse_1', 'evse_2', 'evse_3']) await card(id).waitFor();
    expect(page.url()).not.toContain(TOKEN);
    await expect.poll(() => field('evse_1', 'heartbeat').innerText()).toBe('online');
    expect(await card('evse_1').innerText()).toContain('DEPNXE000001*1');
    expect(await field('evse_1', 'status').innerText()).toBe('AVAILABLE');

    // Three cars arrive at a 22 kW site: two charge, the third waits, and the cards follow without a reload.
    arrive(h.sim, 'evse_1');
    await expect.poll(() => field('evse_1', 'state').innerText(), { timeout: 15_000 }).toBe('Charging');
    arrive(h.sim, 'evse_2');
    await expect.poll(() => field('evse_2', 'state').innerText(), { timeout: 15_000 }).toBe('Charging');
    arrive(h.sim, 'evse_3');
    await expect.poll(() => field('evse_3', 'decision').innerText(), { timeout: 15_000 }).toMatch(/Waiting/);
    expect(await field('evse_3', 'decision').innerText()).toMatch(/budget/);
    await expect.poll(() => field('evse_1', 'power').innerText(), { timeout: 15_000 }).toMatch(/^1[01]\.\d kW$/);
    expect(await field('evse_1', 'status').innerText()).toBe('CHARGING');
    await expect.poll(() => page.locator('[data-field="measured"]').innerText(), { timeout: 10_000 }).toMatch(/^2[12]\.\d kW$/);
    await expect.poll(() => page.locator('.log .entry').count()).toBeGreaterThan(3);
  });

  it('shows nothing of the site without a token or with a wrong one', async () => {
    const anonymous = await browser.context.newPage();
    const shown: string[] = [];
    anonymous.on('console', (m) => m.type() === 'error' && shown.push(m.text()));
    await anonymous.goto(h.url);
    await anonymous.getByLabel('Access token').waitFor();
    expect(await anonymous.locator('[data-module-id]').count()).toBe(0);
    expect(await anonymous.locator('body').innerText()).not.toMatch(/evse_1|kW/);

    await anonymous.goto(`${h.url}/?token=not-the-token`);
    await anonymous.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    expect(await anonymous.locator('[data-module-id]').count()).toBe(0);
    expect(await anonymous.locator('body').innerText()).not.toMatch(/evse_1|kW/);

    // Signing in with the form works where the wrong link did not.
    await anonymous.getByLabel('Access token').fill(TOKEN);
    await anonymous.getByRole('button', { name: 'Sign in' }).click();
    await anonymous.locator('[data-module-id="evse_1"]').waitFor();
    // A page opened later still tells what happened before: its log starts with the recent past.
    await expect.poll(() => anonymous.locator('.log .entry').count(), { timeout: 10_000 }).toBeGreaterThan(3);
    expect(await anonymous.locator('.log').innerText()).toMatch(/evse_3[\s\S]*(pause|waiting)/);
    // The only errors are the browser's own lines for the refused requests.
    expect(shown.filter((t) => !/status of 401/.test(t))).toEqual([]);
    await anonymous.close();
  });

  it('saves a priority typed into a card on Enter, through the API', async () => {
    const input = card('evse_2').locator('input[name="priority"][type="number"]');
    await input.fill('7');
    await input.press('Enter');
    await waitFor(async () => {
      const r = await h.call('GET', '/v1/priorities/evse_2/1');
      return (r.body as { data: { priority: number } }).data.priority === 7;
    }, { timeoutMs: 10_000, message: 'priority 7 never reached the API' });
    await expect.poll(() => field('evse_2', 'notice').innerText()).toMatch(/Priority \+7 saved/);

    // Out of range: the API's own words, not a silent failure.
    provoking = true;
    await input.fill('12');
    await input.press('Enter');
    await expect.poll(() => field('evse_2', 'notice').innerText()).toMatch(/Priority not saved: field "priority" .*-9 to 9.*\(HTTP 400\)/);
    provoking = false;
    await input.press('Escape');
    expect(await input.inputValue()).toBe('7');
  });

  it('shows a priority set over the API in the card without a reload', async () => {
    const r = await h.call('PUT', '/v1/priorities', { json: { by: 'module', module_id: 'evse_3', connector_id: 1, priority: 9, scope: 'persistent' } });
    expect(r.status).toBe(201);
    const input = card('evse_3').locator('input[name="priority"]');
    await expect.poll(() => input.inputValue(), { timeout: 10_000 }).toBe('9');
    expect(await card('evse_3').locator('select[name="scope"]').inputValue()).toBe('persistent');
    // Priority 9 beats the others: evse_3 charges now, and the card says so.
    await expect.poll(() => field('evse_3', 'decision').innerText(), { timeout: 15_000 }).toMatch(/Charging allowed/);
  });

  it('shows the lifecycle of an action requested from a card', async () => {
    await card('evse_2').getByRole('button', { name: 'Pause evse_2' }).click();
    const last = field('evse_2', 'last-action');
    await expect.poll(() => last.getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
    expect(await last.innerText()).toMatch(/pause[\s\S]*by api[\s\S]*requested[\s\S]*sent[\s\S]*completed/i);
    await expect.poll(() => field('evse_2', 'state').innerText(), { timeout: 10_000 }).toBe('ChargingPausedEVSE');
    await expect.poll(() => page.locator('.log').innerText()).toMatch(/pause \(api\) completed/);
    await card('evse_2').getByRole('button', { name: 'Resume evse_2' }).click();
    await expect.poll(() => last.innerText(), { timeout: 15_000 }).toMatch(/resume[\s\S]*completed/i);
  });

  it('changes the site budget and draws the chart as figures arrive', async () => {
    const chart = page.locator('.chart');
    const before = Number(await chart.getAttribute('data-last'));
    const pixels = await chart.locator('canvas').evaluate((c: HTMLCanvasElement) => c.toDataURL());
    await page.getByLabel('Budget (kW)').fill('30');
    await page.getByRole('button', { name: 'Set budget' }).click();
    await expect.poll(() => page.locator('[data-field="budget"]').innerText(), { timeout: 10_000 }).toBe('30.0 kW');
    await expect.poll(async () => Number(await chart.getAttribute('data-last')), { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(() => chart.locator('canvas').evaluate((c: HTMLCanvasElement) => c.toDataURL()), { timeout: 10_000 }).not.toBe(pixels);
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(3);
    await expect.poll(() => page.locator('.log').innerText()).toMatch(/site budget set to 30\.0 kW/);
  });

  it('labels every control and fits 375 px and 1280 px without horizontal scrolling', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => {
          const labelled = (el as HTMLInputElement).labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
          return !labelled && !(el.tagName === 'BUTTON' && el.textContent?.trim());
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabelled).toEqual([]);
    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `horizontal overflow at ${width} px`).toBeLessThanOrEqual(0);
      expect(await card('evse_3').locator('input[name="priority"]').isVisible()).toBe(true);
      if (width === 375) writeFileSync(join(SCREENSHOTS, 'dashboard-375.png'), await page.screenshot({ fullPage: true }));
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(SCREENSHOT, png);
    expect(png.length).toBeGreaterThan(20_000);
  });

  it('weighs less than 300 KB over the wire and logged no console error', async () => {
    const bytes = transfers.reduce((sum, t) => sum + t.bytes, 0);
    const statics = transfers.filter((t) => !new URL(t.url).pathname.startsWith('/v1/'));
    console.log(
      `[dashboard] transferred ${(bytes / 1024).toFixed(1)} KB in ${transfers.length} requests ` +
        `(page files ${(statics.reduce((s, t) => s + t.bytes, 0) / 1024).toFixed(1)} KB; budget ${PAGE_BUDGET_BYTES / 1024} KB)`,
    );
    expect(statics.map((t) => [new URL(t.url).pathname, t.status])).toEqual(
      expect.arrayContaining([['/', 200], ['/assets/dashboard.js', 200], ['/assets/dashboard.css', 200]]),
    );
    expect(bytes).toBeLessThan(PAGE_BUDGET_BYTES);
    expect(consoleErrors).toEqual([]);
    expect(provokedErrors.filter((t) => !/status of 400/.test(t))).toEqual([]);
  });
});
