import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { usd, usdToString, type Usd } from '../core/money.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { AdminPricesService } from './admin.prices.service.js';
import { AdminQueryService } from './admin.query.service.js';
import { iso, money, toCall, type CallRow } from './admin.rows.js';
import type { CallDetailDto, CacheSavingsDto, FeatureCostsDto, PeriodFiguresDto, SummaryDto, TopDto } from './dto/insights.responses.js';
import { DEFAULT_OUTLIER_FACTOR, DEFAULT_TOP, type CallDetailQuery, type FeatureCostsQuery, type InsightsQuery, type TopQuery } from './dto/insights.query.js';
import { parseIsoTime } from './dto/query-values.js';
import type { TraceFilterQuery } from './dto/trace-filter.query.js';
import { costRangeSource } from './cost-range.source.js';
import { SqlParams } from './sql.params.js';
import { filterConditions, filtersFit, ON_HOURLY, ON_TRACES } from './trace-filter.sql.js';

const DAY_MS = 86_400_000;

/** The range of a query: `to` default now, `from` default 30 days before it. */
export function rangeOf(q: { from?: string | undefined; to?: string | undefined }): { from: Date; to: Date } {
  const to = q.to !== undefined ? parseIsoTime(q.to) : new Date();
  const from = q.from !== undefined ? parseIsoTime(q.from) : new Date(to.getTime() - 30 * DAY_MS);
  if (from.getTime() >= to.getTime()) throw new BadRequestException('from must be before to');
  return { from, to };
}

/** `total / n` in 1e-15 USD units, rounded half up; 0 for n = 0. */
function average(total: Usd, n: number): string {
  if (n <= 0) return '0';
  const d = BigInt(n);
  return usdToString((total * 2n + d) / (2n * d));
}

/**
 * The dashboard's "at a glance" figures, all from the rollups: `llm_traces` (one row per trace,
 * indexed by start time, user and feature) for trace counts and per-trace costs, `llm_cost_daily`
 * and `llm_cost_hourly` for spend, calls and tokens; `llm_calls` only for the minutes at a range's
 * ends and for one call. Money is summed in SQL numeric and divided in bigint units, never as floats.
 */
@Injectable()
export class AdminInsightsService {
  constructor(
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
    @Inject(AdminPricesService) private readonly prices: AdminPricesService,
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
  ) {}

  async summary(q: InsightsQuery): Promise<SummaryDto> {
    const { from, to } = rangeOf(q);
    const before = new Date(from.getTime() - (to.getTime() - from.getTime()));
    const [current, previous] = await Promise.all([this.period(q, from, to), this.period(q, before, from)]);
    return { current, previous };
  }

