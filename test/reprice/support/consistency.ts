import type pg from 'pg';
import { usd, usdToString } from '../../../lib/core/money.js';
import type { PriceBook } from '../../../lib/pricing/price-book.js';
import { repricedFlags } from '../../../lib/storage/reprice.flags.js';

/**
 * Every rollup compared with the calls it holds, in SQL: each query returns the rows that
 * disagree (none, when all is well). Exact numeric comparison, never floats.
 */
export async function rollupMismatches(pool: pg.Pool, schema: string): Promise<Record<'traces' | 'spans' | 'hourly' | 'daily' | 'budgets', unknown[]>> {
  const s = `"${schema}"`;
  const q = async (sql: string) => (await pool.query(sql)).rows;
  const traces = await q(`
    SELECT t.trace_id, t.total_cost_usd::text AS stored, c.cost::text AS from_calls, t.call_count, c.n, t.unpriced_call_count, c.unpriced
      FROM ${s}.llm_traces t
      FULL JOIN (SELECT trace_id, COALESCE(sum(cost_usd), 0) AS cost, count(*) AS n, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
                   FROM ${s}.llm_calls WHERE trace_id IS NOT NULL GROUP BY trace_id) c USING (trace_id)
     WHERE t.total_cost_usd IS DISTINCT FROM c.cost OR t.call_count IS DISTINCT FROM c.n OR t.unpriced_call_count IS DISTINCT FROM c.unpriced
     LIMIT 20`);
  // A span holds its own calls and those of its descendants, up to this process's root of the trace.
  const spans = await q(`
    WITH RECURSIVE up (span_id, parent_span_id, is_root, cost) AS (
      SELECT p.span_id, p.parent_span_id, p.is_root, COALESCE(c.cost_usd, 0)
        FROM ${s}.llm_calls c JOIN ${s}.llm_spans p ON p.span_id = c.parent_span_id
      UNION ALL
      SELECT p.span_id, p.parent_span_id, p.is_root, u.cost FROM up u JOIN ${s}.llm_spans p ON p.span_id = u.parent_span_id WHERE NOT u.is_root
    )
    SELECT sp.span_id, sp.cost_usd::text AS stored, x.cost::text AS from_calls
      FROM ${s}.llm_spans sp LEFT JOIN (SELECT span_id, sum(cost) AS cost FROM up GROUP BY span_id) x USING (span_id)
     WHERE sp.cost_usd IS DISTINCT FROM COALESCE(x.cost, 0)
     LIMIT 20`);
  const hourly = await q(`
    SELECT h.hour, h.dims, h.cost_usd::text AS stored, c.cost::text AS from_calls, h.calls, c.n, h.unpriced_calls, c.unpriced
      FROM ${s}.llm_cost_hourly h
      FULL JOIN (SELECT date_trunc('hour', time, 'UTC') AS hour,
                        ${s}.kostrack_dims(service_id, provider, model, tags->>'feature', tags->>'project', tags->>'user_id') AS dims,
                        COALESCE(sum(cost_usd), 0) AS cost, count(*) AS n, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
                   FROM ${s}.llm_calls GROUP BY 1, 2) c USING (hour, dims)
     WHERE h.cost_usd IS DISTINCT FROM c.cost OR h.calls IS DISTINCT FROM c.n OR h.unpriced_calls IS DISTINCT FROM c.unpriced
     LIMIT 20`);
  const userless = (table: string, grain: 'hour' | 'day') =>
    q(`
    SELECT d.${grain}, d.dims, d.cost_usd::text AS stored, c.cost::text AS from_calls, d.calls, c.n, d.unpriced_calls, c.unpriced
      FROM ${s}.${table} d
      FULL JOIN (SELECT date_trunc('${grain}', time, 'UTC') AS ${grain},
                        ${s}.kostrack_dims(service_id, provider, model, tags->>'feature', tags->>'project', NULL) AS dims,
                        COALESCE(sum(cost_usd), 0) AS cost, count(*) AS n, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
                   FROM ${s}.llm_calls GROUP BY 1, 2) c USING (${grain}, dims)
     WHERE d.cost_usd IS DISTINCT FROM c.cost OR d.calls IS DISTINCT FROM c.n OR d.unpriced_calls IS DISTINCT FROM c.unpriced
     LIMIT 20`);
  const daily = [...(await userless('llm_cost_daily', 'day')), ...(await userless('llm_cost_hourly_totals', 'hour'))];
  // The writer's mapping of a call to budgets (batch.sql.ts budgetCtes), for budgets that existed when the row landed.
  const budgets = await q(`
    WITH hits AS (
      SELECT b.id AS budget_id, k.v AS scope_value, ${s}.kostrack_period_start(b.period, c.time) AS period_start,
             COALESCE(c.cost_usd, 0) AS cost, (c.status <> 'blocked')::int AS calls
        FROM ${s}.llm_calls c
       CROSS JOIN ${s}.llm_budgets b
       CROSS JOIN LATERAL (SELECT CASE WHEN b.scope_tag = 'service' THEN c.service_id ELSE c.tags ->> b.scope_tag END AS v) k
       WHERE k.v IS NOT NULL AND (b.scope_value IS NULL OR b.scope_value = k.v) AND b.created_at <= COALESCE(c.recorded_at, c.time)
    )
    SELECT u.budget_id, u.scope_value, u.period_start, u.spent::text AS stored, x.cost::text AS from_calls, u.calls, x.calls AS n
      FROM ${s}.llm_budget_usage u
      FULL JOIN (SELECT budget_id, scope_value, period_start, sum(cost) AS cost, sum(calls) AS calls FROM hits GROUP BY 1, 2, 3) x
        USING (budget_id, scope_value, period_start)
     WHERE u.spent IS DISTINCT FROM x.cost OR u.calls IS DISTINCT FROM x.calls
     LIMIT 20`);
  return { traces, spans, hourly, daily, budgets };
}

