import { parseIsoTime, TAG_FILTER } from './dto/query-values.js';
import type { TraceFilterQuery } from './dto/trace-filter.query.js';
import type { SqlParams } from './sql.params.js';

/** Where a filter reads its columns: the trace rollup, the call rows, or the hourly rollup. */
export interface FilterTarget {
  time: string;
  tags: string;
  service: (placeholder: string) => string;
  /**
   * Tag keys this target has a column or an index expression for, e.g. `t.tags->>'user_id'`:
   * compared with `=` there (an index), every other key through JSON containment.
   */
  columns: Readonly<Record<string, string>>;
}

export const ON_TRACES: FilterTarget = {
  time: 't.started_at',
  tags: 't.tags',
  service: (p) => `t.service_ids @> ARRAY[${p}]::text[]`,
  // llm_traces_user_idx and llm_traces_feature_idx: one user's traces among many are an index range.
  columns: { user_id: "(t.tags->>'user_id')", feature: "(t.tags->>'feature')" },
};
export const ON_CALLS: FilterTarget = { time: 'c.time', tags: 'c.tags', service: (p) => `c.service_id = ${p}`, columns: {} };
/** llm_cost_hourly keeps exactly these tags as columns; a filter on any other tag cannot be answered there. */
export const ON_HOURLY: FilterTarget = {
  time: 'h.hour',
  tags: '',
  service: (p) => `h.service_id = ${p}`,
  columns: { feature: 'h.feature', project: 'h.project', user_id: 'h.user_id' },
};

/** llm_cost_hourly_totals: the hourly rollup's columns without the user. */
export const ON_HOURLY_TOTALS: FilterTarget = {
  time: 'h.hour',
  tags: '',
  service: (p) => `h.service_id = ${p}`,
  columns: { feature: 'h.feature', project: 'h.project' },
};
/** llm_cost_daily: the hourly rollup's columns without the user. */
export const ON_DAILY: FilterTarget = {
  time: 'd.day',
  tags: '',
  service: (p) => `d.service_id = ${p}`,
  columns: { feature: 'd.feature', project: 'd.project' },
};

/** The tag filters of a query, by key; `contradictory` when one key is asked for two values. */
export function tagFilters(q: TraceFilterQuery): { tags: Record<string, string>; contradictory: boolean } {
  const wanted: [string, string][] = [];
  if (q.feature !== undefined) wanted.push(['feature', q.feature]);
  if (q.project !== undefined) wanted.push(['project', q.project]);
  if (q.user !== undefined) wanted.push(['user_id', q.user]);
  for (const t of q.tag ?? []) {
    const m = TAG_FILTER.exec(t)!;
    wanted.push([m[1], m[2]]);
  }
  const tags: Record<string, string> = Object.create(null);
  let contradictory = false;
  for (const [k, v] of wanted) {
    if (k in tags && tags[k] !== v) contradictory = true;
    tags[k] = v;
  }
  return { tags, contradictory };
}

/** Whether every tag filter of `q` has a column on `target`. */
export function filtersFit(q: TraceFilterQuery, target: FilterTarget): boolean {
  return Object.keys(tagFilters(q).tags).every((k) => Object.hasOwn(target.columns, k));
}

/** Filters shared by traces and costs, as SQL conditions on `target` with bound parameters. */
export function filterConditions(q: TraceFilterQuery, p: SqlParams, target: FilterTarget): string[] {
  const where: string[] = [];
  if (q.from !== undefined) where.push(`${target.time} >= ${p.add(parseIsoTime(q.from).toISOString())}::timestamptz`);
  if (q.to !== undefined) where.push(`${target.time} < ${p.add(parseIsoTime(q.to).toISOString())}::timestamptz`);
  const { tags, contradictory } = tagFilters(q);
  // Two values for one key can never both match.
  if (contradictory) where.push('false');
  else {
    // Null prototype, and own keys only: a tag key may be "__proto__".
    const rest: Record<string, string> = Object.create(null);
    for (const [k, v] of Object.entries(tags)) {
      const column = Object.hasOwn(target.columns, k) ? target.columns[k] : undefined;
      if (column) where.push(`${column} = ${p.add(v)}`);
      else rest[k] = v;
    }
    if (Object.keys(rest).length > 0) {
      if (!target.tags) throw new Error(`no tag column for ${Object.keys(rest).join(', ')}`);
      where.push(`${target.tags} @> ${p.add(JSON.stringify(rest))}::jsonb`);
    }
  }
  if (q.service !== undefined) where.push(target.service(p.add(q.service)));
  return where;
}
