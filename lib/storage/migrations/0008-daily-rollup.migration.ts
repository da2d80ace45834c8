import { quoteSchema } from '../schema.name.js';
import { reconciliationFunction } from './0007-provider-costs.migration.js';

/**
 * Version 8: `llm_cost_daily`, the cost rollup per UTC day × service × provider × model × feature ×
 * project, kept exactly at ingest in the same statement as `llm_cost_hourly`.
 *
 * Why a second rollup: the hourly one keys on `user_id` too (per-user reports need it), so its row
 * count grows with active users, about a fifth of the calls in the scale bench; a month's report
 * read 2M hourly rows at 10M calls (1.9 s). Without the user, a day holds one row per key
 * combination in use, whatever the volume: 2,161 rows for that month, read in about 2 ms. Reports
 * by day, week or month that do not filter or group by user read whole days here, the partial days
 * at a range's edges from the hourly rollup, and the partial hours from the calls.
 *
 * The key hash is `kostrack_dims` with a NULL user, so the day's key of a user-less hourly row is
 * that row's own `dims`. Backfilled from `llm_cost_hourly`, which holds every stored call.
 * `kostrack_reconciliation` (version 7) is redefined to read it.
 */
export function dailyRollupUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.llm_cost_daily (
      day timestamptz NOT NULL,
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
      PRIMARY KEY (day, dims)
    )`,
    `INSERT INTO ${s}.llm_cost_daily (day, dims, service_id, provider, model, feature, project, cost_usd, calls,
            unpriced_calls, error_calls, input_tokens, output_tokens, cached_tokens)
     SELECT day, ${s}.kostrack_dims(service_id, provider, model, feature, project, NULL), service_id, provider, model, feature, project,
            trim_scale(sum(cost_usd)), sum(calls), sum(unpriced_calls), sum(error_calls), sum(input_tokens), sum(output_tokens), sum(cached_tokens)
       FROM (SELECT date_trunc('day', hour, 'UTC') AS day, * FROM ${s}.llm_cost_hourly) h
      GROUP BY day, service_id, provider, model, feature, project
     ON CONFLICT (day, dims) DO NOTHING`,
    // Reconciliation compares days: a row per day and key here, not per hour and user.
    reconciliationFunction(s, 'daily'),
  ];
}

export function dailyRollupDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [reconciliationFunction(s, 'hourly'), `DROP TABLE IF EXISTS ${s}.llm_cost_daily`];
}
