import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd, usdToString, type Usd } from '../../../lib/core/money.js';
import { costRangeSource } from '../../../lib/admin/cost-range.source.js';
import { SqlParams } from '../../../lib/admin/sql.params.js';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, seed, startAdminApp } from './admin.app.js';
import { bulkTraces, invoiceTrace, totalOf, type FixtureTrace } from './admin.fixture.js';
import { CACHE_PRICES, CACHE_SAVED, CACHED_TOKENS, laterTraces } from './insights.fixture.js';

/** Ascending exact costs; percentile_disc(p) is the first value whose rank reaches p × n. */
function pct(costs: Usd[], p: number): string {
  const sorted = [...costs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.length ? usdToString(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]) : '0';
}
const avg = (total: Usd, n: number) => (n ? usdToString((total * 2n + BigInt(n)) / (2n * BigInt(n))) : '0');
const sum = (xs: Usd[]) => xs.reduce((a, b) => a + b, 0n);

/** What the summary must say of `traces`, computed here from the fixture objects, not by SQL. */
function figures(traces: FixtureTrace[], from: string, to: string) {
  const costs = traces.map(totalOf);
  const calls = traces.flatMap((t) => t.calls);
  return {
    from,
    to,
    spendUsd: usdToString(sum(costs)),
    traces: traces.length,
    calls: calls.length,
    avgPerTraceUsd: avg(sum(costs), traces.length),
    p95PerTraceUsd: pct(costs, 0.95),
    inputTokens: calls.reduce((a, c) => a + c.inputTokens, 0),
    outputTokens: calls.reduce((a, c) => a + c.outputTokens, 0),
    cachedTokens: calls.reduce((a, c) => a + c.cachedTokens, 0),
    errorCalls: calls.filter((c) => c.status === 'error').length,
    unpricedCalls: calls.filter((c) => c.costUsd === null).length,
  };
}

