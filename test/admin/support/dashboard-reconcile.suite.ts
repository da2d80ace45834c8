import { existsSync, mkdirSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KostrackStorageLifecycle } from '../../../lib/nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../../../lib/nest/llm-clients.providers.js';
import type { PriceBook } from '../../../lib/pricing/price-book.js';
import { anthropicAdminRoutes, anthropicAdminScript } from '../../../loopback/anthropic-admin.loopback.js';
import { LoopbackServer } from '../../../loopback/loopback.server.js';
import { openAiAdminRoutes, openAiAdminScript } from '../../../loopback/openai-admin.loopback.js';
import { billAnthropic, billOpenAi, recordWeek, WEEK } from '../../reconcile/support/week.js';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, startAdminApp } from './admin.app.js';

const SCREENSHOTS = 'test-output/screenshots';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As in dashboard.suite.ts: no browser on a developer's machine skips loudly; CI always runs.
const hasChromium = existsSync(CHROMIUM) || Boolean(process.env.CI);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
/** New York: the overview's local dates are 04:00Z midnights, so its range covers one more UTC day. */
const ZONE = 'America/New_York';

interface Totals {
  trackedUsd: string;
  billedUsd: string;
  untrackedUsd: string;
  overTrackedUsd: string;
  coverage: string | null;
  retriedCalls: number;
  extraAttempts: number;
}
type Report = Totals & { notComparedUsd: string; providers: (Totals & { provider: string; daysImported: number; daysNotImported: string[] })[]; gaps: (Totals & { day: string; provider: string; model: string | null; gapUsd: string; calls: number })[] };

/**
 * The reconciliation view in headless Chromium on `platform`: the issue's week (test/reconcile/
 * support/week.ts) tracked through the app, the providers' figures imported through the admin
 * API from the loopback OpenAI and Anthropic admin servers, and every figure on screen compared
 * with `GET reconciliation` (whose own sums test/reconcile checks against the week's calls).
 */
