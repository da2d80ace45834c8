import { quoteSchema } from '../schema.name.js';

/**
 * Version 4: durable budgets. `llm_budgets` declares a limit per scope (a tag such as `user_id`,
 * `feature`, `project`, a tenant tag, or `service` for `service_id`) and period (UTC hour, day,
 * month, or `total`); `scope_value` NULL means each value of the tag has its own limit.
 * `llm_budget_usage` holds what each scope spent in each period, maintained at ingest in the same
 * transaction as the calls (only rows actually inserted count, so a replay never counts twice),
 * and what calls in flight hold (`reserved`). `llm_budget_reservations` is each held amount,
 * keyed by the call's span id, with an expiry so a crashed process frees what it held; the
 * writer turns a reservation into spent money when the call's row lands.
 * `kostrack_budget_admit()` admits a call against several budgets at once, atomically across
 * processes: it locks the scopes' usage rows in key order (no deadlocks), frees expired holds,
 * and reserves on all of them or none.
 */
export function budgetsUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.llm_budgets (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name text NOT NULL UNIQUE,
      scope_tag text NOT NULL,
      scope_value text,
      period text NOT NULL CHECK (period IN ('hour', 'day', 'month', 'total')),
      limit_usd numeric NOT NULL CHECK (limit_usd >= 0),
      mode text NOT NULL DEFAULT 'enforce' CHECK (mode IN ('enforce', 'warn')),
      unpriced text NOT NULL DEFAULT 'refuse' CHECK (unpriced IN ('refuse', 'allow')),
      when_database_down text NOT NULL DEFAULT 'allow' CHECK (when_database_down IN ('allow', 'refuse')),
      alerts integer[] NOT NULL DEFAULT '{}',
      source text NOT NULL DEFAULT 'api' CHECK (source IN ('options', 'api')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    // Two budgets on the same scope and period would overlap: which one refused would be arbitrary.
    `CREATE UNIQUE INDEX IF NOT EXISTS llm_budgets_scope_uidx ON ${s}.llm_budgets (scope_tag, COALESCE(scope_value, ''), (scope_value IS NULL), period)`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_budget_usage (
      budget_id bigint NOT NULL REFERENCES ${s}.llm_budgets (id) ON DELETE CASCADE,
      scope_value text NOT NULL,
      period_start timestamptz NOT NULL,
      spent numeric NOT NULL DEFAULT 0,
      reserved numeric NOT NULL DEFAULT 0,
      calls integer NOT NULL DEFAULT 0,
      alerted integer NOT NULL DEFAULT 0,
      PRIMARY KEY (budget_id, scope_value, period_start)
    )`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_budget_reservations (
      span_id uuid NOT NULL,
      budget_id bigint NOT NULL,
      scope_value text NOT NULL,
      period_start timestamptz NOT NULL,
      amount numeric NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (span_id, budget_id),
      FOREIGN KEY (budget_id, scope_value, period_start) REFERENCES ${s}.llm_budget_usage (budget_id, scope_value, period_start) ON DELETE CASCADE
    )`,
    `CREATE INDEX IF NOT EXISTS llm_budget_reservations_scope_idx ON ${s}.llm_budget_reservations (budget_id, scope_value, period_start, expires_at)`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_period_start(period text, at timestamptz) RETURNS timestamptz
       LANGUAGE sql IMMUTABLE AS $$
         SELECT CASE period WHEN 'hour' THEN date_trunc('hour', at, 'UTC') WHEN 'day' THEN date_trunc('day', at, 'UTC')
                            WHEN 'month' THEN date_trunc('month', at, 'UTC') ELSE 'epoch'::timestamptz END
       $$`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_period_end(period text, start timestamptz) RETURNS timestamptz
       LANGUAGE sql IMMUTABLE AS $$
         SELECT CASE period WHEN 'hour' THEN start + interval '1 hour' WHEN 'day' THEN (start AT TIME ZONE 'UTC' + interval '1 day') AT TIME ZONE 'UTC'
                            WHEN 'month' THEN (start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC' ELSE NULL END
       $$`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_budget_admit(p_budget_ids bigint[], p_scope_values text[], p_period_starts timestamptz[],
         p_amount numeric, p_span_id uuid, p_ttl_ms integer, p_force boolean)
       RETURNS TABLE (budget_id bigint, scope_value text, period_start timestamptz, limit_usd numeric, spent numeric, reserved numeric, admitted boolean)
       LANGUAGE plpgsql AS $$
       #variable_conflict use_column
       DECLARE
         all_fit boolean;
       BEGIN
         INSERT INTO ${s}.llm_budget_usage (budget_id, scope_value, period_start)
           SELECT DISTINCT k.b, k.v, k.p FROM unnest(p_budget_ids, p_scope_values, p_period_starts) AS k(b, v, p) ORDER BY 1, 2, 3
           ON CONFLICT DO NOTHING;
         -- One admission at a time per scope, across processes; always in key order.
         PERFORM 1 FROM ${s}.llm_budget_usage u
           WHERE (u.budget_id, u.scope_value, u.period_start) IN (SELECT * FROM unnest(p_budget_ids, p_scope_values, p_period_starts))
           ORDER BY u.budget_id, u.scope_value, u.period_start FOR UPDATE;
         -- What crashed processes held, and never will settle, is freed. A hold another transaction
         -- has locked (the writer landing its call, a settle) is skipped, not waited for: they lock
         -- holds before usage rows, this locks usage rows first, and waiting would deadlock.
         WITH expired AS (
           DELETE FROM ${s}.llm_budget_reservations r
            WHERE r.ctid IN (
              SELECT x.ctid FROM ${s}.llm_budget_reservations x
               WHERE (x.budget_id, x.scope_value, x.period_start) IN (SELECT * FROM unnest(p_budget_ids, p_scope_values, p_period_starts))
                 AND x.expires_at < now()
               FOR UPDATE SKIP LOCKED)
           RETURNING r.budget_id, r.scope_value, r.period_start, r.amount
         ), freed AS (
           SELECT e.budget_id, e.scope_value, e.period_start, sum(e.amount) AS amount FROM expired e GROUP BY 1, 2, 3
         )
         UPDATE ${s}.llm_budget_usage u SET reserved = GREATEST(u.reserved - f.amount, 0)
           FROM freed f WHERE u.budget_id = f.budget_id AND u.scope_value = f.scope_value AND u.period_start = f.period_start;
         SELECT COALESCE(bool_and(b.mode = 'warn' OR b.limit_usd - u.spent - u.reserved >= p_amount), true) INTO all_fit
           FROM ${s}.llm_budget_usage u JOIN ${s}.llm_budgets b ON b.id = u.budget_id
          WHERE (u.budget_id, u.scope_value, u.period_start) IN (SELECT * FROM unnest(p_budget_ids, p_scope_values, p_period_starts));
         IF (all_fit OR p_force) AND p_amount > 0 THEN
           UPDATE ${s}.llm_budget_usage u SET reserved = u.reserved + p_amount
            WHERE (u.budget_id, u.scope_value, u.period_start) IN (SELECT * FROM unnest(p_budget_ids, p_scope_values, p_period_starts));
           INSERT INTO ${s}.llm_budget_reservations (span_id, budget_id, scope_value, period_start, amount, expires_at)
             SELECT DISTINCT p_span_id, k.b, k.v, k.p, p_amount, now() + p_ttl_ms * interval '1 millisecond'
               FROM unnest(p_budget_ids, p_scope_values, p_period_starts) AS k(b, v, p)
             ON CONFLICT DO NOTHING;
         END IF;
         RETURN QUERY
           SELECT u.budget_id, u.scope_value, u.period_start, b.limit_usd, u.spent, u.reserved, (all_fit OR p_force)
             FROM ${s}.llm_budget_usage u JOIN ${s}.llm_budgets b ON b.id = u.budget_id
            WHERE (u.budget_id, u.scope_value, u.period_start) IN (SELECT * FROM unnest(p_budget_ids, p_scope_values, p_period_starts))
            ORDER BY 1, 2, 3;
       END
       $$`,
    budgetStatusViewV4(s),
    `CREATE INDEX IF NOT EXISTS llm_budget_usage_period_idx ON ${s}.llm_budget_usage (budget_id, period_start)`,
  ];
}

/** The current period of each budget (per scope value), in UTC: what is spent, what live holds take, what is left. */
export function budgetStatusViewV4(s: string): string {
  return `CREATE OR REPLACE VIEW ${s}.budget_status AS
       SELECT b.id AS budget_id, b.name, b.scope_tag, COALESCE(u.scope_value, b.scope_value) AS scope_value, b.period, b.mode,
              b.limit_usd, COALESCE(u.spent, 0) AS spent_usd, COALESCE(h.held, 0) AS reserved_usd,
              GREATEST(b.limit_usd - COALESCE(u.spent, 0) - COALESCE(h.held, 0), 0) AS remaining_usd,
              COALESCE(u.calls, 0) AS calls, ${s}.kostrack_period_start(b.period, now()) AS period_start,
              ${s}.kostrack_period_end(b.period, ${s}.kostrack_period_start(b.period, now())) AS resets_at
         FROM ${s}.llm_budgets b
         LEFT JOIN ${s}.llm_budget_usage u ON u.budget_id = b.id AND u.period_start = ${s}.kostrack_period_start(b.period, now())
         LEFT JOIN LATERAL (SELECT sum(r.amount) AS held FROM ${s}.llm_budget_reservations r
                             WHERE r.budget_id = u.budget_id AND r.scope_value = u.scope_value AND r.period_start = u.period_start
                               AND r.expires_at >= now()) h ON true`;
}

export function budgetsDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `DROP VIEW IF EXISTS ${s}.budget_status`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_budget_admit(bigint[], text[], timestamptz[], numeric, uuid, integer, boolean)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_period_end(text, timestamptz)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_period_start(text, timestamptz)`,
    `DROP TABLE IF EXISTS ${s}.llm_budget_reservations`,
    `DROP TABLE IF EXISTS ${s}.llm_budget_usage`,
    `DROP TABLE IF EXISTS ${s}.llm_budgets`,
  ];
}