/** Insight routes (summary, top users and features, cost per run, cache savings, one call) on `platform`. */
export function adminInsightsSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_insights_${platform}`);
  let app: INestApplication;
  const invoice = invoiceTrace();
  const early = [invoice, ...bulkTraces()];
  const later = laterTraces();
  const all = [...early, ...later];
  const inRange = (from: string, to: string) => all.filter((t) => t.start >= new Date(from) && t.start < new Date(to));

  const get = (path: string, query: Record<string, string | string[]> = {}) =>
    request(app.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).query(query);

  beforeAll(async () => {
    app = await startAdminApp(db, { prices: CACHE_PRICES }, null, platform);
    await seed(
      app,
      all.flatMap((t) => t.spans),
      all.flatMap((t) => t.calls),
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  describe('GET insights/summary', () => {
    it('gives the range and the one before it, exactly', async () => {
      const res = await get('insights/summary', { from: '2026-11-06T00:00:00Z', to: '2026-11-11T00:00:00Z' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        current: figures(later, '2026-11-06T00:00:00.000Z', '2026-11-11T00:00:00.000Z'),
        previous: figures(early, '2026-11-01T00:00:00.000Z', '2026-11-06T00:00:00.000Z'),
      });
      expect(res.body.previous).toMatchObject({ traces: 61, calls: 98, errorCalls: 1, unpricedCalls: 1 });
      // And the database agrees: the trace rollup's own sum.
      const [row] = await db.inSchema<{ s: string }>(`SELECT trim_scale(sum(total_cost_usd))::text AS s FROM llm_traces WHERE started_at < '2026-11-06'`);
      expect(res.body.previous.spendUsd).toBe(row.s);
    });

    it('takes the trace filters', async () => {
      const res = await get('insights/summary', { from: '2026-11-01', to: '2026-11-11', user: 'u-1' });
      expect(res.body.current).toEqual(figures(inRange('2026-11-01', '2026-11-11').filter((t) => t.tags.user_id === 'u-1'), '2026-11-01T00:00:00.000Z', '2026-11-11T00:00:00.000Z'));
      const none = await get('insights/summary', { from: '2026-10-01', to: '2026-10-02' });
      expect(none.body.current).toMatchObject({ spendUsd: '0', traces: 0, avgPerTraceUsd: '0', p95PerTraceUsd: '0' });
    });
  });

  describe('the calls of a range with partial days at both ends', () => {
    // 2026-11-02 10:00:02.5 to 2026-11-10 13:30: the minutes of 10:00 and 13:00 from the calls, the
    // hours of 11-02 and 11-10 from llm_cost_hourly, 11-03 to 11-09 from llm_cost_daily. The invoice
    // trace started before `from`: its later calls count, the trace does not.
    const FROM = '2026-11-02T10:00:02.500Z';
    const TO = '2026-11-10T13:30:00.000Z';
    const callsIn = (from: string, to: string) => all.flatMap((t) => t.calls).filter((c) => c.time >= new Date(from) && c.time < new Date(to));

    it('reads whole days from the daily rollup, edge hours from the hourly one, edge minutes from the calls', () => {
      const p = new SqlParams();
      expect(costRangeSource('"s"', {}, new Date(FROM), new Date(TO), p).source).toBe('daily');
      expect(costRangeSource('"s"', { user: 'u-1' }, new Date(FROM), new Date(TO), new SqlParams()).source).toBe('hourly');
      expect(costRangeSource('"s"', { tag: ['team:ap'] }, new Date(FROM), new Date(TO), new SqlParams()).source).toBe('calls');
    });

    it('summary: every call figure is the sum over the calls, the trace figures over the traces started in it', async () => {
      const res = await get('insights/summary', { from: FROM, to: TO });
      expect(res.status).toBe(200);
      const len = Date.parse(TO) - Date.parse(FROM);
      const before = new Date(Date.parse(FROM) - len).toISOString();
      for (const [got, from, to] of [[res.body.current, FROM, TO], [res.body.previous, before, FROM]] as const) {
        const calls = callsIn(from, to);
        const traces = inRange(from, to);
        expect(got).toEqual({
          from,
          to,
          spendUsd: usdToString(sum(calls.map((c) => c.costUsd ?? 0n))),
          traces: traces.length,
          calls: calls.length,
          avgPerTraceUsd: avg(sum(traces.map(totalOf)), traces.length),
          p95PerTraceUsd: pct(traces.map(totalOf), 0.95),
          inputTokens: calls.reduce((a, c) => a + c.inputTokens, 0),
          outputTokens: calls.reduce((a, c) => a + c.outputTokens, 0),
          cachedTokens: calls.reduce((a, c) => a + c.cachedTokens, 0),
          errorCalls: calls.filter((c) => c.status === 'error').length,
          unpricedCalls: calls.filter((c) => c.costUsd === null).length,
        });
      }
      // The invoice trace's 5 calls from 10:00:03.1 on count, its first 3 do not; the bulk traces' 90; of the later
      // runs the runaway (12:00) and the rag call (13:00), not the unpriced run (14:00).
      expect(res.body.current).toMatchObject({ calls: 5 + 90 + 2, traces: 60 + 2 });
      // And the database's own sum over the call rows agrees.
      const [row] = await db.inSchema<{ s: string; n: string }>(`SELECT trim_scale(sum(cost_usd))::text AS s, count(*)::text AS n FROM llm_calls WHERE time >= $1 AND time < $2`, [FROM, TO]);
      expect([res.body.current.spendUsd, String(res.body.current.calls)]).toEqual([row.s, row.n]);
    });

    for (const [route, key] of [
      ['top-users', 'user_id'],
      ['top-features', 'feature'],
    ] as const)
      it(`${route}: spend and calls per key are the sums over the calls, traces and average over the traces started in it`, async () => {
        const res = await get(`insights/${route}`, { from: FROM, to: TO, limit: '100' });
        expect(res.status).toBe(200);
        const keys = new Set([...callsIn(FROM, TO).map((c) => c.tags[key]), ...inRange(FROM, TO).map((t) => t.tags[key])]);
        const expected = [...keys]
          .map((k) => {
            const calls = callsIn(FROM, TO).filter((c) => c.tags[key] === k);
            const traces = inRange(FROM, TO).filter((t) => t.tags[key] === k);
            return { key: k, spend: sum(calls.map((c) => c.costUsd ?? 0n)), calls: calls.length, traces: traces.length, traceSpend: sum(traces.map(totalOf)) };
          })
          .sort((a, b) => (a.spend === b.spend ? a.key.localeCompare(b.key) : a.spend > b.spend ? -1 : 1))
          .map((g) => ({ key: g.key, spendUsd: usdToString(g.spend), traces: g.traces, calls: g.calls, avgPerTraceUsd: avg(g.traceSpend, g.traces) }));
        expect(res.body.groupCount).toBe(keys.size);
        expect(res.body.rows).toEqual(expected);
        // The invoice trace started before the range: its user and feature have spend, no trace.
        expect(res.body.rows.find((r: { key: string }) => r.key === (key === 'feature' ? 'invoice-pipeline' : 'u-42'))).toMatchObject({ traces: 0, avgPerTraceUsd: '0' });
      });

    it('cache-savings: the cached tokens of the calls, priced', async () => {
      const res = await get('insights/cache-savings', { from: FROM, to: TO });
      expect(res.body).toMatchObject({ savedUsd: CACHE_SAVED, cachedTokens: callsIn(FROM, TO).reduce((a, c) => a + c.cachedTokens, 0) });
      // The rag call ran at 13:00:00.5: a range ending at 13:00 leaves it out, one ending a second later has it.
      expect((await get('insights/cache-savings', { from: FROM, to: '2026-11-10T13:00:00Z' })).body).toMatchObject({ savedUsd: '0', cachedTokens: 0 });
      expect((await get('insights/cache-savings', { from: FROM, to: '2026-11-10T13:00:01Z' })).body).toMatchObject({ savedUsd: CACHE_SAVED, cachedTokens: CACHED_TOKENS });
    });
  });

  describe('GET insights/top-users and top-features', () => {
    for (const [route, key] of [
      ['top-users', 'user_id'],
      ['top-features', 'feature'],
    ] as const) {
      it(`${route}: spend, traces and average per trace, most spent first`, async () => {
        const traces = inRange('2026-11-01', '2026-11-11');
        const groups = new Map<string, FixtureTrace[]>();
        for (const t of traces) groups.set(t.tags[key], [...(groups.get(t.tags[key]) ?? []), t]);
        const expected = [...groups.entries()]
          .map(([k, ts]) => ({ key: k, spend: sum(ts.map(totalOf)), ts }))
          .sort((a, b) => (a.spend === b.spend ? a.key.localeCompare(b.key) : a.spend > b.spend ? -1 : 1))
          .map((g) => ({ key: g.key, spendUsd: usdToString(g.spend), traces: g.ts.length, calls: g.ts.flatMap((t) => t.calls).length, avgPerTraceUsd: avg(g.spend, g.ts.length) }));
        const res = await get(`insights/${route}`, { from: '2026-11-01', to: '2026-11-11', limit: '3' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ by: key === 'user_id' ? 'user' : 'feature', groupCount: groups.size });
        expect(res.body.rows).toEqual(expected.slice(0, 3));
      });
    }
  });

  describe('GET insights/feature-costs', () => {
    it('gives p50, p95 and max per feature and marks the runaway run', async () => {
      const res = await get('insights/feature-costs', { from: '2026-11-01', to: '2026-11-11' });
      expect(res.status).toBe(200);
      const chat = inRange('2026-11-01', '2026-11-11').filter((t) => t.tags.feature === 'chat');
      expect(chat.length).toBe(41);
      const costs = chat.map(totalOf);
      expect(res.body.features.find((f: { feature: string }) => f.feature === 'chat')).toEqual({
        feature: 'chat',
        traces: 41,
        spendUsd: usdToString(sum(costs)),
        p50Usd: pct(costs, 0.5),
        p95Usd: pct(costs, 0.95),
        maxUsd: '0.5',
        outliers: 1,
      });
      expect(res.body.outlierFactor).toBe('3');
      expect(res.body.outlierCount).toBe(1);
      const p95 = pct(costs, 0.95);
      expect(res.body.outliers).toEqual([
        { traceId: later[0].traceId, name: 'runaway-chat', feature: 'chat', startedAt: '2026-11-10T12:00:00.000Z', costUsd: '0.5', p95Usd: p95, timesP95: Math.round((0.5 / Number(p95)) * 100) / 100 },
      ]);
      // A feature with fewer than 20 runs has its maximum as p95: no outliers there by construction.
      expect(res.body.features.find((f: { feature: string }) => f.feature === 'rag')).toMatchObject({ traces: 1, p50Usd: '0.0238825', p95Usd: '0.0238825', maxUsd: '0.0238825', outliers: 0 });
      const lenient = await get('insights/feature-costs', { from: '2026-11-01', to: '2026-11-11', outlierFactor: '1000' });
      expect(lenient.body.outliers).toEqual([]);
      expect(lenient.body.outlierCount).toBe(0);
    });
  });

  describe('GET insights/cache-savings', () => {
    it('prices the cached tokens at the uncached rate minus the cache-read rate', async () => {
      const res = await get('insights/cache-savings', { from: '2026-11-01', to: '2026-11-11' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        savedUsd: CACHE_SAVED,
        cachedTokens: CACHED_TOKENS,
        models: [{ provider: 'openai', model: 'acme-cached-1', cachedTokens: CACHED_TOKENS, savedUsd: CACHE_SAVED }],
      });
      expect(usd(CACHE_SAVED)).toBe((BigInt(CACHED_TOKENS) * usd('1.5')) / 1_000_000n);
      const chat = await get('insights/cache-savings', { from: '2026-11-01', to: '2026-11-11', feature: 'chat' });
      expect(chat.body).toMatchObject({ savedUsd: '0', cachedTokens: 0, models: [] });
    });
  });

  describe('GET calls/:spanId', () => {
    it("gives a failed call's error class, its span and how it was priced", async () => {
      const failed = invoice.calls[4];
      const res = await get(`calls/${failed.spanId}`);
      expect(res.status).toBe(200);
      expect(res.body.call).toMatchObject({ spanId: failed.spanId, status: 'error', errorClass: 'RateLimitError', costUsd: '0.000055', pricingSource: 'override', pricingModel: 'test', attempts: 3 });
      expect(res.body).toMatchObject({ traceId: invoice.traceId, traceName: 'invoice-pipeline', storedPrice: null, repricingId: null });
      expect(res.body.span).toMatchObject({ spanId: failed.parentSpanId, name: 'classify-retry', startedAt: '2026-11-02T10:00:04.000Z', endedAt: '2026-11-02T10:00:06.000Z' });
      const withTime = await get(`calls/${failed.spanId}`, { time: failed.time.toISOString() });
      expect(withTime.body).toEqual(res.body);
    });

    it('gives tags, metadata and every token bucket', async () => {
      const rag = later[1].calls[0];
      const res = await get(`calls/${rag.spanId.toUpperCase()}`);
      expect(res.body.call).toMatchObject({
        tokenBreakdown: { inputUncached: 7655, cacheRead: CACHED_TOKENS, output: 300, reasoning: 0 },
        metadata: { requestId: 'req-rag-1', retries: 0 },
        tags: { project: 'openmanagr', feature: 'rag', user_id: 'u-9', span_name: 'rag-answer' },
        cachedTokens: CACHED_TOKENS,
        costUsd: '0.0238825',
        // Its SDK did not say how many attempts it made.
        attempts: null,
      });
    });

    it('404 for an unknown call, also at another time', async () => {
      expect((await get('calls/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await get(`calls/${invoice.calls[0].spanId}`, { time: '2026-11-02T10:00:00.501Z' })).status).toBe(404);
    });
  });

  describe('400 for bad input', () => {
    const bad: [string, Record<string, string | string[]>, RegExp][] = [
      ['insights/summary', { from: '2026-11-05', to: '2026-11-01' }, /from must be before to/],
      ['insights/summary', { from: 'yesterday' }, /from must be an ISO-8601 date/],
      ['insights/summary', { to: '2026-02-31' }, /to must be a valid ISO-8601 date/],
      ['insights/summary', { limit: '5' }, /property limit should not exist/],
      ['insights/summary', { tag: 'no-colon' }, /tag must be key:value/],
      ['insights/top-users', { limit: '0' }, /limit must not be less than 1/],
      ['insights/top-users', { limit: '101' }, /limit must not be greater than 100/],
      ['insights/top-features', { limit: 'ten' }, /limit must be an integer/],
      ['insights/top-features', { feature: 'x'.repeat(257) }, /feature must be shorter than or equal to 256/],
      ['insights/feature-costs', { outlierFactor: '0.5' }, /outlierFactor must be a number from 1 to 1000/],
      ['insights/feature-costs', { outlierFactor: '1e3' }, /outlierFactor must be/],
      ['insights/feature-costs', { outlierFactor: '1001' }, /outlierFactor must be/],
      ['insights/feature-costs', { outlierFactor: '3; DROP TABLE x' }, /outlierFactor must be/],
      ['insights/feature-costs', { outlierFactor: ['2', '3'] }, /outlierFactor must be/],
      ['insights/cache-savings', { tag: 'team:ap' }, /cache savings filter by feature, project, user_id and service only/],
      ['insights/cache-savings', { from: '2026-11-02T10:00:00Z', to: '2026-11-02T10:00:00Z' }, /from must be before to/],
      ['calls/not-a-uuid', {}, /spanId must be a UUID/],
      ['calls/00000000-0000-4000-8000-000000000000', { time: 'noon' }, /time must be an ISO-8601/],
      ['calls/00000000-0000-4000-8000-000000000000', { at: '2026-11-02' }, /property at should not exist/],
    ];
    for (const [path, query, message] of bad)
      it(`${path} ${JSON.stringify(query).slice(0, 60)}`, async () => {
        const res = await get(path, query);
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body.message)).toMatch(message);
      });

    it('every new route needs the key', async () => {
      for (const path of ['insights/summary', 'insights/top-users', 'insights/top-features', 'insights/feature-costs', 'insights/cache-savings', `calls/${invoice.calls[0].spanId}`])
        expect((await request(app.getHttpServer()).get(`/kostrack/${path}`)).status).toBe(401);
    });
  });
}
