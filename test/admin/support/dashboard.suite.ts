import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, seed, startAdminApp } from './admin.app.js';
import { bulkTraces, invoiceTrace } from './admin.fixture.js';
import { CACHE_PRICES, CACHE_SAVED, laterTraces } from './insights.fixture.js';

const SCREENSHOTS = 'test-output/screenshots';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// A developer's machine without a browser skips the UI tests (loudly) rather than fail the API
// suite; CI (which installs Chromium) runs them always, so a missing browser there is a failure.
const hasChromium = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!hasChromium) console.warn(`dashboard specs: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH); UI tests skipped`);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
/**
 * The browser's zone: New York, so local times differ from UTC (and the date pickers' midnights
 * are 04:00Z before the 1 November 2026 change and 05:00Z after).
 */
const ZONE = 'America/New_York';
const NOV_1 = '2026-11-01T04:00:00.000Z';
const NOV_6 = '2026-11-06T05:00:00.000Z';
const NOV_11 = '2026-11-11T05:00:00.000Z';

/**
 * The dashboard in headless Chromium against an app on `platform`: the page is opened at both
 * `/kostrack` and `/kostrack/` (each in a fresh browser context, so each asks for the key), and
 * the rest of the walk goes on from `/kostrack/`, the URL docs/admin.md gives. Every figure on
 * screen is compared with the API's answer and, where it is a sum, with the database's.
 */
