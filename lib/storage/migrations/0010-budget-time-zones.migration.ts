import { quoteSchema } from '../schema.name.js';
import { budgetStatusViewV4 } from './0004-budgets.migration.js';

/**
 * Version 10: a budget's periods in a time zone of its own (`llm_budgets.time_zone`, an IANA name,
 * 'UTC' for every budget before this version). A team in New York means its daily limit from
 * midnight to midnight there, not 19:00 to 19:00.
 *
 * The three-argument `kostrack_period_start` / `kostrack_period_end` compute the period with
 * `date_trunc(period, at, zone)` (and end it at the next local midnight, also on a day that began
 * at 01:00 because a daylight-saving change skipped its midnight); the process computes the same instants itself
 * (budget.period.ts) when it admits a call, and a test compares the two around every
 * daylight-saving change of several zones. The two-argument functions stay (UTC) for SQL that
 * uses them. Adding a column with a constant default rewrites nothing. The check takes 'UTC' or an
 * Area/Location name PostgreSQL knows (the error names one it does not): not an abbreviation such as
 * 'IST', which PostgreSQL reads as a fixed offset of its own ('IST' is Israel there, Kolkata in
 * Node), nor an offset such as '+05:30', which it reads as POSIX, with the sign reversed.
 */
export function budgetTimeZonesUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_period_start(period text, at timestamptz, zone text) RETURNS timestamptz
       LANGUAGE sql IMMUTABLE AS $$
         SELECT CASE WHEN period IN ('hour', 'day', 'month') THEN date_trunc(period, at, zone) ELSE 'epoch'::timestamptz END
       $$`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_period_end(period text, start timestamptz, zone text) RETURNS timestamptz
       LANGUAGE sql IMMUTABLE AS $$
         SELECT CASE period WHEN 'hour' THEN start + interval '1 hour'
                            WHEN 'day' THEN (date_trunc('day', start AT TIME ZONE zone) + interval '1 day') AT TIME ZONE zone
                            WHEN 'month' THEN (date_trunc('month', start AT TIME ZONE zone) + interval '1 month') AT TIME ZONE zone ELSE NULL END
       $$`,
    `ALTER TABLE ${s}.llm_budgets ADD COLUMN IF NOT EXISTS time_zone text NOT NULL DEFAULT 'UTC'
       CONSTRAINT llm_budgets_time_zone_check CHECK (time_zone ~ '^(UTC|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)+)$' AND time_zone !~ '^(posix|right)/' AND ${s}.kostrack_period_start('day', 'epoch', time_zone) IS NOT NULL)`,
    `CREATE OR REPLACE VIEW ${s}.budget_status AS
       SELECT b.id AS budget_id, b.name, b.scope_tag, COALESCE(u.scope_value, b.scope_value) AS scope_value, b.period, b.mode,
              b.limit_usd, COALESCE(u.spent, 0) AS spent_usd, COALESCE(h.held, 0) AS reserved_usd,
              GREATEST(b.limit_usd - COALESCE(u.spent, 0) - COALESCE(h.held, 0), 0) AS remaining_usd,
              COALESCE(u.calls, 0) AS calls, p.start AS period_start, ${s}.kostrack_period_end(b.period, p.start, b.time_zone) AS resets_at,
              b.time_zone
         FROM ${s}.llm_budgets b
         CROSS JOIN LATERAL (SELECT ${s}.kostrack_period_start(b.period, now(), b.time_zone) AS start) p
         LEFT JOIN ${s}.llm_budget_usage u ON u.budget_id = b.id AND u.period_start = p.start
         LEFT JOIN LATERAL (SELECT sum(r.amount) AS held FROM ${s}.llm_budget_reservations r
                             WHERE r.budget_id = u.budget_id AND r.scope_value = u.scope_value AND r.period_start = u.period_start
                               AND r.expires_at >= now()) h ON true`,
  ];
}

export function budgetTimeZonesDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `DROP VIEW IF EXISTS ${s}.budget_status`,
    budgetStatusViewV4(s),
    `ALTER TABLE ${s}.llm_budgets DROP COLUMN IF EXISTS time_zone`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_period_end(text, timestamptz, text)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_period_start(text, timestamptz, text)`,
  ];
}
