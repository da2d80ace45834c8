import { quoteSchema } from '../schema.name.js';

/**
 * Version 7: what the providers billed, beside what Kostrack tracked (see `lib/reconcile`).
 *
 * - `llm_provider_costs`: the providers' own figures per UTC day and model, as their admin
 *   report APIs give them (amount in `currency`, exact `numeric`; tokens and requests where the
 *   report has them, else NULL). `model` is the provider's name for it, or '' for a cost the
 *   provider ties to no model (web search, code execution, a line item that names none).
 * - `llm_provider_cost_days`: the days each provider's figures were imported for. An import
 *   replaces whole days, so a day the provider billed nothing for is still a day it reported on:
 *   tracked spend on it is compared with zero instead of with nothing.
 * - `kostrack_model_key(model)`: the name without its snapshot date, so a call tracked as
 *   `gpt-4o-mini` and billed as `gpt-4o-mini-2024-07-18` are the same line.
 * - `llm_reconciliation` (and `kostrack_reconciliation(from, to)`, the same for a range of days):
 *   tracked (from `llm_cost_hourly`) beside billed per UTC day × provider × model key, for the
 *   provider-days that were imported; gap = billed − tracked (positive: spend Kostrack did not
 *   see), coverage = tracked ÷ billed (NULL when nothing was billed).
 */
export function providerCostsUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.llm_provider_costs (
      provider text NOT NULL,
      day date NOT NULL,
      model text NOT NULL,
      amount numeric NOT NULL CHECK (amount >= 0),
      currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
      input_tokens bigint CHECK (input_tokens >= 0),
      output_tokens bigint CHECK (output_tokens >= 0),
      cached_tokens bigint CHECK (cached_tokens >= 0),
      requests bigint CHECK (requests >= 0),
      source text NOT NULL,
      imported_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (provider, day, model)
    )`,
    `CREATE INDEX IF NOT EXISTS llm_provider_costs_day_idx ON ${s}.llm_provider_costs (day)`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_provider_cost_days (
      provider text NOT NULL,
      day date NOT NULL,
      source text NOT NULL,
      imported_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (provider, day)
    )`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_model_key(p_model text) RETURNS text
       LANGUAGE sql IMMUTABLE AS $f$ SELECT regexp_replace(p_model, '-(\\d{4}-\\d{2}-\\d{2}|\\d{8})$', '') $f$`,
    reconciliationFunction(s, 'hourly'),
    `CREATE OR REPLACE VIEW ${s}.llm_reconciliation AS SELECT * FROM ${s}.kostrack_reconciliation('-infinity', 'infinity')`,
  ];
}

/**
 * `kostrack_reconciliation(from, to)`: tracked beside billed per UTC day × provider × model key.
 * A function of the range, so a report reads only its days (rollup rows by their primary key's
 * leading time) instead of every day ever tracked; the view is the same over all time. Version 7
 * reads the hourly rollup; version 8 redefines it over `llm_cost_daily`, a row per day and key.
 */
export function reconciliationFunction(s: string, rollup: 'hourly' | 'daily'): string {
  const table = rollup === 'hourly' ? 'llm_cost_hourly' : 'llm_cost_daily';
  const t = rollup === 'hourly' ? 'hour' : 'day';
  return `CREATE OR REPLACE FUNCTION ${s}.kostrack_reconciliation(p_from date, p_to date)
       RETURNS TABLE (day date, provider text, model text, tracked_usd numeric, billed_usd numeric, gap_usd numeric, coverage numeric,
                      calls bigint, unpriced_calls bigint, billed_input_tokens bigint, billed_output_tokens bigint, billed_requests bigint)
       LANGUAGE sql STABLE AS $f$
     WITH tracked AS (
       SELECT (h.${t} AT TIME ZONE 'UTC')::date AS d, h.provider AS p, ${s}.kostrack_model_key(h.model) AS m,
              sum(h.cost_usd) AS tracked, sum(h.calls) AS n, sum(h.unpriced_calls) AS unpriced
         FROM ${s}.${table} h
         JOIN ${s}.llm_provider_cost_days i ON i.provider = h.provider AND i.day = (h.${t} AT TIME ZONE 'UTC')::date
        WHERE h.${t} >= (p_from::timestamp AT TIME ZONE 'UTC') AND h.${t} < (p_to::timestamp AT TIME ZONE 'UTC')
        GROUP BY 1, 2, 3
     ), billed AS (
       SELECT c.day AS d, c.provider AS p, NULLIF(${s}.kostrack_model_key(c.model), '') AS m, sum(c.amount) AS billed,
              sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens, sum(c.requests) AS requests
         FROM ${s}.llm_provider_costs c
         JOIN ${s}.llm_provider_cost_days i ON i.provider = c.provider AND i.day = c.day
        WHERE c.currency = 'USD' AND c.day >= p_from AND c.day < p_to
        GROUP BY 1, 2, 3
     )
     SELECT COALESCE(t.d, b.d), COALESCE(t.p, b.p), COALESCE(t.m, b.m),
            trim_scale(COALESCE(t.tracked, 0)),
            trim_scale(COALESCE(b.billed, 0)),
            trim_scale(COALESCE(b.billed, 0) - COALESCE(t.tracked, 0)),
            CASE WHEN COALESCE(b.billed, 0) > 0 THEN trim_scale(round(COALESCE(t.tracked, 0) / b.billed, 6)) END,
            COALESCE(t.n, 0)::bigint, COALESCE(t.unpriced, 0)::bigint,
            b.input_tokens::bigint, b.output_tokens::bigint, b.requests::bigint
       FROM tracked t
       -- A tracked model is never NULL: billed costs tied to no model stay rows of their own.
       FULL JOIN billed b ON b.d = t.d AND b.p = t.p AND b.m = t.m
     $f$`;
}

export function providerCostsDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `DROP VIEW IF EXISTS ${s}.llm_reconciliation`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_reconciliation(date, date)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_model_key(text)`,
    `DROP TABLE IF EXISTS ${s}.llm_provider_cost_days`,
    `DROP TABLE IF EXISTS ${s}.llm_provider_costs`,
  ];
}