export function dashboardSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_ui_${platform}`);
  let app: INestApplication;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const invoice = invoiceTrace();
  const later = laterTraces();
  const all = [invoice, ...bulkTraces(), ...later];
  const offsite: string[] = [];
  const errors: string[] = [];
  const shot = (name: string, p: Page = page) => p.screenshot({ path: `${SCREENSHOTS}/${name}.${platform}.png`, fullPage: true });

  async function api<T = any>(path: string, query: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${origin}/kostrack/${path}?${new URLSearchParams(query)}`, { headers: { 'x-kostrack-api-key': API_KEY } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }
  const sql = async <R = Record<string, string>>(text: string, params: unknown[] = []) => (await db.inSchema(text, params)) as R[];

  /** A page in a context of its own (its own sessionStorage, so the key form shows again). */
  async function openPage(width = 1440, height = 1000): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height }, timezoneId: ZONE, locale: 'en-US', acceptDownloads: true });
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

  /** Goes to `hash` and waits until the view of that very hash has finished rendering. */
  async function show(hash: string, p: Page = page): Promise<void> {
    await p.evaluate((h) => (location.hash = h), hash);
    await settled(hash, p);
  }
  /** Waits for the view of `hash` (not whichever view is on screen) to have finished. */
  function settled(hash: string, p: Page = page) {
    return p.waitForFunction((want) => {
      const m = document.querySelector('main.view');
      return location.hash === want && m?.getAttribute('data-hash') === want && m.getAttribute('data-ready') === 'true';
    }, hash);
  }
  const titles = (selector: string, p: Page = page) => p.locator(selector).evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  const texts = (selector: string, p: Page = page) => p.locator(selector).allTextContents();

  beforeAll(async () => {
    if (!hasChromium) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    app = await startAdminApp(db, { prices: CACHE_PRICES }, null, platform);
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
        await settled('#/?from=2026-11-01&to=2026-11-06');

        // 61 traces: a first page of 50, then the rest on "Load more".
        expect(await page.locator('[data-testid=traces-table] tbody tr').count()).toBe(50);
        await page.click('button.more');
        await page.waitForFunction(() => document.querySelectorAll('[data-testid=traces-table] tbody tr').length === 61);
        expect(await page.locator('button.more').isHidden()).toBe(true);

        const modelBars = await page.locator('[data-testid=chart-model] svg rect.bar').count();
        // Three days with spend, each split by model: 2 + 3 + 3 stacked segments.
        expect(modelBars).toBe(8);
        expect(await texts('[data-testid=chart-model] .legend li')).toEqual(['claude-haiku-4-5', 'gpt-4o-mini', 'gemini-2.5-flash']);
        expect(await page.locator('[data-testid=chart-feature] svg rect.bar').count()).toBeGreaterThan(0);
        expect(await texts('[data-testid=chart-feature] .legend li')).toEqual(expect.arrayContaining(['chat', 'search', 'invoice-pipeline']));
        for (const height of await page.locator('[data-testid=chart-model] svg rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height')))))
          expect(height).toBeGreaterThanOrEqual(2);
        await shot(path.endsWith('/') ? 'dashboard-list' : 'dashboard-list-no-slash');
        expect(errors).toEqual([]);
        expect(offsite).toEqual([]);
      });

    it('shows times in the local zone with the exact instant on hover', async () => {
      const first = page.locator('[data-testid=traces-table] tbody tr').first().locator('time');
      // The latest trace, bulk-59, started 2026-11-04T15:00:00Z: 10:00 in New York (EST).
      expect(await first.getAttribute('title')).toBe('2026-11-04T15:00:00.000Z');
      expect(await first.textContent()).toBe('2026-11-04 10:00:00');
    });

    it('draws the y-axis with round ticks from zero and labels that fit', async () => {
      const ticks = await page.locator('[data-testid=chart-model] svg text.tick').evaluateAll((ts) =>
        ts.map((t) => ({ label: t.textContent!, x: (t as SVGTextElement).getBBox().x })),
      );
      const values = ticks.map((t) => Number(t.label.replace('$', '')));
      expect(ticks.every((t) => t.label.startsWith('$') && t.x >= 0)).toBe(true);
      expect(values[0]).toBe(0);
      const step = values[1];
      const mantissa = step / 10 ** Math.floor(Math.log10(step));
      expect([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9)).toBe(true);
      values.forEach((v, i) => expect(v).toBeCloseTo(i * step, 12));
      // The top tick covers the tallest day: the API's largest daily total.
      const report = await api('costs', { groupBy: 'day', from: NOV_1, to: NOV_6 });
      expect(values[values.length - 1]).toBeGreaterThanOrEqual(Math.max(...report.groups.map((g: { costUsd: string }) => Number(g.costUsd))));
    });

    it('sums up the range against the one before, as the API and the database count it', async () => {
      const summary = await api('insights/summary', { from: NOV_1, to: NOV_6 });
      const [row] = await sql(`SELECT trim_scale(sum(total_cost_usd))::text AS spend, count(*)::text AS traces, sum(call_count)::text AS calls FROM llm_traces WHERE started_at >= $1 AND started_at < $2`, [NOV_1, NOV_6]);
      expect(summary.current.spendUsd).toBe(row.spend);
      const value = (id: string) => page.locator(`[data-testid=summary-${id}] .value`);
      expect(await value('spend').locator('.money').getAttribute('title')).toBe(`$${row.spend}`);
      expect(await value('traces').textContent()).toBe(row.traces);
      expect(await value('calls').textContent()).toBe(row.calls);
      expect(await value('avg').locator('.money').getAttribute('title')).toBe(`$${summary.current.avgPerTraceUsd}`);
      expect(await value('p95').locator('.money').getAttribute('title')).toBe(`$${summary.current.p95PerTraceUsd}`);
      expect(await value('errors').textContent()).toBe('1.0%'); // 1 failed call of 98
      expect(await value('unpriced').textContent()).toBe('1');
      // Nothing ran in the 5 days before: every figure is new.
      expect(summary.previous.traces).toBe(0);
      expect(await texts('[data-testid=summary] [data-testid=delta]')).toEqual(Array(8).fill('new vs previous'));
    });

    it('lists the top users and features, each a link to its traces', async () => {
      for (const by of ['users', 'features'] as const) {
        const top = await api(`insights/top-${by}`, { from: NOV_1, to: NOV_6, limit: '10' });
        const rows = page.locator(`[data-testid=top-${by}] tbody tr`);
        expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')))).toEqual(top.rows.map((r: { key: string }) => r.key));
        expect(await titles(`[data-testid=top-${by}] [data-testid=spend]`)).toEqual(top.rows.map((r: { spendUsd: string }) => `$${r.spendUsd}`));
        expect(await titles(`[data-testid=top-${by}] [data-testid=avg]`)).toEqual(top.rows.map((r: { avgPerTraceUsd: string }) => `$${r.avgPerTraceUsd}`));
      }
      await page.click('[data-testid=top-users] tr[data-key=u-3] a');
      await settled('#/?from=2026-11-01&to=2026-11-06&user=u-3');
      const expected = all.filter((t) => t.tags.user_id === 'u-3').map((t) => t.traceId).sort();
      expect((await page.locator('[data-testid=traces-table] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-trace-id')))).sort()).toEqual(expected);
      await show('#/?from=2026-11-01&to=2026-11-06');
    });

    it('sorts by cost when the header is clicked', async () => {
      await page.click('th[data-sort=cost]');
      await settled('#/?from=2026-11-01&to=2026-11-06&sort=cost');
      const firstCosts = await page.locator('[data-testid=traces-table] tbody tr td.cost').evaluateAll((tds) => tds.slice(0, 3).map((td) => td.getAttribute('title')));
      expect(firstCosts).toEqual(['$0.0091', '$0.0091', '$0.0091']);
    });

    it('filters by feature', async () => {
      await page.fill('[data-testid=filters] input[name=feature]', 'invoice-pipeline');
      await page.click('[data-testid=filters] button[type=submit]');
      await settled('#/?from=2026-11-01&to=2026-11-06&feature=invoice-pipeline&sort=cost');
      expect(await page.locator('[data-testid=traces-table] tbody tr').count()).toBe(1);
      expect(await page.locator('[data-testid=traces-table] tbody tr').getAttribute('data-trace-id')).toBe(invoice.traceId);
    });

    it('shows a trace as a waterfall with a bar per span and call, the exact total and the error class', async () => {
      await page.click(`[data-trace-id="${invoice.traceId}"]`);
      await settled(`#/trace/${invoice.traceId}`);
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
      const postIndex = (await texts('[data-testid=waterfall] .wf-label')).findIndex((t) => t.includes('post'));
      expect(geometry[postIndex - 1]).toEqual({ left: 60, width: 30 }); // label rows include the axis row first
      expect(await page.locator('[data-testid=breakdown] tbody tr').count()).toBe(3);
      expect(await texts('[data-testid=calls] [data-testid=error-class]')).toEqual([' RateLimitError']);
      // The SDK's attempts per call, in the API's order: 1, unknown, 3 (the failed call retried twice).
      const detail = await api(`traces/${invoice.traceId}`);
      expect(detail.calls.map((c: { attempts: number | null }) => c.attempts)).toEqual([1, null, null, null, 3, null, null, null]);
      expect(await texts('[data-testid=calls] [data-testid=attempts]')).toEqual(['1', '–', '–', '–', '3 (2 retries)', '–', '–', '–']);
      expect(await page.locator('[data-testid=trace-started] time').textContent()).toBe('2026-11-02 05:00:00');
      await shot('dashboard-trace');
      expect(errors).toEqual([]);
      expect(offsite).toEqual([]);
    });

    it('folds and unfolds a span', async () => {
      const visible = () => page.locator('[data-testid=waterfall] .wf-row:not(.wf-axis)').evaluateAll((rows) => rows.filter((r) => !(r as HTMLElement).hidden).length);
      expect(await visible()).toBe(13);
      const classify = page.locator('[data-testid=waterfall] .wf-row.span', { hasText: 'classify 3 calls' });
      await classify.locator('button.toggle').click();
      // Under `classify`: its own call, `classify-retry` and that span's two calls.
      expect(await visible()).toBe(9);
      expect(await classify.locator('button.toggle').getAttribute('aria-expanded')).toBe('false');
      await classify.locator('button.toggle').click();
      expect(await visible()).toBe(13);
    });

    it("opens a call: status and error class, span, pricing, token buckets, tags, as the API gives them", async () => {
      const failed = invoice.calls[4];
      await page.click(`[data-testid=calls] tr[data-call-id="${failed.spanId}"] a`);
      await settled(`#/call/${failed.spanId}?time=${encodeURIComponent(failed.time.toISOString())}`);
      const detail = await api(`calls/${failed.spanId}`);
      expect(await page.locator('[data-testid=call-status]').textContent()).toBe(`error · ${detail.call.errorClass}`);
      expect(await page.locator('[data-testid=call-cost]').textContent()).toBe(`$${detail.call.costUsd}`);
      expect(await page.locator('[data-testid=call-span]').textContent()).toBe('classify-retry');
      expect(detail.call.attempts).toBe(3);
      expect(await page.locator('[data-testid=call-attempts]').textContent()).toBe('3 (2 retries)');
      expect(await page.locator('[data-testid=call-time] time').getAttribute('title')).toBe('2026-11-02T10:00:04.100Z');
      expect(await page.locator('[data-testid=call-pricing]').textContent()).toContain('a price of the prices option as test');
      expect(await page.locator('[data-testid=call-tags] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')))).toEqual(Object.keys(detail.call.tags));

      const rag = later[1].calls[0];
      await show(`#/call/${rag.spanId}?time=${encodeURIComponent(rag.time.toISOString())}`);
      const buckets = await page.locator('[data-testid=token-buckets] tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-bucket'), tr.querySelector('td.num')!.textContent]));
      expect(buckets).toEqual([
        ['inputUncached', '7,655'],
        ['cacheRead', '12,345'],
        ['output', '300'],
        ['reasoning', '0'],
      ]);
      const ragDetail = await api(`calls/${rag.spanId}`);
      expect(await texts('[data-testid=call-metadata] tbody td.mono')).toEqual(Object.values(ragDetail.call.metadata).map(String));
      expect(Object.keys(ragDetail.call.metadata).sort()).toEqual(['requestId', 'retries']);
      await shot('dashboard-call');
    });

    it('shows cost per run by feature with the runaway run marked, and the cache savings', async () => {
      await show('#/?from=2026-11-01&to=2026-11-11');
      const f = await api('insights/feature-costs', { from: NOV_1, to: NOV_11, limit: '20' });
      const chat = f.features.find((x: { feature: string }) => x.feature === 'chat');
      const row = page.locator('[data-testid=feature-costs] tr[data-feature=chat]');
      expect(await row.locator('[data-testid=p50]').getAttribute('title')).toBe(`$${chat.p50Usd}`);
      expect(await row.locator('[data-testid=p95]').getAttribute('title')).toBe(`$${chat.p95Usd}`);
      expect(await row.locator('[data-testid=max]').getAttribute('title')).toBe('$0.5');
      expect(await row.locator('[data-testid=outliers]').textContent()).toBe('1');
      const [db95] = await sql(`SELECT trim_scale(percentile_disc(0.95) WITHIN GROUP (ORDER BY total_cost_usd))::text AS p95 FROM llm_traces WHERE tags->>'feature' = 'chat' AND started_at >= $1 AND started_at < $2`, [NOV_1, NOV_11]);
      expect(chat.p95Usd).toBe(db95.p95);
      expect(await page.locator('[data-testid=outliers] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-trace-id')))).toEqual([later[0].traceId]);
      expect(await page.locator('[data-testid=outliers] [data-testid=cost]').getAttribute('title')).toBe('$0.5');
      expect(await page.locator('[data-testid=cache-saved]').getAttribute('title')).toBe(`$${CACHE_SAVED}`);
      await shot('dashboard-overview');
    });

    it('exports the traces list and the cost report as CSV with exact amounts', async () => {
      const [traces] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-traces]')]);
      expect(traces.suggestedFilename()).toBe('kostrack-traces-2026-11-01_2026-11-11.csv');
      const lines = readFileSync((await traces.path())!, 'utf8').trimEnd().split('\r\n');
      expect(lines[0]).toBe('trace_id,name,started_at,ended_at,duration_ms,feature,user_id,project,services,status,calls,unpriced_calls,error_calls,input_tokens,output_tokens,cost_usd');
      expect(lines.length).toBe(1 + 64);
      const fromDb = await sql<{ trace_id: string; cost: string }>(`SELECT trace_id, trim_scale(total_cost_usd)::text AS cost FROM llm_traces WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at DESC, trace_id DESC`, [NOV_1, NOV_11]);
      expect(lines.slice(1).map((l) => [l.split(',')[0], l.split(',').at(-1)])).toEqual(fromDb.map((r) => [r.trace_id, r.cost]));

      const [costs] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-costs]')]);
      const report = await api('costs', { from: NOV_1, to: NOV_11, groupBy: 'day', series: 'model' });
      const expected = [
        'day_utc,provider,model,cost_usd,calls,unpriced_calls,input_tokens,output_tokens',
        ...report.groups.map((g: Record<string, string>) => [g.bucket, g.seriesProvider, g.series, g.costUsd, g.calls, g.unpricedCalls, g.inputTokens, g.outputTokens].join(',')),
      ];
      expect(readFileSync((await costs.path())!, 'utf8')).toBe(expected.join('\r\n') + '\r\n');
    });

    it('gives each figure its change against the period before', async () => {
      await show('#/?from=2026-11-06&to=2026-11-11');
      const summary = await api('insights/summary', { from: NOV_6, to: NOV_11 });
      expect([summary.previous.traces, summary.current.traces]).toEqual([61, 3]);
      const delta = (id: string) => page.locator(`[data-testid=summary-${id}] [data-testid=delta]`);
      // 3 traces against 61: (3 − 61) / 61 = −95.08 %, volume, so no colour; spend rose: red.
      expect(await delta('traces').textContent()).toBe('−95.1% vs previous');
      expect(await delta('traces').getAttribute('class')).toBe('delta');
      const pctOf = (a: string, b: string) => ((Number(a) - Number(b)) / Number(b)) * 100;
      expect(await delta('spend').textContent()).toBe(`+${pctOf(summary.current.spendUsd, summary.previous.spendUsd).toFixed(1)}% vs previous`);
      expect(await delta('spend').getAttribute('class')).toBe('delta worse');
      expect(await delta('spend').getAttribute('title')).toBe(`previous period: $${summary.previous.spendUsd}`);
    });

    it('switches to a preset range', async () => {
      await page.click('[data-testid=filters] button[data-range="24h"]');
      await settled('#/?range=24h');
      expect(await page.locator('button.preset.active').getAttribute('data-range')).toBe('24h');
      // The summary's range is the last 24 hours, ending about now.
      const [from, to] = await page.locator('main.view p.small time').evaluateAll((ts) => ts.slice(0, 2).map((t) => Date.parse(t.getAttribute('datetime')!)));
      expect(to - from).toBe(86_400_000);
      expect(Math.abs(Date.now() - to)).toBeLessThan(60_000);
    });

    it('returns to the list from a trace', async () => {
      await show('#/?from=2026-11-01&to=2026-11-06&feature=invoice-pipeline');
      await page.click(`[data-trace-id="${invoice.traceId}"] a`);
      await settled(`#/trace/${invoice.traceId}`);
      await page.click('a.back');
      await settled('#/?from=2026-11-01&to=2026-11-06&feature=invoice-pipeline');
      expect(await page.locator('[data-testid=traces-table] tbody tr').count()).toBe(1);
    });

    it('shows a $0 trace without cost shares', async () => {
      await show(`#/trace/${later[2].traceId}`);
      expect(await page.locator('[data-testid=trace-total]').textContent()).toBe('$0');
      expect(await texts('[data-testid=breakdown] td.share')).toEqual(['–', '–']);
    });
  });

  describe.skipIf(!hasChromium)(`models and prices on ${platform} in headless Chromium`, () => {
    it('lists the unpriced models and the overrides, and stores a new price', async () => {
      await show('#/models?from=2026-11-01&to=2026-12-01');
      const unpriced = await api('models/unpriced', { from: NOV_1, to: '2026-12-01T05:00:00.000Z' });
      const db = await sql<{ m: string; n: string }>(`SELECT provider || '/' || model AS m, count(*)::text AS n FROM llm_calls WHERE pricing_source = 'unpriced' GROUP BY 1 ORDER BY 2 DESC, 1`);
      const rows = page.locator('[data-testid=unpriced-models] tbody tr');
      const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-model'), tr.querySelector('[data-testid=calls]')!.textContent]));
      expect(shown).toEqual(db.map((r) => [r.m, r.n]));
      expect(shown).toEqual(unpriced.models.map((m: { provider: string; model: string; calls: number }) => [`${m.provider}/${m.model}`, String(m.calls)]));
      expect(await page.locator('[data-testid=prices] tr[data-source=option][data-model="openai/acme-cached-1"] [data-testid=rates]').textContent()).toBe('input 2 · output 8 · cacheRead 0.5');

      await rows.filter({ hasText: 'mystery-1' }).locator('button').click();
      expect(await page.inputValue('[data-testid=price-form] input[name=model]')).toBe('mystery-1');
      await page.fill('[data-testid=price-form] input[name=input]', '1.25');
      await page.fill('[data-testid=price-form] input[name=output]', '5');
      await page.click('[data-testid=price-form] button[type=submit]');
      await page.waitForSelector('[data-testid=prices] tr[data-source=stored][data-model="openai/mystery-1"]');
      const [stored] = await sql<{ id: string; input: string; output: string }>(`SELECT id::text, trim_scale(input_per_mtok)::text AS input, trim_scale(output_per_mtok)::text AS output FROM llm_prices WHERE model = 'mystery-1'`);
      expect(stored).toMatchObject({ input: '1.25', output: '5' });
      expect(await page.locator('[data-testid=price-message]').textContent()).toBe(`Stored price #${stored.id} for openai/mystery-1.`);
      await shot('dashboard-models');
      expect(errors).toEqual([]);
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
      // A call the budget refused an hour ago, as the gate records it (status blocked, the refusal in metadata).
      const refused = { ...later[0].calls[0], spanId: '0000000d-0000-4000-8000-000000000001', traceId: null, parentSpanId: null, time: new Date(Date.now() - 3_600_000), status: 'blocked' as const, costUsd: 0n, latencyMs: 0, inputTokens: 0, outputTokens: 0, tokenBreakdown: {}, tags: { user_id: 'ann' },
        metadata: { budget: { scope: 'user_id', scopeValue: 'ann', period: 'day', spanName: 'ui-user-day', limit: '0.01', spent: '0.0090405', reserved: '0.0005', estimate: '0.00301545', remaining: '0.0004595' } } };
      await seed(app, [], [refused]);
      await page.click('[data-testid=nav-budgets]');
      await settled('#/budgets');
      const blocked = await api('budgets/blocked', { limit: '50' });
      expect(blocked.items.map((c: { spanId: string }) => c.spanId)).toEqual([refused.spanId]);
      const refusal = page.locator(`[data-testid=blocked-calls] tr[data-span-id="${refused.spanId}"] td`);
      expect((await refusal.allTextContents()).slice(1, 4)).toEqual(['ui-user-day', 'ann', 'anthropic/claude-haiku-4-5']);
      expect(await titles(`[data-testid=blocked-calls] tr[data-span-id="${refused.spanId}"] .money`)).toEqual(['$0.00301545', '$0.0004595']);
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

  describe.skipIf(!hasChromium)(`the dashboard at 390 px on ${platform}`, () => {
    it('fits a phone: no card overflows, the timeline keeps its width', async () => {
      const phone = await openPage(390, 844);
      try {
        await phone.goto(`${origin}/kostrack/#/?from=2026-11-01&to=2026-11-11`);
        await phone.fill('[data-testid=key-form] input', API_KEY);
        await phone.click('[data-testid=key-form] button');
        for (const hash of ['#/?from=2026-11-01&to=2026-11-11', `#/trace/${invoice.traceId}`, `#/call/${invoice.calls[4].spanId}`, '#/models', '#/budgets']) {
          if (hash !== '#/?from=2026-11-01&to=2026-11-11') await show(hash, phone);
          else await settled(hash, phone);
          // The page never scrolls sideways; wide tables scroll inside their own box.
          const overflow = await phone.evaluate(() => ({
            page: document.documentElement.scrollWidth,
            cards: Array.from(document.querySelectorAll('.card')).filter((c) => c.scrollWidth > c.clientWidth + 1).length,
          }));
          expect(overflow, hash).toEqual({ page: 390, cards: 0 });
          const name = hash.startsWith('#/trace') ? 'trace' : hash.startsWith('#/call') ? 'call' : hash.startsWith('#/models') ? 'models' : hash.startsWith('#/budgets') ? 'budgets' : 'overview';
          if (name === 'trace') {
            // The bars get a line of their own: the trace's bar spans nearly the whole card.
            const width = await phone.locator('[data-testid=waterfall] .wf-bar[data-kind=trace]').evaluate((b) => b.getBoundingClientRect().width);
            expect(width).toBeGreaterThan(300);
          }
          await shot(`dashboard-390-${name}`, phone);
        }
        expect(errors).toEqual([]);
        expect(offsite).toEqual([]);
      } finally {
        await phone.context().close();
      }
    });
  });
}
