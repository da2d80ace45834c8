import type { CostsQuery, TimeBucket } from './dto/costs.query.js';
import { costRangeSource } from './cost-range.source.js';
import { SqlParams } from './sql.params.js';
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
   * the hourly rollups and the calls), `hourly` when whole hours came from llm_cost_hourly or, for
   * a report not by user, llm_cost_hourly_totals; `calls` when it needed the call rows throughout.
   */
  source: 'daily' | 'hourly' | 'calls';
}

/**
 * The cost report's statement, read from the coarsest rollup that can answer it so the time is
 * proportional to buckets, not calls: whole days from the daily rollup (unless the report is by
 * hour), the whole hours of the partial days at either end from the hourly totals, and the partial
 * hours at the very ends (a range need not start on the hour) from `llm_calls`. Reports that filter
 * or group by user read `llm_cost_hourly` (keyed by user) instead of both user-less rollups. A
 * grouping or filter on a tag no rollup keeps reads `llm_calls` throughout. All parts feed one
 * source with the same columns, so sums, ordering and the capped total are computed once whichever
 * way the rows came.
 */
export function costReportSql(s: string, q: CostsQuery, from: Date, to: Date, bucket: TimeBucket | null): CostReportSql {
  const p = new SqlParams();
  const dim = bucket ? q.series : q.groupBy;
  const tagKey = dim?.startsWith('tag:') ? dim.slice(4) : null;
  const { sql: source, source: kind } = costRangeSource(s, q, from, to, p, {
    hour: bucket === 'hour',
    user: tagKey === 'user_id',
    noDaily: tagKey !== null && !DAILY_TAGS.has(tagKey),
    calls: tagKey !== null && !HOURLY_TAGS.has(tagKey),
  });

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
  return { sql, values: p.values, source: kind };
}
