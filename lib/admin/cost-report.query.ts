import type { CostsQuery, TimeBucket } from './dto/costs.query.js';
import { SqlParams } from './sql.params.js';
import { filterConditions, filtersFit, ON_CALLS, ON_DAILY, ON_HOURLY } from './trace-filter.sql.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Tags llm_cost_hourly keeps as columns. */
const HOURLY_TAGS = new Set(['feature', 'project', 'user_id']);
/** Tags llm_cost_daily keeps as columns (no user: its rows stay few whatever the number of users). */
const DAILY_TAGS = new Set(['feature', 'project']);
export const MAX_GROUPS = 1000;

export interface CostReportSql {
  sql: string;
  values: unknown[];
  /**
   * The coarsest source read: `daily` when whole days came from llm_cost_daily (their edges from
   * llm_cost_hourly and the calls), `hourly` when whole hours came from llm_cost_hourly, `calls`
   * when the report needed the call rows throughout.
   */
  source: 'daily' | 'hourly' | 'calls';
}

/**
 * The cost report's statement, read from the coarsest rollup that can answer it so the time is
 * proportional to buckets, not calls: whole days from the daily rollup (unless the report is by
 * hour or filters or groups by user), the partial days at either end from the hourly rollup, and
 * the partial hours at the very ends (a range need not start on the hour) from `llm_calls`. A
 * grouping or filter on a tag no rollup keeps reads `llm_calls` throughout. All parts feed one
 * source with the same columns, so sums, ordering and the capped total are computed once whichever
 * way the rows came.
 */
export function costReportSql(s: string, q: CostsQuery, from: Date, to: Date, bucket: TimeBucket | null): CostReportSql {
  const p = new SqlParams();
  const dim = bucket ? q.series : q.groupBy;
  const tagKey = dim?.startsWith('tag:') ? dim.slice(4) : null;
  const firstHour = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const lastHour = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  const firstDay = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const lastDay = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  const hourly = firstHour < lastHour && filtersFit(q, ON_HOURLY) && (tagKey === null || HOURLY_TAGS.has(tagKey));
  const daily = hourly && bucket !== 'hour' && firstDay < lastDay && filtersFit(q, ON_DAILY) && (tagKey === null || DAILY_TAGS.has(tagKey));

  const filters = { ...q, from: undefined, to: undefined };
  const callsWhere = filterConditions(filters, p, ON_CALLS);
  const fromP = p.add(from.toISOString());
  const toP = p.add(to.toISOString());
  const callColumns = `c.time AS t, c.provider, c.model, c.tags->>'feature' AS feature, c.tags->>'project' AS project,
           c.tags->>'user_id' AS user_id, c.tags, c.cost_usd AS cost, c.cost_usd AS priced, 1 AS calls,
           (c.cost_usd IS NULL)::int AS unpriced, c.input_tokens, c.output_tokens`;
  const rollupColumns = (r: string, time: string, user: string) =>
    `${r}.${time} AS t, ${r}.provider, ${r}.model, ${r}.feature, ${r}.project, ${user} AS user_id, NULL::jsonb AS tags, ${r}.cost_usd AS cost,
           CASE WHEN ${r}.calls > ${r}.unpriced_calls THEN ${r}.cost_usd END AS priced, ${r}.calls, ${r}.unpriced_calls AS unpriced,
           ${r}.input_tokens, ${r}.output_tokens`;
  let source: string;
  if (hourly) {
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
    parts.push(`SELECT ${rollupColumns('h', 'hour', 'h.user_id')} FROM ${s}.llm_cost_hourly h WHERE ${[hours, ...filterConditions(filters, p, ON_HOURLY)].join(' AND ')}`);
    const edges = `((c.time >= ${fromP}::timestamptz AND c.time < ${a}::timestamptz) OR (c.time >= ${b}::timestamptz AND c.time < ${toP}::timestamptz))`;
    parts.push(`SELECT ${callColumns} FROM ${s}.llm_calls c WHERE ${[edges, ...callsWhere].join(' AND ')}`);
    source = parts.join('\n    UNION ALL\n    ');
  } else {
    source = `SELECT ${callColumns} FROM ${s}.llm_calls c
      WHERE ${[`c.time >= ${fromP}::timestamptz`, `c.time < ${toP}::timestamptz`, ...callsWhere].join(' AND ')}`;
  }

  // Dimensions in a fixed order; GROUP BY uses positions so a bound tag key appears once.
  const dims: string[] = [];
  if (bucket) dims.push(`date_trunc(${p.add(bucket)}, x.t, 'UTC') AS bucket`);
  if (dim === 'model') dims.push('x.provider AS provider', 'x.model AS dim');
  else if (dim === 'provider') dims.push('x.provider AS dim');
  else if (tagKey !== null) dims.push(HOURLY_TAGS.has(tagKey) ? `x.${tagKey} AS dim` : `x.tags->>${p.add(tagKey)} AS dim`);
  const positions = dims.map((_, i) => i + 1).join(', ');
  // Order by the numeric sum of priced costs, never the text alias ('9.5' would sort above '10.2');
  // a group with no priced call sorts last, as NULL.
  const orderBy = bucket ? `1, sum(x.priced) DESC NULLS LAST, ${positions}` : `sum(x.priced) DESC NULLS LAST, ${positions}`;
  // Window totals run over every group before LIMIT, so a capped report still has the true total.
  const sql = `SELECT ${dims.join(', ')},
      trim_scale(COALESCE(sum(x.cost), 0))::text AS cost, sum(x.calls) AS calls,
      trim_scale(COALESCE(sum(sum(x.cost)) OVER (), 0))::text AS total, count(*) OVER () AS group_count,
      sum(x.unpriced) AS unpriced,
      COALESCE(sum(x.input_tokens), 0) AS input_tokens, COALESCE(sum(x.output_tokens), 0) AS output_tokens
    FROM (${source}) x
    GROUP BY ${positions}
    ORDER BY ${orderBy}
    LIMIT ${MAX_GROUPS}`;
  return { sql, values: p.values, source: daily ? 'daily' : hourly ? 'hourly' : 'calls' };
}
