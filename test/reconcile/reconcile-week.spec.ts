import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureKostrack } from '../../lib/core/configure.js';
import { addSink } from '../../lib/core/sinks.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { importProviderCosts } from '../../lib/reconcile/provider-costs.import.js';
import type { ReconcileReport } from '../../lib/reconcile/reconcile.options.js';
import { reconcile } from '../../lib/reconcile/reconcile.report.js';
import { reprice } from '../../lib/storage/reprice.job.js';
import { repricingPriceBook } from '../../lib/storage/reprice.price-book.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { anthropicAdminRoutes, anthropicAdminScript } from '../../loopback/anthropic-admin.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { openAiAdminRoutes, openAiAdminScript } from '../../loopback/openai-admin.loopback.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { useTestDatabase } from '../support/database.js';
import { billAnthropic, billedState, billOpenAi, DAYS, recordWeek, TRUE_MINI, WEEK } from './support/week.js';

/**
 * Issue 15, reconcile: a week in which two calls were not tracked and one price was wrong. The
 * providers' loopback admin APIs (paginated) bill every call at the right price; the report names
 * exactly the days, models and amounts; after re-pricing, the price gap closes and the untracked
 * gap remains.
 */

const db = useTestDatabase('rc_week');
let storage: TelemetryStorage;
let detach: () => void;
const server = new LoopbackServer();
const openai = openAiAdminScript();
const anthropic = anthropicAdminScript();
const target = () => ({ pool: storage.pool, schema: storage.schema });
// The SDK's own retries (RETRIED): one gpt-4o-mini call on 08-03 took 3 attempts, one haiku call on 08-05 took 2.
const NONE = { retriedCalls: 0, extraAttempts: 0 };
const mini = (day: string) => ({
  day, provider: 'openai', model: 'gpt-4o-mini', trackedUsd: '0.0018', billedUsd: '0.0024', gapUsd: '0.0006', coverage: '0.75', calls: 4, unpricedCalls: 0,
  ...(day === '2026-08-03' ? { retriedCalls: 1, extraAttempts: 2 } : NONE),
});
const haiku05 = { day: '2026-08-05', provider: 'anthropic', model: 'claude-haiku-4-5', trackedUsd: '0.007', billedUsd: '0.0105', gapUsd: '0.0035', coverage: '0.666667', calls: 2, unpricedCalls: 0, retriedCalls: 1, extraAttempts: 1 };
const gpt4o08 = { day: '2026-08-08', provider: 'openai', model: 'gpt-4o', trackedUsd: '0.0075', billedUsd: '0.015', gapUsd: '0.0075', coverage: '0.5', calls: 1, unpricedCalls: 0, ...NONE };

beforeAll(async () => {
  configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  detach = addSink(storage.writer);
  recordWeek(new PriceBook());
  await storage.writer.drain();
  await server.start();
  openAiAdminRoutes(server, openai);
  anthropicAdminRoutes(server, anthropic);
  billOpenAi(openai);
  billAnthropic(anthropic);
});
afterAll(async () => {
  detach?.();
  configureKostrack({ serviceId: 'default', tags: {} });
  await storage?.close();
  await server.close();
});

