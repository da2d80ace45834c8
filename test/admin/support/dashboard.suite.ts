import { existsSync, mkdirSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, seed, startAdminApp } from './admin.app.js';
import { bulkTraces, invoiceTrace } from './admin.fixture.js';

const SCREENSHOTS = 'test-output/screenshots';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// A developer's machine without a browser skips the UI tests (loudly) rather than fail the API
// suite; CI (which installs Chromium) runs them always, so a missing browser there is a failure.
const hasChromium = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!hasChromium) console.warn(`dashboard specs: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH); UI tests skipped`);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/**
 * The dashboard in headless Chromium against an app on `platform`: the page is opened at both
 * `/kostrack` and `/kostrack/` (each in a fresh browser context, so each asks for the key), and
 * the rest of the walk goes on from `/kostrack/`, the URL docs/admin.md gives.
 */
export function dashboardSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_ui_${platform}`);
  let app: INestApplication;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const invoice = invoiceTrace();
  const all = [invoice, ...bulkTraces()];
  const offsite: string[] = [];
  const errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}/${name}.${platform}.png`, fullPage: true });

  /** A page in a context of its own (its own sessionStorage, so the key form shows again). */
  async function openPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const opened = await context.newPage();
    // Each step waits for one element; a broken step fails in seconds, not 30 s per later test.
    opened.setDefaultTimeout(10_000);
    // Offline by construction: any request that leaves the app fails the test.
    await opened.route('**/*', (route) => {
      if (!route.request().url().startsWith(origin)) {
        offsite.push(route.request().url());
        return route.abort();
      }
      return route.continue();
    });
    opened.on('pageerror', (e) => errors.push(e.message));
    opened.on('console', (m) => m.type() === 'error' && !/401/.test(m.text()) && errors.push(m.text()));
    return opened;
  }

  beforeAll(async () => {
    if (!hasChromium) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    app = await startAdminApp(db, {}, null, platform);
    await seed(
      app,
      all.flatMap((t) => t.spans),
      all.flatMap((t) => t.calls),
    );
    await app.listen(0, '127.0.0.1');
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  describe.skipIf(!hasChromium)(`the dashboard on ${platform} in headless Chromium`, () => {
    for (const path of ['/kostrack', '/kostrack/'])
      it(`asks for the key at ${path}, then lists traces and draws the charts`, async () => {
        await page?.context().close();
        page = await openPage();
        const response = await page.goto(`${origin}${path}#/?from=2026-11-01&to=2026-11-06`);
        expect(response?.status()).toBe(200);
        await page.waitForSelector('[data-testid=key-form]');
        await page.fill('[data-testid=key-form] input', API_KEY);
        await page.click('[data-testid=key-form] button');

        await page.waitForSelector('[data-testid=traces-table] tbody tr');
        // 61 traces: a first page of 50, then the rest on "Load more".
        expect(await page.locator('[data-testid=traces-table] tbody tr').count()).toBe(50);
        await page.click('button.more');
        await page.waitForFunction(() => document.querySelectorAll('[data-testid=traces-table] tbody tr').length === 61);
        expect(await page.locator('button.more').isHidden()).toBe(true);

        await page.waitForSelector('[data-testid=chart-model] svg rect.bar');
        const modelBars = await page.locator('[data-testid=chart-model] svg rect.bar').count();
        // Three days with spend, each split by model: 2 + 3 + 3 stacked segments.
        expect(modelBars).toBe(8);
        expect(await page.locator('[data-testid=chart-model] .legend li').allTextContents()).toEqual(['claude-haiku-4-5', 'gpt-4o-mini', 'gemini-2.5-flash']);
        expect(await page.locator('[data-testid=chart-feature] svg rect.bar').count()).toBeGreaterThan(0);
        expect(await page.locator('[data-testid=chart-feature] .legend li').allTextContents()).toEqual(expect.arrayContaining(['chat', 'search', 'invoice-pipeline']));
        for (const height of await page.locator('[data-testid=chart-model] svg rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height')))))
          expect(height).toBeGreaterThan(0);
        await shot(path.endsWith('/') ? 'dashboard-list' : 'dashboard-list-no-slash');
        expect(errors).toEqual([]);
        expect(offsite).toEqual([]);
      });

    it('sorts by cost when the header is clicked', async () => {
      await page.click('th[data-sort=cost]');
      // The view re-renders on the hash change: wait for the rows of the table whose cost header is
      // active, not for whichever rows happen to be on screen (the old table's can still be there).
      await page.waitForFunction(() => {
        const table = document.querySelector('th[data-sort=cost].active')?.closest('table');
        return (table?.querySelectorAll('tbody tr td.cost').length ?? 0) >= 3;
      });
      const firstCosts = await page.locator('[data-testid=traces-table] tbody tr td.cost').evaluateAll((tds) => tds.slice(0, 3).map((td) => td.getAttribute('title')));
      expect(firstCosts).toEqual(['$0.0091', '$0.0091', '$0.0091']);
    });

    it('filters by feature', async () => {
      await page.fill('[data-testid=filters] input[name=feature]', 'invoice-pipeline');
      await page.click('[data-testid=filters] button');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=traces-table] tbody tr').length === 1);
      expect(await page.locator('[data-testid=traces-table] tbody tr').getAttribute('data-trace-id')).toBe(invoice.traceId);
    });

    it('shows a trace as a waterfall with a bar per span and call, and the exact total', async () => {
      await page.click(`[data-trace-id="${invoice.traceId}"]`);
      await page.waitForSelector('[data-testid=waterfall] .wf-bar');
      // The trace itself, its 4 spans and its 8 calls.
      expect(await page.locator('[data-testid=waterfall] .wf-bar').count()).toBe(13);
      expect(await page.locator('[data-testid=waterfall] .wf-bar[data-kind=span]').count()).toBe(4);
      expect(await page.locator('[data-testid=waterfall] .wf-bar[data-kind=call]').count()).toBe(8);
      expect(await page.locator('[data-testid=trace-total]').textContent()).toBe('$0.006523456789013');
      expect(await page.locator('[data-testid=waterfall] .wf-bar[data-kind=trace]').getAttribute('data-cost')).toBe('0.006523456789013');
      const spanCosts = await page.locator('[data-testid=waterfall] .wf-bar[data-kind=span]').evaluateAll((bars) => bars.map((b) => b.getAttribute('data-cost')));
      expect(spanCosts).toEqual(['0.0033', '0.0001', '0.000055', '0.003000000000001']);
      // Bars sit on the timeline: the trace spans it all, `post` (6 s–9 s of 10 s) starts at 60 %.
      const geometry = await page.locator('[data-testid=waterfall] .wf-bar').evaluateAll((bars) =>
        bars.map((b) => {
          const track = b.parentElement!.getBoundingClientRect();
          const r = b.getBoundingClientRect();
          return { left: Math.round(((r.left - track.left) / track.width) * 100), width: Math.round((r.width / track.width) * 100) };
        }),
      );
      expect(geometry[0]).toEqual({ left: 0, width: 100 });
      const postIndex = (await page.locator('[data-testid=waterfall] .wf-label').allTextContents()).findIndex((t) => t.includes('post'));
      expect(geometry[postIndex - 1]).toEqual({ left: 60, width: 30 }); // label rows include the axis row first
      expect(await page.locator('[data-testid=breakdown] tbody tr').count()).toBe(3);
      await shot('dashboard-trace');
      expect(errors).toEqual([]);
      expect(offsite).toEqual([]);
    });

    it('returns to the list', async () => {
      await page.click('a.back');
      await page.waitForSelector('[data-testid=traces-table] tbody tr');
      expect(await page.evaluate(() => location.hash)).toContain('feature=invoice-pipeline');
    });
  });

  describe.skipIf(!hasChromium)(`the budgets view on ${platform} in headless Chromium`, () => {
    it('shows each budget with spent, held, left and how much is used, per scope value, to the exact amount on hover', async () => {
      const created = await fetch(`${origin}/kostrack/budgets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-kostrack-api-key': API_KEY },
        body: JSON.stringify({ name: 'ui-user-day', scope: 'user_id', period: 'day', limit: '0.01' }),
      });
      expect(created.status).toBe(201);
      // Usage of today (UTC) as the writer would have left it: ann 0.0090405 spent + 0.0005 held, bob 0.0030135.
      const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z').toISOString();
      await db.pool.query(
        `INSERT INTO "${db.schema}".llm_budget_usage (budget_id, scope_value, period_start, spent, reserved, calls)
         SELECT id, v.scope_value, $1::timestamptz, v.spent, v.reserved, v.calls FROM "${db.schema}".llm_budgets,
                (VALUES ('ann', 0.0090405, 0.0005, 3), ('bob', 0.0030135, 0, 1)) AS v(scope_value, spent, reserved, calls)
          WHERE name = 'ui-user-day'`,
        [today],
      );
      await db.pool.query(
        `INSERT INTO "${db.schema}".llm_budget_reservations (span_id, budget_id, scope_value, period_start, amount, expires_at)
         SELECT gen_random_uuid(), id, 'ann', $1::timestamptz, 0.0005, now() + interval '1 hour' FROM "${db.schema}".llm_budgets WHERE name = 'ui-user-day'`,
        [today],
      );
      await page.click('[data-testid=nav-budgets]');
      await page.waitForSelector('[data-testid=budget-ui-user-day] tbody tr[data-scope-value]');
      const rows = page.locator('[data-testid=budget-ui-user-day] tbody tr[data-scope-value]');
      expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-scope-value')))).toEqual(['ann', 'bob']);
      const cells = await rows.evaluateAll((trs) =>
        trs.map((tr) => ({
          spent: tr.querySelector('[data-testid=spent]')!.getAttribute('title'),
          left: tr.querySelector('[data-testid=left]')!.getAttribute('title'),
          used: tr.querySelector('[data-testid=used]')!.textContent!.trim(),
        })),
      );
      // ann: 0.01 − 0.0090405 − 0.0005 = 0.0004595 left; (0.0090405 + 0.0005) / 0.01 = 95%. bob: 0.0069865 left, 30%.
      expect(cells).toEqual([
        { spent: '$0.0090405', left: '$0.0004595', used: '95%' },
        { spent: '$0.0030135', left: '$0.0069865', used: '30%' },
      ]);
      expect(await page.locator('[data-testid=budget-ui-user-day] h3').textContent()).toBe('ui-user-day · $0.01 per day · each user_id');
      await shot('dashboard-budgets');
      expect(offsite).toEqual([]);
    });
  });
}