interface StoredCall {
  span_id: string;
  time: Date;
  provider: string;
  model: string;
  input_tokens: number;
  token_breakdown: Record<string, number>;
  cost: string | null;
  pricing_source: string;
  pricing_model: string | null;
  pricing_flags: string[] | null;
  service_tier: string | null;
}

/**
 * Calls in [from, to) whose stored price is not what `book` gives now (cost, source, model), or
 * whose flags are not their usage notes followed by the new price's flags. Calls whose cost is
 * not a price are left out. Returns the first few that differ and how many were checked.
 */
export async function priceMismatches(pool: pg.Pool, schema: string, book: PriceBook, from: Date, to: Date): Promise<{ checked: number; wrong: unknown[] }> {
  const rows = (
    await pool.query<StoredCall>(
      `SELECT span_id, time, provider, model, input_tokens, token_breakdown, cost_usd::text AS cost, pricing_source, pricing_model,
              pricing_flags, service_tier
         FROM "${schema}".llm_calls
        WHERE time >= $1 AND time < $2 AND pricing_source NOT IN ('blocked', 'not-billed', 'no-usage') AND status <> 'blocked'`,
      [from.toISOString(), to.toISOString()],
    )
  ).rows;
  const wrong: unknown[] = [];
  for (const r of rows) {
    const p = book.price(r.provider, r.model, r.token_breakdown, r.input_tokens, {
      timeMs: r.time.getTime(),
      batch: r.pricing_source === 'batch' || r.service_tier === 'batch',
      serviceTier: r.service_tier,
    });
    const expected = p.costUsd === null ? null : usdToString(p.costUsd);
    const stored = r.cost === null ? null : usdToString(usd(r.cost));
    const flags = repricedFlags(r.pricing_flags, p.flags);
    if (stored !== expected || r.pricing_source !== p.pricingSource || r.pricing_model !== p.pricingModel || JSON.stringify(r.pricing_flags) !== JSON.stringify(flags))
      if (wrong.length < 10) wrong.push({ ...r, expected, expectedSource: p.pricingSource, expectedFlags: flags });
  }
  return { checked: rows.length, wrong };
}