export function dashboardReconcileSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_ui_rc_${platform}`);
  const server = new LoopbackServer();
  const openai = openAiAdminScript();
  const anthropic = anthropicAdminScript();
  let app: INestApplication;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const errors: string[] = [];
  const offsite: string[] = [];
  const shot = (name: string, p: Page = page) => p.screenshot({ path: `${SCREENSHOTS}/${name}.${platform}.png`, fullPage: true });

  async function call<T = any>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${origin}/kostrack/${path}`, {
      method,
      headers: { 'x-kostrack-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }
  const report = (threshold: string) => call<Report>('GET', `reconciliation?from=${WEEK.from}&to=${WEEK.to}&threshold=${threshold}`);

  async function openPage(width: number, height: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height }, timezoneId: ZONE, locale: 'en-US' });
    const opened = await context.newPage();
    opened.setDefaultTimeout(10_000);
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
  /** Waits for the view of `hash` itself to have finished rendering. */
  const settled = (hash: string, p: Page = page) =>
    p.waitForFunction((want) => {
      const m = document.querySelector('main.view');
      return location.hash === want && m?.getAttribute('data-hash') === want && m.getAttribute('data-ready') === 'true';
    }, hash);
  async function show(hash: string, p: Page = page): Promise<void> {
    await p.evaluate((h) => (location.hash = h), hash);
    await settled(hash, p);
  }
  async function signIn(p: Page, hash: string): Promise<void> {
    await p.goto(`${origin}/kostrack/${hash}`);
    await p.fill('[data-testid=key-form] input', API_KEY);
    await p.click('[data-testid=key-form] button');
    await settled(hash, p);
  }
  const title = (selector: string, p: Page = page) => p.locator(selector).getAttribute('title');
  const pct = (coverage: string) => `${(Number(coverage) * 100).toFixed(2)}%`;

  beforeAll(async () => {
    if (!hasChromium) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await server.start();
    openAiAdminRoutes(server, openai);
    anthropicAdminRoutes(server, anthropic);
    billOpenAi(openai);
    billAnthropic(anthropic);
    app = await startAdminApp(
      db,
      { admin: { enabled: true, apiKey: API_KEY, providerCosts: { openai: { adminKey: openai.adminKey, baseUrl: `${server.url}/v1` }, anthropic: { adminKey: anthropic.adminKey, baseUrl: server.url } } } },
      null,
      platform,
    );
    recordWeek(app.get<PriceBook>(KOSTRACK_PRICE_BOOK));
    await app.get(KostrackStorageLifecycle).current!.writer.drain();
    await app.listen(0, '127.0.0.1');
    origin = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await openPage(1440, 1000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await server.close();
  });

  describe.skipIf(!hasChromium)(`the reconciliation view on ${platform} in headless Chromium`, () => {
    it('says how to import when no provider figures are there, with the tracked spend left uncompared', async () => {
      const hash = `#/reconciliation?from=${WEEK.from}&to=${WEEK.to}`;
      await signIn(page, hash);
      const r = await report('0.01');
      expect(r.providers).toEqual([]);
      // The whole tracked week: OpenAI 0.1101, Anthropic 0.07.
      expect(r.notComparedUsd).toBe('0.1801');
      const empty = page.locator('[data-testid=reconcile-empty]');
      expect(await empty.locator('pre').first().textContent()).toContain(`kostrack import-costs --provider openai --from ${WEEK.from} --to ${WEEK.to}`);
      expect(await empty.locator('pre').nth(1).textContent()).toBe(`POST /kostrack/provider-costs/import\n{"provider":"openai","from":"${WEEK.from}","to":"${WEEK.to}"}`);
      expect(await title('[data-testid=reconcile-not-compared] .money')).toBe('$0.1801');
      expect(await page.locator('[data-testid=reconcile-gaps]').count()).toBe(0);
      await shot('dashboard-reconcile-empty');
    });

    it('links from the overview to the UTC days covering its range', async () => {
      await show(`#/?from=${WEEK.from}&to=${WEEK.to}`);
      // Local (New York) midnights: 2026-08-03T04:00Z to 2026-08-10T04:00Z touch the UTC days up to 08-10.
      expect(await page.locator('[data-testid=nav-reconciliation]').getAttribute('href')).toBe('#/reconciliation?from=2026-08-03&to=2026-08-11');
    });

    it('shows coverage, untracked and not-compared amounts and the gaps, as the API gives them after an import', async () => {
      for (const provider of ['openai', 'anthropic']) {
        const imported = await call<{ rows: number; billedUsd: string }>('POST', 'provider-costs/import', { provider, ...WEEK });
        expect(imported).toMatchObject(provider === 'openai' ? { rows: 14, billedUsd: '0.1218' } : { rows: 7, billedUsd: '0.0735' });
      }
      const hash = `#/reconciliation?from=${WEEK.from}&to=${WEEK.to}&threshold=0.0005`;
      await show(hash);
      const r = await report('0.0005');
      // The week's own figures: billed 0.1218 + 0.0735; tracked all but one gpt-4o and one haiku call, gpt-4o-mini at a price
      // $0.00015 a call too low; the SDK retried one mini call (3 attempts) and one haiku call (2).
      expect(r).toMatchObject({ billedUsd: '0.1953', trackedUsd: '0.1801', untrackedUsd: '0.0152', overTrackedUsd: '0', notComparedUsd: '0', retriedCalls: 2, extraAttempts: 3 });
      expect(r.coverage).toBe('0.922171');

      const stat = (id: string) => page.locator(`[data-testid=reconcile-${id}] .value`);
      expect(await stat('coverage').textContent()).toBe('92.22%');
      expect(await stat('coverage').locator('span').getAttribute('title')).toBe(`${r.coverage} (tracked ÷ billed)`);
      for (const [id, value] of [['tracked', r.trackedUsd], ['billed', r.billedUsd], ['untracked', r.untrackedUsd], ['over', r.overTrackedUsd], ['not-compared', r.notComparedUsd]])
        expect(await stat(id).locator('.money').getAttribute('title'), id).toBe(`$${value}`);
      expect(await stat('retries').textContent()).toBe('2 / +3');

      const providers = await page.locator('[data-testid=reconcile-providers] tbody tr').evaluateAll((trs) =>
        trs.map((tr) => {
          const t = (id: string) => tr.querySelector(`[data-testid=${id}]`)!;
          return { provider: tr.getAttribute('data-provider'), coverage: t('coverage').getAttribute('title'), shown: t('coverage').textContent, tracked: t('tracked').getAttribute('title'), billed: t('billed').getAttribute('title'), untracked: t('untracked').getAttribute('title'), days: t('days').textContent, retries: t('retries').textContent };
        }),
      );
      expect(providers).toEqual(
        r.providers.map((p) => ({ provider: p.provider, coverage: `${p.coverage} (tracked ÷ billed)`, shown: pct(p.coverage!), tracked: `$${p.trackedUsd}`, billed: `$${p.billedUsd}`, untracked: `$${p.untrackedUsd}`, days: `${p.daysImported} of 7`, retries: p.retriedCalls ? `${p.retriedCalls} / +${p.extraAttempts}` : '0' })),
      );
      expect(providers.map((p) => [p.provider, p.shown, p.retries])).toEqual([['anthropic', '95.24%', '1 / +1'], ['openai', '90.39%', '1 / +2']]);

      const gaps = await page.locator('[data-testid=reconcile-gaps] tbody tr').evaluateAll((trs) =>
        trs.map((tr) => {
          const t = (id: string) => tr.querySelector(`[data-testid=${id}]`)!;
          return [tr.getAttribute('data-day'), tr.getAttribute('data-provider'), tr.getAttribute('data-model'), t('tracked').getAttribute('title'), t('billed').getAttribute('title'), t('gap').getAttribute('title'), t('calls').textContent, t('retries').textContent];
        }),
      );
      expect(gaps).toEqual(r.gaps.map((g) => [g.day, g.provider, g.model ?? '', `$${g.trackedUsd}`, `$${g.billedUsd}`, `$${g.gapUsd}`, String(g.calls), g.retriedCalls ? `${g.retriedCalls} / +${g.extraAttempts}` : '0']));
      // Every day's gpt-4o-mini (the wrong price: 4 × $0.00015), the untracked haiku call on 08-05 (its SDK retried once), the untracked gpt-4o call on 08-08.
      expect(gaps.length).toBe(9);
      expect(gaps.filter((g) => g[2] === 'gpt-4o-mini').map((g) => g[5])).toEqual(Array(7).fill('$0.0006'));
      expect(gaps.find((g) => g[0] === '2026-08-03' && g[2] === 'gpt-4o-mini')![7]).toBe('1 / +2');
      expect(gaps.filter((g) => g[2] !== 'gpt-4o-mini')).toEqual([
        ['2026-08-05', 'anthropic', 'claude-haiku-4-5', '$0.007', '$0.0105', '$0.0035', '2', '1 / +1'],
        ['2026-08-08', 'openai', 'gpt-4o', '$0.0075', '$0.015', '$0.0075', '1', '0'],
      ]);
      await shot('dashboard-reconcile');
      expect(errors).toEqual([]);
      expect(offsite).toEqual([]);
    });

    it('takes a new threshold from its form', async () => {
      await page.fill('[data-testid=reconcile-range] input[name=threshold]', '0.001');
      await page.click('[data-testid=reconcile-range] button[type=submit]');
      const hash = `#/reconciliation?from=${WEEK.from}&to=${WEEK.to}&threshold=0.001`;
      await settled(hash);
      const r = await report('0.001');
      expect(r.gaps.map((g) => `${g.day} ${g.model}`)).toEqual(['2026-08-05 claude-haiku-4-5', '2026-08-08 gpt-4o']);
      expect(await page.locator('[data-testid=reconcile-gaps] tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-day')} ${tr.getAttribute('data-model')}`))).toEqual(r.gaps.map((g) => `${g.day} ${g.model}`));
    });

    it('fits a phone at 390 px: no card overflows', async () => {
      const phone = await openPage(390, 844);
      try {
        const hash = `#/reconciliation?from=${WEEK.from}&to=${WEEK.to}&threshold=0.0005`;
        await signIn(phone, hash);
        const overflow = await phone.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          cards: Array.from(document.querySelectorAll('.card')).filter((c) => c.scrollWidth > c.clientWidth + 1).length,
        }));
        expect(overflow).toEqual({ page: 390, cards: 0 });
        expect(await phone.locator('[data-testid=reconcile-gaps] tbody tr').count()).toBe(9);
        await shot('dashboard-390-reconcile', phone);
        expect(errors).toEqual([]);
      } finally {
        await phone.context().close();
      }
    });
  });
}
