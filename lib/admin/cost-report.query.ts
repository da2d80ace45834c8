import type { CostsQuery, TimeBucket } from './dto/costs.query.js';
import { SqlParams } from './sql.params.js';
import { filterConditions, filtersFit, ON_CALLS, ON_HOURLY } from './trace-filter.sql.js';

const HOUR_MS = 3_600_000;
/** Tags llm_cost_hourly keeps as columns. */
const HOURLY_TAGS = new Set(['feature', 'project', 'user_id']);
export const MAX_GROUPS = 1000;

export interface CostReportSql {
  sql: string;
  values: unknown[];
  /** `hourly` when whole hours came from llm_cost_hourly (and only the partial hours at the edges from calls). */
  source: 'hourly' | 'calls';
}

/**
 * The cost report's statement. Whole hours of the range are read from the hourly rollup, in time
 * proportional to buckets, not calls; the partial hours at either end (a range need not start on
 * the hour) and any grouping or filter on a tag the rollup does not keep come from `llm_calls`.
 * Both feed one source with the same columns, so sums, ordering and the capped total are computed
 * once whichever way the rows came.
 */
export function costReportSql(s: string, q: CostsQuery, from: Date, to: Date, bucket: TimeBucket | null): CostReportSql {
  const p = new SqlParams();
  const dim = bucket ? q.series : q.groupBy;
  const tagKey = dim?.startsWith('tag:') ? dim.slice(4) : null;
  const firstHour = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const lastHour = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  const hourly = firstHour < lastHour && filtersFit(q, ON_HOURLY) && (tagKey === null || HOURLY_TAGS.has(tagKey));

  const filters = { ...q, from: undefined, to: undefined };
  const callsWhere = filterConditions(filters, p, ON_CALLS);
  const fromP = p.add(from.toISOString());
  const toP = p.add(to.toISOString());
  const callColumns = `c.time AS t, c.provider, c.model, c.tags->>'feature' AS feature, c.tags->>'project' AS project,
           c.tags->>'user_id' AS user_id, c.tags, c.cost_usd AS cost, c.cost_usd AS priced, 1 AS calls,
           (c.cost_usd IS NULL)::int AS unpriced, c.input_tokens, c.output_tokens`;
  let source: string;
  if (hourly) {
    const a = p.add(new Date(firstHour).toISOString());
    const b = p.add(new Date(lastHour).toISOString());
    const hourlyWhere = [`h.hour >= ${a}::timestamptz`, `h.hour < ${b}::timestamptz`, ...filterConditions(filters, p, ON_HOURLY)];
    const edges = `((c.time >= ${fromP}::timestamptz AND c.time < ${a}::timestamptz) OR (c.time >= ${b}::timestamptz AND c.time < ${toP}::timestamptz))`;
    source = `SELECT h.hour AS t, h.provider, h.model, h.feature, h.project, h.user_id, NULL::jsonb AS tags, h.cost_usd AS cost,
           CASE WHEN h.calls > h.unpriced_calls THEN h.cost_usd END AS priced, h.calls, h.unpriced_calls AS unpriced,
           h.input_tokens, h.output_tokens
      FROM ${s}.llm_cost_hourly h WHERE ${hourlyWhere.join(' AND ')}
    UNION ALL
    SELECT ${callColumns} FROM ${s}.llm_calls c WHERE ${[edges, ...callsWhere].join(' AND ')}`;
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
  return { sql, values: p.values, source: hourly ? 'hourly' : 'calls' };
}
