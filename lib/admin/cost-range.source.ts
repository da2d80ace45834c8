import type { TraceFilterQuery } from './dto/trace-filter.query.js';
import type { SqlParams } from './sql.params.js';
import { filterConditions, filtersFit, ON_CALLS, ON_DAILY, ON_HOURLY, ON_HOURLY_TOTALS } from './trace-filter.sql.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface CostRangeSource {
  /**
   * A row source (for `FROM (…) x`) with the columns `t` (the row's time: call time, hour or day),
   * `provider`, `model`, `feature`, `project`, `user_id` (NULL on daily rows), `tags` (calls only),
   * `cost`, `priced` (the cost when some call of the row was priced), `calls`, `unpriced`, `errors`,
   * `input_tokens`, `output_tokens`, `cached_tokens`: every call of `[from, to)` counted exactly once.
   */
  sql: string;
  /** The coarsest part read: `daily` (whole days), `hourly` (whole hours), or `calls` throughout. */
  source: 'daily' | 'hourly' | 'calls';
}

export interface CostRangeNeeds {
  /** The rows must keep the user (no daily rows). */
  user?: boolean;
  /** The rows must keep the hour (no daily rows). */
  hour?: boolean;
  /** The rows must keep a tag the daily rollup has no column for. */
  noDaily?: boolean;
  /** The rows must keep a tag no rollup has a column for (calls throughout). */
  calls?: boolean;
}

/**
 * The calls of `[from, to)` matching `q`'s filters, read from the coarsest rollup that holds them
 * so the cost is proportional to days, not calls: whole UTC days from `llm_cost_daily`, the hours
 * of the partial days at either edge from `llm_cost_hourly_totals` (or, when the user is needed,
 * from `llm_cost_hourly` throughout, which keeps it), and the minutes of the partial hours at the
 * very ends (a range need not start on the hour) from `llm_calls`.
 * A filter on a tag a rollup has no column for moves to the next finer source. `q.from`/`q.to` are
 * ignored (`from`/`to` are the range).
 */
export function costRangeSource(s: string, q: TraceFilterQuery, from: Date, to: Date, p: SqlParams, needs: CostRangeNeeds = {}): CostRangeSource {
  const firstHour = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const lastHour = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  const firstDay = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const lastDay = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  const hourly = !needs.calls && firstHour < lastHour && filtersFit(q, ON_HOURLY);
  // Without the user, an hour holds one row per key instead of one per active user.
  const userless = hourly && !needs.user && !needs.noDaily && filtersFit(q, ON_HOURLY_TOTALS);
  const daily = userless && !needs.hour && firstDay < lastDay && filtersFit(q, ON_DAILY);
  const hourTable = userless ? 'llm_cost_hourly_totals' : 'llm_cost_hourly';

  const filters = { ...q, from: undefined, to: undefined };
  const callsWhere = filterConditions(filters, p, ON_CALLS);
  const fromP = p.add(from.toISOString());
  const toP = p.add(to.toISOString());
  const callColumns = `c.time AS t, c.provider, c.model, c.tags->>'feature' AS feature, c.tags->>'project' AS project,
           c.tags->>'user_id' AS user_id, c.tags, c.cost_usd AS cost, c.cost_usd AS priced, 1 AS calls,
           (c.cost_usd IS NULL)::int AS unpriced, (c.status NOT IN ('ok', 'blocked'))::int AS errors,
           c.input_tokens, c.output_tokens, c.cached_tokens`;
  // The rollups count errors as the writer does: any status but ok and blocked.
  const rollupColumns = (r: string, time: string, user: string) =>
    `${r}.${time} AS t, ${r}.provider, ${r}.model, ${r}.feature, ${r}.project, ${user} AS user_id, NULL::jsonb AS tags, ${r}.cost_usd AS cost,
           CASE WHEN ${r}.calls > ${r}.unpriced_calls THEN ${r}.cost_usd END AS priced, ${r}.calls, ${r}.unpriced_calls AS unpriced,
           ${r}.error_calls AS errors, ${r}.input_tokens, ${r}.output_tokens, ${r}.cached_tokens`;
  if (!hourly) {
    const where = [`c.time >= ${fromP}::timestamptz`, `c.time < ${toP}::timestamptz`, ...callsWhere];
    return { sql: `SELECT ${callColumns} FROM ${s}.llm_calls c WHERE ${where.join(' AND ')}`, source: 'calls' };
  }
  const a = p.add(new Date(firstHour).toISOString());
  const b = p.add(new Date(lastHour).toISOString());
  const parts: string[] = [];
  let hours = `h.hour >= ${a}::timestamptz AND h.hour < ${b}::timestamptz`;
  if (daily) {
    const da = p.add(new Date(firstDay).toISOString());
    const db = p.add(new Date(lastDay).toISOString());
    const dailyWhere = [`d.day >= ${da}::timestamptz`, `d.day < ${db}::timestamptz`, ...filterConditions(filters, p, ON_DAILY)];
    parts.push(`SELECT ${rollupColumns('d', 'day', 'NULL::text')} FROM ${s}.llm_cost_daily d WHERE ${dailyWhere.join(' AND ')}`);
    hours = `((h.hour >= ${a}::timestamptz AND h.hour < ${da}::timestamptz) OR (h.hour >= ${db}::timestamptz AND h.hour < ${b}::timestamptz))`;
  }
  const hourWhere = [hours, ...filterConditions(filters, p, userless ? ON_HOURLY_TOTALS : ON_HOURLY)];
  parts.push(`SELECT ${rollupColumns('h', 'hour', userless ? 'NULL::text' : 'h.user_id')} FROM ${s}.${hourTable} h WHERE ${hourWhere.join(' AND ')}`);
  const edges = `((c.time >= ${fromP}::timestamptz AND c.time < ${a}::timestamptz) OR (c.time >= ${b}::timestamptz AND c.time < ${toP}::timestamptz))`;
  parts.push(`SELECT ${callColumns} FROM ${s}.llm_calls c WHERE ${[edges, ...callsWhere].join(' AND ')}`);
  return { sql: parts.join('\n    UNION ALL\n    '), source: daily ? 'daily' : 'hourly' };
}
