import type pg from 'pg';

const TABLES = ['llm_calls', 'llm_spans', 'llm_traces', 'llm_cost_hourly', 'llm_cost_hourly_totals', 'llm_cost_daily', 'llm_budget_usage', 'llm_repricings'] as const;

/** A fingerprint of every table a re-price could write: equal fingerprints, nothing written. */
export async function fingerprint(pool: pg.Pool, schema: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const r = await pool.query(`SELECT count(*)::text || ':' || COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS f FROM "${schema}".${table} x`);
    out[table] = r.rows[0].f;
  }
  return out;
}

/**
 * What two schemas holding the same calls must agree on after re-pricing, table by table, as
 * sorted text: the calls (but when each was re-priced and by which run id) and every rollup.
 */
export async function comparableState(pool: pg.Pool, schema: string): Promise<Record<string, string>> {
  const s = `"${schema}"`;
  const queries: Record<string, string> = {
    calls: `SELECT span_id, time, cost_usd::text, pricing_source, pricing_model, pricing_flags::text, catalog_version, (priced_at IS NOT NULL) AS repriced FROM ${s}.llm_calls`,
    spans: `SELECT span_id, cost_usd::text, call_count FROM ${s}.llm_spans`,
    traces: `SELECT trace_id, total_cost_usd::text, call_count, unpriced_call_count FROM ${s}.llm_traces`,
    hourly: `SELECT hour, dims, cost_usd::text, calls, unpriced_calls FROM ${s}.llm_cost_hourly`,
    daily: `SELECT day, dims, cost_usd::text, calls, unpriced_calls FROM ${s}.llm_cost_daily`,
    hourlyTotals: `SELECT hour, dims, cost_usd::text, calls, unpriced_calls FROM ${s}.llm_cost_hourly_totals`,
    budgets: `SELECT b.name, u.scope_value, u.period_start, u.spent::text, u.calls FROM ${s}.llm_budget_usage u JOIN ${s}.llm_budgets b ON b.id = u.budget_id`,
  };
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(queries)) {
    const r = await pool.query(`SELECT count(*)::text || ':' || COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS f FROM (${sql}) x`);
    out[name] = r.rows[0].f;
  }
  return out;
}