describe('a week with untracked calls and a wrong price', () => {
  let before: ReconcileReport;

  it('imports both providers through their paginated admin APIs', async () => {
    const o = await importProviderCosts(target(), { provider: 'openai', ...WEEK, adminKey: openai.adminKey, baseUrl: `${server.url}/v1`, pageSize: 2 });
    expect(o).toMatchObject({ provider: 'openai', from: WEEK.from, to: WEEK.to, days: DAYS, missingDays: [], rows: 14, billedUsd: '0.1218', pages: 8 });
    const a = await importProviderCosts(target(), { provider: 'anthropic', ...WEEK, adminKey: anthropic.adminKey, baseUrl: server.url, pageSize: 3 });
    expect(a).toMatchObject({ provider: 'anthropic', days: DAYS, rows: 7, billedUsd: '0.0735', pages: 6 });
    // The admin keys went where each API wants them; page cursors were followed.
    const costs = server.requests.filter((r) => r.path.startsWith('/v1/organization/costs'));
    expect(costs.map((r) => new URL(r.path, 'http://x').searchParams.get('page') !== null)).toEqual([false, true, true, true]);
    expect(costs[0].headers.authorization).toBe(`Bearer ${openai.adminKey}`);
    expect(new URL(costs[0].path, 'http://x').searchParams.getAll('group_by[]')).toEqual(['line_item']);
    const report = server.requests.find((r) => r.path.startsWith('/v1/organizations/cost_report'))!;
    expect(report.headers['x-api-key']).toBe(anthropic.adminKey);
    expect(report.headers['anthropic-version']).toBe('2023-06-01');
    // One row per day and model, the line items summed, tokens from the usage reports.
    const state = await billedState(db.pool, db.schema);
    expect(state.costs.filter((r) => r.includes('2026-08-05'))).toEqual([
      'anthropic 2026-08-05 claude-haiku-4-5-20251001 0.0105 USD 3000 1500 0 - anthropic:organizations/cost_report',
      'openai 2026-08-05 gpt-4o-2024-08-06 0.015 USD 2000 1000 0 2 openai:organization/costs',
      'openai 2026-08-05 gpt-4o-mini-2024-07-18 0.0024 USD 4000 2000 0 4 openai:organization/costs',
    ]);
    expect(state.days).toHaveLength(14);
  });

  it('names exactly the days, models and amounts: the wrong price on every day, the two untracked calls', async () => {
    before = await reconcile(target(), { ...WEEK, threshold: '0.0001' });
    expect(before.gaps).toEqual([
      mini('2026-08-03'),
      mini('2026-08-04'),
      haiku05,
      mini('2026-08-05'),
      mini('2026-08-06'),
      mini('2026-08-07'),
      gpt4o08,
      mini('2026-08-08'),
      mini('2026-08-09'),
    ]);
    expect(before).toMatchObject({
      from: WEEK.from,
      to: WEEK.to,
      threshold: '0.0001',
      trackedUsd: '0.1801',
      billedUsd: '0.1953',
      gapUsd: '0.0152',
      coverage: '0.922171',
      untrackedUsd: '0.0152',
      overTrackedUsd: '0',
      notComparedUsd: '0',
      retriedCalls: 2,
      extraAttempts: 3,
    });
    expect(before.providers).toEqual([
      { provider: 'anthropic', trackedUsd: '0.07', billedUsd: '0.0735', gapUsd: '0.0035', coverage: '0.952381', untrackedUsd: '0.0035', overTrackedUsd: '0', retriedCalls: 1, extraAttempts: 1, daysImported: 7, daysNotImported: [] },
      { provider: 'openai', trackedUsd: '0.1101', billedUsd: '0.1218', gapUsd: '0.0117', coverage: '0.903941', untrackedUsd: '0.0117', overTrackedUsd: '0', retriedCalls: 1, extraAttempts: 2, daysImported: 7, daysNotImported: [] },
    ]);
    // The haiku gap on 08-05 is one call's price, and that day the SDK retried one haiku call once:
    // "billed more than tracked, and the SDK retried 1 time" is what the row says.
    expect(before.gaps.find((g) => g.provider === 'anthropic')).toMatchObject({ gapUsd: '0.0035', calls: 2, retriedCalls: 1, extraAttempts: 1 });
  });

  it('a threshold above the price gap leaves the untracked calls', async () => {
    const r = await reconcile(target(), { ...WEEK, threshold: '0.0006' });
    expect(r.gaps).toEqual([haiku05, gpt4o08]);
  });

  it('after re-pricing with the corrected price, the price gap closes and the untracked gap remains', async () => {
    await db.pool.query(`INSERT INTO "${db.schema}".llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from, note) VALUES ('openai', 'gpt-4o-mini', $1, $2, '2026-01-01', 'negotiated')`, [
      TRUE_MINI.input,
      TRUE_MINI.output,
    ]);
    const run = await reprice({ ...target(), priceBook: await repricingPriceBook(storage.pool, storage.schema) }, { from: WEEK.from, to: WEEK.to });
    expect(run).toMatchObject({ status: 'done', rowsChanged: 28, deltaUsd: '0.0042' });
    const after = await reconcile(target(), { ...WEEK, threshold: '0' });
    expect(after.gaps).toEqual([
      { ...haiku05, coverage: '0.666667' },
      { ...gpt4o08 },
    ]);
    // Re-pricing changes costs, not what the SDK did.
    expect(after).toMatchObject({ trackedUsd: '0.1843', billedUsd: '0.1953', gapUsd: '0.011', coverage: '0.943676', untrackedUsd: '0.011', overTrackedUsd: '0', retriedCalls: 2, extraAttempts: 3 });
    expect(after.providers.map((p) => [p.provider, p.trackedUsd, p.billedUsd, p.coverage, p.untrackedUsd])).toEqual([
      ['anthropic', '0.07', '0.0735', '0.952381', '0.0035'],
      ['openai', '0.1143', '0.1218', '0.938424', '0.0075'],
    ]);
  });

  it('the SQL view says the same', async () => {
    const { rows } = await db.pool.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, provider, model, tracked_usd::text, billed_usd::text, gap_usd::text, coverage::text, billed_input_tokens::text
         FROM "${db.schema}".llm_reconciliation WHERE gap_usd <> 0 ORDER BY day, provider, model`,
    );
    expect(rows).toEqual([
      { day: '2026-08-05', provider: 'anthropic', model: 'claude-haiku-4-5', tracked_usd: '0.007', billed_usd: '0.0105', gap_usd: '0.0035', coverage: '0.666667', billed_input_tokens: '3000' },
      { day: '2026-08-08', provider: 'openai', model: 'gpt-4o', tracked_usd: '0.0075', billed_usd: '0.015', gap_usd: '0.0075', coverage: '0.5', billed_input_tokens: '2000' },
    ]);
    const total = await db.pool.query(`SELECT sum(billed_usd)::text AS billed, sum(tracked_usd)::text AS tracked, count(*)::int AS n FROM "${db.schema}".llm_reconciliation`);
    expect(total.rows).toEqual([{ billed: '0.1953', tracked: '0.1843', n: 21 }]);
  });

  it('tracked spend on days no figures were imported for is not compared, and said so', async () => {
    const r = await reconcile(target(), { from: '2026-08-01', to: '2026-08-05', threshold: '0' });
    expect(r.providers.map((p) => [p.provider, p.daysImported, p.daysNotImported])).toEqual([
      ['anthropic', 2, ['2026-08-01', '2026-08-02']],
      ['openai', 2, ['2026-08-01', '2026-08-02']],
    ]);
    expect(r).toMatchObject({ billedUsd: '0.0558', trackedUsd: '0.0558', gaps: [], notComparedUsd: '0', retriedCalls: 1, extraAttempts: 2 });
    // A provider-day without its import record (here removed by hand) is left out on both sides.
    await db.pool.query(`DELETE FROM "${db.schema}".llm_provider_cost_days WHERE provider = 'anthropic' AND day = '2026-08-04'`);
    const partly = await reconcile(target(), { from: '2026-08-01', to: '2026-08-05', threshold: '0' });
    expect(partly).toMatchObject({ billedUsd: '0.0453', trackedUsd: '0.0453', gaps: [], notComparedUsd: '0.0105', retriedCalls: 1, extraAttempts: 2 });
    expect(partly.providers[0]).toMatchObject({ provider: 'anthropic', daysImported: 1, daysNotImported: ['2026-08-01', '2026-08-02', '2026-08-04'] });
  });
});
