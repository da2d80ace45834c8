import { quoteSchema } from '../schema.name.js';
import { reconciliationFunction } from './0007-provider-costs.migration.js';

/** The columns of a user-less rollup: its time column, the key hash and columns, the sums. */
function userlessRollupTable(s: string, table: string, time: string): string {
  return `CREATE TABLE IF NOT EXISTS ${s}.${table} (
      ${time} timestamptz NOT NULL,
      dims uuid NOT NULL,
      service_id text NOT NULL,
      provider text NOT NULL,
      model text NOT NULL,
      feature text,
      project text,
      cost_usd numeric NOT NULL DEFAULT 0,
      calls bigint NOT NULL DEFAULT 0,
      unpriced_calls bigint NOT NULL DEFAULT 0,
      error_calls bigint NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_tokens bigint NOT NULL DEFAULT 0,
      cached_tokens bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (${time}, dims)
    )`;
}

/** Fills a user-less rollup from `llm_cost_hourly` (which holds every stored call), truncated to `grain`. */
function userlessBackfill(s: string, table: string, time: string, grain: 'hour' | 'day'): string {
  return `INSERT INTO ${s}.${table} (${time}, dims, service_id, provider, model, feature, project, cost_usd, calls,
            unpriced_calls, error_calls, input_tokens, output_tokens, cached_tokens)
     SELECT t, ${s}.kostrack_dims(service_id, provider, model, feature, project, NULL), service_id, provider, model, feature, project,
            trim_scale(sum(cost_usd)), sum(calls), sum(unpriced_calls), sum(error_calls), sum(input_tokens), sum(output_tokens), sum(cached_tokens)
       FROM (SELECT date_trunc('${grain}', hour, 'UTC') AS t, * FROM ${s}.llm_cost_hourly) h
      GROUP BY t, service_id, provider, model, feature, project
     ON CONFLICT (${time}, dims) DO NOTHING`;
}

/**
 * Version 8: two cost rollups without the user, kept exactly at ingest in the same statement as
 * `llm_cost_hourly`: `llm_cost_daily` per UTC day and `llm_cost_hourly_totals` per UTC hour, each
 * × service × provider × model × feature × project.
 *
 * Why: the hourly rollup keys on `user_id` too (per-user reports need it), so its row count grows
 * with active users, about a fifth of the calls in the scale bench; a month's report read 2M hourly
 * rows at 10M calls (1.9 s). Without the user, a day or an hour holds one row per key combination
 * in use, whatever the volume: 2,161 rows for that month by day, read in about 2 ms. Reports that
 * do not filter or group by user read whole days from the daily rollup, the whole hours of the
 * partial days at a range's edges from the hourly totals, and the minutes at the very ends from
 * the calls; by-user reports read `llm_cost_hourly`.
 *
 * The key hash is `kostrack_dims` with a NULL user, so the key of a user-less hourly row is that
 * row's own `dims`. Both are backfilled from `llm_cost_hourly`, which holds every stored call.
 * `kostrack_reconciliation` (version 7) is redefined to read the daily one.
 */
export function dailyRollupUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    userlessRollupTable(s, 'llm_cost_hourly_totals', 'hour'),
    userlessRollupTable(s, 'llm_cost_daily', 'day'),
    userlessBackfill(s, 'llm_cost_hourly_totals', 'hour', 'hour'),
    userlessBackfill(s, 'llm_cost_daily', 'day', 'day'),
    // Reconciliation compares days: a row per day and key here, not per hour and user.
    reconciliationFunction(s, 'daily'),
  ];
}

export function dailyRollupDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [reconciliationFunction(s, 'hourly'), `DROP TABLE IF EXISTS ${s}.llm_cost_daily`, `DROP TABLE IF EXISTS ${s}.llm_cost_hourly_totals`];
}