  /**
   * One period's figures. Money, calls, tokens, failed and unpriced calls are the calls made in
   * the range, read like the cost report (whole UTC days from llm_cost_daily, the edge days' hours
   * from llm_cost_hourly, the edge minutes from llm_calls), so a month costs the same at any
   * volume. Trace counts, the average and p95 per trace are the traces started in the range, an
   * index range of llm_traces (one row per trace).
   */
  private async period(q: TraceFilterQuery, from: Date, to: Date): Promise<PeriodFiguresDto> {
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const where = filterConditions({ ...q, from: from.toISOString(), to: to.toISOString() }, p, ON_TRACES);
    const calls = costRangeSource(s, q, from, to, p);
    const [r] = await this.queries.run<Record<string, string | null>>(
      pool,
      `WITH t AS (SELECT count(*) AS traces, COALESCE(sum(t.total_cost_usd), 0) AS spend,
                         COALESCE(percentile_disc(0.95) WITHIN GROUP (ORDER BY t.total_cost_usd), 0) AS p95
                    FROM ${s}.llm_traces t WHERE ${where.join(' AND ')}),
            c AS (SELECT COALESCE(sum(x.cost), 0) AS spend, COALESCE(sum(x.calls), 0) AS calls,
                         COALESCE(sum(x.input_tokens), 0) AS input_tokens, COALESCE(sum(x.output_tokens), 0) AS output_tokens,
                         COALESCE(sum(x.cached_tokens), 0) AS cached_tokens, COALESCE(sum(x.errors), 0) AS error_calls,
                         COALESCE(sum(x.unpriced), 0) AS unpriced_calls
                    FROM (${calls.sql}) x)
       SELECT t.traces, trim_scale(t.spend)::text AS trace_spend, trim_scale(t.p95)::text AS p95, trim_scale(c.spend)::text AS spend,
              c.calls, c.input_tokens, c.output_tokens, c.cached_tokens, c.error_calls, c.unpriced_calls
         FROM t, c`,
      p.values,
    );
    const traces = Number(r.traces);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      spendUsd: money(r.spend!),
      traces,
      calls: Number(r.calls),
      avgPerTraceUsd: average(usd(r.trace_spend!), traces),
      p95PerTraceUsd: money(r.p95!),
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      cachedTokens: Number(r.cached_tokens),
      errorCalls: Number(r.error_calls),
      unpricedCalls: Number(r.unpriced_calls),
    };
  }

  /**
   * Spend and calls per user or feature are the calls made in the range (by user: llm_cost_hourly,
   * which keeps the user, and the edge minutes from llm_calls; by feature: whole days from
   * llm_cost_daily too); traces and the average per trace are the traces started in it
   * (llm_traces, an index range on started_at). Both sides meet in one GROUP BY, where NULL (no
   * such tag) is one group.
   */
  async top(by: 'user' | 'feature', q: TopQuery): Promise<TopDto> {
    const { from, to } = rangeOf(q);
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const where = filterConditions({ ...q, from: from.toISOString(), to: to.toISOString() }, p, ON_TRACES);
    const calls = costRangeSource(s, q, from, to, p, { user: by === 'user' });
    // The same expressions as llm_traces_user_idx / llm_traces_feature_idx and the list's filters.
    const key = by === 'user' ? "(t.tags->>'user_id')" : "(t.tags->>'feature')";
    const rows = await this.queries.run<{ key: string | null; spend: string; calls: string; traces: string; trace_spend: string; group_count: string }>(
      pool,
      `SELECT u.key, trim_scale(COALESCE(sum(u.spend), 0))::text AS spend, sum(u.calls) AS calls, sum(u.traces) AS traces,
              trim_scale(sum(u.trace_spend))::text AS trace_spend, count(*) OVER () AS group_count
         FROM (SELECT x.${by === 'user' ? 'user_id' : 'feature'} AS key, x.cost AS spend, x.calls, 0 AS traces, 0::numeric AS trace_spend FROM (${calls.sql}) x
               UNION ALL
               SELECT ${key}, NULL, 0, 1, t.total_cost_usd FROM ${s}.llm_traces t WHERE ${where.join(' AND ')}) u
        GROUP BY 1 ORDER BY COALESCE(sum(u.spend), 0) DESC, 1 NULLS LAST LIMIT ${p.add(q.limit ?? DEFAULT_TOP)}`,
      p.values,
    );
    return {
      by,
      from: from.toISOString(),
      to: to.toISOString(),
      groupCount: rows.length ? Number(rows[0].group_count) : 0,
      rows: rows.map((r) => ({
        key: r.key,
        spendUsd: money(r.spend),
        traces: Number(r.traces),
        calls: Number(r.calls),
        avgPerTraceUsd: average(usd(r.trace_spend), Number(r.traces)),
      })),
    };
  }

  async featureCosts(q: FeatureCostsQuery): Promise<FeatureCostsDto> {
    const { from, to } = rangeOf(q);
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const where = filterConditions({ ...q, from: from.toISOString(), to: to.toISOString() }, p, ON_TRACES);
    const factor = q.outlierFactor ?? DEFAULT_OUTLIER_FACTOR;
    const factorP = p.add(factor);
    const limitP = p.add(q.limit ?? DEFAULT_TOP);
    // percentile_disc: each percentile is one trace's actual cost, so it is exact and can be
    // found in the list. A feature needs 20 runs before its p95 sits below its maximum, so small
    // features have no outliers by construction.
    const stats = `SELECT (t.tags->>'feature') AS feature, count(*) AS traces, sum(t.total_cost_usd) AS spend,
             percentile_disc(0.5) WITHIN GROUP (ORDER BY t.total_cost_usd) AS p50,
             percentile_disc(0.95) WITHIN GROUP (ORDER BY t.total_cost_usd) AS p95, max(t.total_cost_usd) AS mx
        FROM ${s}.llm_traces t WHERE ${where.join(' AND ')} GROUP BY 1`;
    const outliers = `SELECT t.trace_id, t.name, f.feature, t.started_at, t.total_cost_usd AS cost, f.p95
        FROM ${s}.llm_traces t JOIN f ON f.feature IS NOT DISTINCT FROM (t.tags->>'feature')
       WHERE ${where.join(' AND ')} AND f.p95 > 0 AND t.total_cost_usd > f.p95 * ${factorP}::numeric`;
    // One statement: the per-feature statistics are computed once (one pass over the range's
    // traces), the outliers in a second pass against them; both lists come back as rows of one result.
    type Row = Record<string, string | null> & { kind: 'f' | 'o'; started_at: Date | null };
    const rows = await this.queries.run<Row>(
      pool,
      `WITH f AS MATERIALIZED (${stats}), x AS MATERIALIZED (${outliers}), o AS (SELECT feature, count(*) AS n FROM x GROUP BY 1)
       (SELECT 'f' AS kind, f.feature, f.traces::text AS traces, trim_scale(f.spend)::text AS spend, trim_scale(f.p50)::text AS p50,
               trim_scale(f.p95)::text AS p95, trim_scale(f.mx)::text AS mx, COALESCE(o.n, 0)::text AS outliers,
               count(*) OVER ()::text AS feature_count, (SELECT count(*) FROM x)::text AS outlier_count,
               NULL::uuid AS trace_id, NULL::text AS name, NULL::timestamptz AS started_at, NULL::text AS cost
          FROM f LEFT JOIN o ON o.feature IS NOT DISTINCT FROM f.feature
         ORDER BY f.spend DESC, f.feature NULLS LAST LIMIT ${limitP})
       UNION ALL
       (SELECT 'o', x.feature, NULL, NULL, NULL, trim_scale(x.p95)::text, NULL, NULL, NULL, NULL,
               x.trace_id, x.name, x.started_at, trim_scale(x.cost)::text
          FROM x ORDER BY x.cost / x.p95 DESC, x.trace_id LIMIT ${limitP})`,
      p.values,
    );
    const features = rows.filter((r) => r.kind === 'f');
    const worst = rows.filter((r) => r.kind === 'o') as unknown as { trace_id: string; name: string | null; feature: string | null; started_at: Date | null; cost: string; p95: string }[];
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      outlierFactor: factor,
      featureCount: features.length ? Number(features[0].feature_count) : 0,
      features: features.map((r) => ({
        feature: r.feature,
        traces: Number(r.traces),
        spendUsd: money(r.spend!),
        p50Usd: money(r.p50!),
        p95Usd: money(r.p95!),
        maxUsd: money(r.mx!),
        outliers: Number(r.outliers),
      })),
      outlierCount: features.length ? Number(features[0].outlier_count) : 0,
      outliers: worst.map((r) => ({
        traceId: r.trace_id,
        name: r.name,
        feature: r.feature,
        startedAt: iso(r.started_at),
        costUsd: money(r.cost),
        p95Usd: money(r.p95),
        timesP95: Math.round((Number(r.cost) / Number(r.p95)) * 100) / 100,
      })),
    };
  }

  /**
   * What cache reads saved: per model and UTC day (prices can change from one day to the next),
   * the cached tokens of the hourly rollup priced once at the uncached input rate and once at the
   * cache-read rate, in force at noon that day, base tier (a long-context tier depends on each
   * call's size, which a rollup no longer knows). The cached tokens are read like the cost report:
   * whole UTC days from llm_cost_daily, the edge days' hours from llm_cost_hourly, the edge minutes
   * from llm_calls.
   */
  async cacheSavings(q: InsightsQuery): Promise<CacheSavingsDto> {
    const { from, to } = rangeOf(q);
    if (!filtersFit(q, ON_HOURLY)) throw new BadRequestException('cache savings filter by feature, project, user_id and service only');
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const calls = costRangeSource(s, q, from, to, p);
    const rows = await this.queries.run<{ provider: string; model: string; day: Date; cached: string; priced: boolean }>(
      pool,
      `SELECT x.provider, x.model, date_trunc('day', x.t, 'UTC') AS day, sum(x.cached_tokens) AS cached,
              bool_or(x.calls > x.unpriced) AS priced
         FROM (${calls.sql}) x WHERE x.cached_tokens > 0
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      p.values,
    );
    const book = this.store.priceBook?.();
    const byModel = new Map<string, { provider: string; model: string; cachedTokens: number; saved: Usd | null }>();
    let total = 0n;
    let cachedTokens = 0;
    for (const r of rows) {
      const k = `${r.provider}\u0000${r.model}`;
      const m = byModel.get(k) ?? { provider: r.provider, model: r.model, cachedTokens: 0, saved: 0n };
      const n = Number(r.cached);
      m.cachedTokens += n;
      cachedTokens += n;
      // A model none of whose calls were priced is not asked for (the PriceBook would count it as a new unpriced call).
      const opts = { timeMs: r.day.getTime() + DAY_MS / 2 };
      const plain = book && r.priced ? book.price(r.provider, r.model, { inputUncached: n }, 0, opts).costUsd : null;
      const cached = book && r.priced ? book.price(r.provider, r.model, { cacheRead: n }, 0, opts).costUsd : null;
      if (plain === null || cached === null || m.saved === null) m.saved = null;
      else {
        m.saved += plain - cached;
        total += plain - cached;
      }
      byModel.set(k, m);
    }
    const models = [...byModel.values()]
      .map((m) => ({ provider: m.provider, model: m.model, cachedTokens: m.cachedTokens, savedUsd: m.saved === null ? null : usdToString(m.saved) }))
      .sort((a, b) => cmpUsd(b.savedUsd, a.savedUsd) || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      savedUsd: usdToString(total),
      cachedTokens,
      models,
      method:
        'Cached input tokens per model and UTC day of the calls in the range (llm_cost_daily for whole days, llm_cost_hourly for the hours of the edge days, the calls for the edge minutes), priced at the uncached input rate minus the cache-read rate in force that day (base tier).',
    };
  }

  async callDetail(spanId: string, q: CallDetailQuery): Promise<CallDetailDto> {
    const { pool, s } = this.queries.db();
    const params: unknown[] = [spanId];
    // With its time, only that month's partition is read; without, one primary-key probe per month.
    let at = '';
    if (q.time !== undefined) {
      params.push(parseIsoTime(q.time).toISOString());
      at = 'AND c.time = $2::timestamptz';
    }
    const calls = await this.queries.run<CallRow & { trace_id: string | null; priced_at: Date | null; repricing_id: string | null }>(
      pool,
      `SELECT span_id, parent_span_id, time, service_id, provider, model, operation, cost_usd::text AS cost, pricing_source,
              pricing_model, input_tokens, output_tokens, cached_tokens, token_breakdown, latency_ms, status, error_class,
              streamed, tags, metadata, service_tier, pricing_flags, catalog_version, attempts, trace_id, priced_at, repricing_id
         FROM ${s}.llm_calls c WHERE c.span_id = $1 ${at} LIMIT 1`,
      params,
    );
    if (calls.length === 0) throw new NotFoundException(`No call ${spanId}`);
    const c = calls[0];
    const [spans, traces, storedPrice] = await Promise.all([
      c.parent_span_id
        ? this.queries.run<{ span_id: string; name: string; parent_span_id: string | null; started_at: Date; ended_at: Date; status: string; error_class: string | null }>(
            pool,
            `SELECT span_id, name, parent_span_id, started_at, ended_at, status, error_class FROM ${s}.llm_spans WHERE span_id = $1`,
            [c.parent_span_id],
          )
        : Promise.resolve([]),
      c.trace_id ? this.queries.run<{ name: string | null }>(pool, `SELECT name FROM ${s}.llm_traces WHERE trace_id = $1`, [c.trace_id]) : Promise.resolve([]),
      c.pricing_source === 'stored' ? this.prices.storedAt(c.provider, c.model, c.time) : Promise.resolve(null),
    ]);
    const span = spans[0];
    return {
      call: toCall(c),
      traceId: c.trace_id,
      traceName: traces[0]?.name ?? null,
      span: span
        ? { spanId: span.span_id, name: span.name, parentSpanId: span.parent_span_id, startedAt: span.started_at.toISOString(), endedAt: span.ended_at.toISOString(), status: span.status, errorClass: span.error_class }
        : null,
      pricedAt: iso(c.priced_at),
      repricingId: c.repricing_id === null ? null : Number(c.repricing_id),
      storedPrice,
    };
  }
}

/** Orders exact amounts (null last). */
function cmpUsd(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  const d = usd(a) - usd(b);
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}
