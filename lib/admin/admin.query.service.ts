import { BadRequestException, Inject, Injectable, InternalServerErrorException, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { usd, usdToString } from '../core/money.js';
import { quoteSchema } from '../storage/schema.name.js';
import type { SqlPool } from '../storage/sql.pool.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { iso, toTraceSummary, TRACE_COLUMNS, type CallRow, type SpanRow, type TraceRow } from './admin.rows.js';
import type { CostGroupDto, CostReportDto, TraceDetailDto, TraceListDto, UnpricedModelsDto } from './dto/admin.responses.js';
import { TIME_BUCKETS, type CostsQuery, type TimeBucket } from './dto/costs.query.js';
import { DEFAULT_PAGE_SIZE, type ListTracesQuery } from './dto/list-traces.query.js';
import { parseIsoTime } from './dto/query-values.js';
import type { RangeQuery } from './dto/range.query.js';
import { SqlParams } from './sql.params.js';
import { decodeCursor, encodeCursor } from './trace.cursor.js';
import { buildTraceDetail } from './trace-detail.builder.js';
import { costReportSql, MAX_GROUPS } from './cost-report.query.js';
import { filterConditions, ON_TRACES } from './trace-filter.sql.js';

const DAY_MS = 86_400_000;
const BUCKET_MS: Record<TimeBucket, number> = { hour: 3_600_000, day: DAY_MS, week: 7 * DAY_MS };
/** Enough for a year of hours; more buckets than a chart can show is a mistake, not a query. */
const MAX_BUCKETS = 10_000;


/**
 * Read side of the admin API. Every statement is fixed text plus bound parameters (tag keys
 * included: they travel inside a JSON parameter or as the right operand of `->>`); the only
 * spliced identifier is the schema, validated when the module starts.
 */
@Injectable()
export class AdminQueryService {
  private readonly logger = new Logger('KostrackAdmin');

  constructor(@Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore) {}

  async listTraces(q: ListTracesQuery): Promise<TraceListDto> {
    const sort = q.sort ?? 'time';
    const order = q.order ?? 'desc';
    const limit = q.limit ?? DEFAULT_PAGE_SIZE;
    const { pool, s } = this.db();
    const p = new SqlParams();
    const where = filterConditions(q, p, ON_TRACES);
    if (q.minCost !== undefined) where.push(`t.total_cost_usd >= ${p.add(q.minCost)}::numeric`);
    const col = sort === 'cost' ? 't.total_cost_usd' : 't.started_at';
    const type = sort === 'cost' ? 'numeric' : 'timestamptz';
    // started_at is set by both write paths; NULLs would sort apart and break the keyset.
    if (sort === 'time') where.push('t.started_at IS NOT NULL');
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor, sort, order);
      const cmp = order === 'desc' ? '<' : '>';
      const v = p.add(c.value);
      const id = p.add(c.traceId);
      // One row comparison: the whole key (value, trace_id) is the index range, so a page after
      // thousands of traces tied on cost starts at its place instead of reading every tie before it.
      where.push(`(${col}, t.trace_id) ${cmp} (${v}::${type}, ${id}::uuid)`);
    }
    const dir = order === 'desc' ? 'DESC' : 'ASC';
    const sql = `SELECT ${TRACE_COLUMNS},
        to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_key
      FROM ${s}.llm_traces t
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${col} ${dir}, t.trace_id ${dir}
      LIMIT ${p.add(limit + 1)}`;
    const rows = await this.run<TraceRow>(pool, sql, p.values);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? encodeCursor({ sort, order, value: sort === 'cost' ? last.cost : last.started_key!, traceId: last.trace_id })
        : null;
    return { items: page.map(toTraceSummary), nextCursor, limit };
  }

  async traceDetail(traceId: string): Promise<TraceDetailDto> {
    const { pool, s } = this.db();
    // Three small indexed reads, in parallel on the pool's connections.
    const [traces, spans, calls] = await Promise.all([
      this.run<TraceRow>(pool, `SELECT ${TRACE_COLUMNS}, t.root_span_id, t.root_parent_span_id FROM ${s}.llm_traces t WHERE t.trace_id = $1`, [traceId]),
      this.run<SpanRow>(
        pool,
        `SELECT span_id, parent_span_id, name, started_at, ended_at, status FROM ${s}.llm_spans WHERE trace_id = $1 ORDER BY started_at, span_id`,
        [traceId],
      ),
      this.run<CallRow>(
        pool,
        `SELECT span_id, parent_span_id, time, service_id, provider, model, operation, cost_usd::text AS cost, pricing_source,
                pricing_model, input_tokens, output_tokens, cached_tokens, token_breakdown, latency_ms, status, error_class,
                streamed, tags, metadata, service_tier, pricing_flags, catalog_version, attempts
           FROM ${s}.llm_calls
          -- The trace's own time range lets PostgreSQL read only the months it ran in.
          WHERE trace_id = $1
            AND time >= (SELECT first_call_at FROM ${s}.llm_traces WHERE trace_id = $1)
            AND time <= (SELECT last_call_at FROM ${s}.llm_traces WHERE trace_id = $1)
          ORDER BY time, span_id`,
        [traceId],
      ),
    ]);
    if (traces.length === 0) throw new NotFoundException(`No trace ${traceId}`);
    return buildTraceDetail(traces[0], spans, calls);
  }

  async costs(q: CostsQuery): Promise<CostReportDto> {
    const to = q.to !== undefined ? parseIsoTime(q.to) : new Date();
    const from = q.from !== undefined ? parseIsoTime(q.from) : new Date(to.getTime() - 30 * DAY_MS);
    if (from.getTime() >= to.getTime()) throw new BadRequestException('from must be before to');
    const bucket = (TIME_BUCKETS as readonly string[]).includes(q.groupBy) ? (q.groupBy as TimeBucket) : null;
    if (q.series !== undefined && !bucket) throw new BadRequestException('series needs groupBy hour, day or week');
    if (bucket && (to.getTime() - from.getTime()) / BUCKET_MS[bucket] > MAX_BUCKETS)
      throw new BadRequestException(`the range holds more than ${MAX_BUCKETS} ${bucket}s; narrow it or use a larger bucket`);

    const { pool, s } = this.db();
    const { sql, values } = costReportSql(s, q, from, to, bucket);
    const dim = bucket ? q.series : q.groupBy;
    const rows = await this.run<Record<string, unknown>>(pool, sql, values);
    const groups = rows.map((r): CostGroupDto => {
      const cost = usd(r.cost as string);
      const g: CostGroupDto = {
        key: bucket ? (r.bucket as Date).toISOString() : ((r.dim as string | null) ?? null),
        costUsd: usdToString(cost),
        calls: Number(r.calls),
        unpricedCalls: Number(r.unpriced),
        inputTokens: Number(r.input_tokens),
        outputTokens: Number(r.output_tokens),
      };
      if (bucket) g.bucket = (r.bucket as Date).toISOString();
      if (bucket && q.series !== undefined) g.series = (r.dim as string | null) ?? null;
      if (dim === 'model' && bucket) g.seriesProvider = r.provider as string;
      else if (dim === 'model') g.provider = r.provider as string;
      return g;
    });
    const groupCount = rows.length ? Number(rows[0].group_count) : 0;
    const totalCostUsd = rows.length ? usdToString(usd(rows[0].total as string)) : '0';
    return {
      groupBy: q.groupBy,
      series: q.series ?? null,
      from: from.toISOString(),
      to: to.toISOString(),
      totalCostUsd,
      groupCount,
      truncated: groupCount > groups.length,
      groups,
    };
  }

  async unpricedModels(q: RangeQuery): Promise<UnpricedModelsDto> {
    const storage = this.store.storage();
    if (!storage) {
      const models = this.store.unpricedInProcess().map((m) => ({ ...m, firstSeen: m.firstSeen.toISOString(), lastSeen: null }));
      return { source: 'process', models };
    }
    // The hourly rollup counts unpriced calls per model and hour, so this reads hours, not calls:
    // first and last seen are the starts of the first and last hours with one, and a range takes
    // every hour it touches (from rounded down to its hour, so the hour it starts in counts).
    const p = new SqlParams();
    const where = ['h.unpriced_calls > 0'];
    if (q.from !== undefined) where.push(`h.hour >= ${p.add(new Date(Math.floor(parseIsoTime(q.from).getTime() / BUCKET_MS.hour) * BUCKET_MS.hour).toISOString())}::timestamptz`);
    if (q.to !== undefined) where.push(`h.hour < ${p.add(parseIsoTime(q.to).toISOString())}::timestamptz`);
    const rows = await this.run<{ provider: string; model: string; calls: string; first_seen: Date; last_seen: Date }>(
      storage.pool,
      `SELECT h.provider, h.model, sum(h.unpriced_calls) AS calls, min(h.hour) AS first_seen, max(h.hour) AS last_seen
         FROM ${quoteSchema(storage.schema)}.llm_cost_hourly h WHERE ${where.join(' AND ')}
        GROUP BY 1, 2 ORDER BY sum(h.unpriced_calls) DESC, 1, 2 LIMIT ${MAX_GROUPS}`,
      p.values,
    );
    return {
      source: 'database',
      models: rows.map((r) => ({ provider: r.provider, model: r.model, calls: Number(r.calls), firstSeen: r.first_seen.toISOString(), lastSeen: iso(r.last_seen) })),
    };
  }

  /** The open pool and quoted schema, or 503 while storage is off. */
  db(): { pool: SqlPool; s: string } {
    const storage = this.store.storage();
    if (!storage) throw new ServiceUnavailableException('Kostrack storage is off (database: false or enabled: false)');
    return { pool: storage.pool, s: quoteSchema(storage.schema) };
  }

  /**
   * Runs a statement; database errors never reach the client as text (it could show SQL or
   * data). A value PostgreSQL rejects (class 22) is the request's fault: 400.
   */
  async run<R>(pool: SqlPool, sql: string, params: unknown[]): Promise<R[]> {
    try {
      return await pool.query<R>(sql, params);
    } catch (e) {
      const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : '';
      if (code.startsWith('22')) throw new BadRequestException('A filter value is out of range');
      this.logger.error(`Admin query failed (${code || (e as Error)?.constructor?.name || 'error'}): ${(e as Error)?.message ?? e}`);
      throw new InternalServerErrorException('Kostrack admin query failed');
    }
  }
}
