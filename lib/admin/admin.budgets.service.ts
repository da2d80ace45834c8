import { BadRequestException, ConflictException, Inject, Injectable, InternalServerErrorException, Logger, NotFoundException } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { usd, usdToString } from '../core/money.js';
import { checkBudget, type CheckedBudget } from '../storage/budget.declaration.js';
import { periodEnd, periodStart, type BudgetPeriod } from '../storage/budget.period.js';
import type { SqlPool } from '../storage/sql.pool.js';
import { iso, money } from './admin.rows.js';
import { AdminQueryService } from './admin.query.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import type { BlockedCallDto, BlockedCallsDto, BudgetDto, BudgetListDto, BudgetUsageDto } from './dto/admin.responses.js';
import { BUDGET_CHANGES, type CreateBudgetBody, type UpdateBudgetBody } from './dto/budget.body.js';
import { DEFAULT_BLOCKED, DEFAULT_SCOPE_VALUES, type BlockedCallsQuery, type BudgetsQuery } from './dto/budgets.query.js';
import { parseIsoTime } from './dto/query-values.js';
import { SqlParams } from './sql.params.js';

const DAY_MS = 86_400_000;
const BUDGET_SELECT = `id::text AS id, name, scope_tag, scope_value, period, time_zone, limit_usd::text AS limit_usd, mode, unpriced, when_database_down, alerts,
  source, created_at, updated_at`;

interface BudgetRow {
  id: string;
  name: string;
  scope_tag: string;
  scope_value: string | null;
  period: BudgetPeriod;
  time_zone: string;
  limit_usd: string;
  mode: string;
  unpriced: string;
  when_database_down: string;
  alerts: number[] | null;
  source: string;
  created_at: Date;
  updated_at: Date;
}

interface UsageRow {
  budget_id: string;
  scope_value: string;
  spent: string;
  reserved: string;
  calls: number;
  n: string;
}

/**
 * Durable budgets through the admin API: what each has spent this period per scope value, and
 * creating, changing and deleting them. Every change is written to `llm_budgets` and this
 * process's ledger re-reads the list before the answer, so the next tracked call here already
 * obeys it; other replicas re-read it within their `budgetOptions.refreshMs`.
 */
@Injectable()
export class AdminBudgetsService {
  private readonly logger = new Logger('KostrackAdmin');

  constructor(
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
  ) {}

  async list(q: BudgetsQuery): Promise<BudgetListDto> {
    const now = new Date();
    const { pool, s } = this.queries.db();
    const rows = await this.queries.run<BudgetRow>(pool, `SELECT ${BUDGET_SELECT} FROM ${s}.llm_budgets ORDER BY name`, []);
    return { at: now.toISOString(), budgets: await this.withUsage(pool, s, rows, now, q) };
  }

  async create(body: CreateBudgetBody): Promise<BudgetDto> {
    const b = this.check({ ...body });
    const { pool, s } = this.queries.db();
    const rows = await this.write<BudgetRow>(
      pool,
      `INSERT INTO ${s}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode, unpriced, when_database_down, alerts, source, time_zone)
       VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9::int[], 'api', $10) RETURNING ${BUDGET_SELECT}`,
      [b.name, b.scope, b.value, b.period, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts, b.timeZone],
      () => this.conflict(pool, s, b),
    );
    await this.changed();
    return this.one(pool, s, rows[0]);
  }

  async update(name: string, body: UpdateBudgetBody): Promise<BudgetDto> {
    if (!BUDGET_CHANGES.some((k) => body[k] !== undefined)) throw new BadRequestException(`give at least one of ${BUDGET_CHANGES.join(', ')}`);
    const { pool, s } = this.queries.db();
    const current = (await this.queries.run<BudgetRow>(pool, `SELECT ${BUDGET_SELECT} FROM ${s}.llm_budgets WHERE name = $1`, [name]))[0];
    if (!current) throw notFound(name);
    // The whole budget is checked again, by the rules of the `budgets` option.
    const b = this.check({
      name: current.name,
      scope: current.scope_tag,
      ...(current.scope_value !== null ? { value: current.scope_value } : {}),
      period: current.period,
      timeZone: current.time_zone,
      limit: body.limit ?? current.limit_usd,
      mode: body.mode ?? current.mode,
      unpriced: body.unpriced ?? current.unpriced,
      whenDatabaseDown: body.whenDatabaseDown ?? current.when_database_down,
      alerts: body.alerts ?? current.alerts ?? [],
    });
    const rows = await this.write<BudgetRow>(
      pool,
      `UPDATE ${s}.llm_budgets SET limit_usd = $2::numeric, mode = $3, unpriced = $4, when_database_down = $5, alerts = $6::int[], updated_at = now()
        WHERE name = $1 RETURNING ${BUDGET_SELECT}`,
      [name, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts],
    );
    if (rows.length === 0) throw notFound(name); // deleted meanwhile
    await this.changed();
    return this.one(pool, s, rows[0]);
  }

  /**
   * Deletes the budget with its usage and holds, in the order the writer and a settle lock them
   * (holds, then usage rows, then the budget): a cascade from the budget down would take them the
   * other way round and could deadlock with a batch landing calls on the same scope.
   */
  async remove(name: string): Promise<void> {
    const { pool, s } = this.queries.db();
    let found: { id: string }[];
    try {
      found = await pool.transaction(async (db) => {
        const rows = await db.query<{ id: string }>(`SELECT id::text AS id FROM ${s}.llm_budgets WHERE name = $1`, [name]);
        if (rows.length === 0) return rows;
        await db.query(`DELETE FROM ${s}.llm_budget_reservations WHERE budget_id = $1`, [rows[0].id]);
        await db.query(`DELETE FROM ${s}.llm_budget_usage WHERE budget_id = $1`, [rows[0].id]);
        await db.query(`DELETE FROM ${s}.llm_budgets WHERE id = $1`, [rows[0].id]);
        return rows;
      });
    } catch (e) {
      this.logger.error(`Admin budget delete failed (${(e as { code?: string })?.code ?? (e as Error)?.constructor?.name ?? 'error'})`);
      throw new InternalServerErrorException('Kostrack admin query failed');
    }
    if (found.length === 0) throw notFound(name);
    await this.changed();
  }

  /** Calls refused by a budget (status `blocked`), latest first, with the refusal stored in their metadata. */
  async blocked(q: BlockedCallsQuery): Promise<BlockedCallsDto> {
    const to = q.to !== undefined ? parseIsoTime(q.to) : new Date();
    const from = q.from !== undefined ? parseIsoTime(q.from) : new Date(to.getTime() - 7 * DAY_MS);
    if (from.getTime() >= to.getTime()) throw new BadRequestException('from must be before to');
    const limit = q.limit ?? DEFAULT_BLOCKED;
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const where = [`c.status = 'blocked'`, `c.time >= ${p.add(from.toISOString())}::timestamptz`, `c.time < ${p.add(to.toISOString())}::timestamptz`];
    // spanName is the budget's name for a durable budget (and the span's for a per-run one).
    if (q.budget !== undefined) where.push(`c.metadata -> 'budget' ->> 'spanName' = ${p.add(q.budget)}`);
    const rows = await this.queries.run<{
      time: Date;
      span_id: string;
      trace_id: string | null;
      service_id: string;
      provider: string;
      model: string;
      operation: string;
      tags: Record<string, string> | null;
      budget: Record<string, unknown> | null;
    }>(
      pool,
      `SELECT c.time, c.span_id, c.trace_id, c.service_id, c.provider, c.model, c.operation, c.tags, c.metadata -> 'budget' AS budget
         FROM ${s}.llm_calls c WHERE ${where.join(' AND ')}
        ORDER BY c.time DESC, c.span_id DESC LIMIT ${p.add(limit)}`,
      p.values,
    );
    const items = rows.map(
      (r): BlockedCallDto => ({
        time: r.time.toISOString(),
        spanId: r.span_id,
        traceId: r.trace_id,
        serviceId: r.service_id,
        provider: r.provider,
        model: r.model,
        operation: r.operation,
        tags: r.tags ?? {},
        budget: r.budget ?? null,
      }),
    );
    return { from: from.toISOString(), to: to.toISOString(), limit, items };
  }

  /** `checkBudget`, its message answered as a 400. */
  private check(input: Record<string, unknown>): CheckedBudget {
    // Absent optional fields are left out, as in a declaration (null value means every value).
    for (const key of Object.keys(input)) if (input[key] === undefined || (key === 'value' && input[key] === null)) delete input[key];
    try {
      return checkBudget(input, 'budget');
    } catch (e) {
      if (e instanceof KostrackConfigError) throw new BadRequestException(e.message);
      throw e;
    }
  }

  /** A unique index refused the row: say which budget is in the way. */
  private async conflict(pool: SqlPool, s: string, b: CheckedBudget): Promise<never> {
    const rows = await this.queries.run<{ name: string }>(
      pool,
      `SELECT name FROM ${s}.llm_budgets WHERE name = $1 OR (scope_tag = $2 AND scope_value IS NOT DISTINCT FROM $3 AND period = $4) ORDER BY name = $1 DESC LIMIT 1`,
      [b.name, b.scope, b.value, b.period],
    );
    const other = rows[0]?.name;
    if (other === b.name) throw new ConflictException(`a budget named "${b.name}" already exists; change it with PUT budgets/${b.name}`);
    if (other !== undefined)
      throw new ConflictException(`budgets "${other}" and "${b.name}" would overlap (same scope, value and period); change "${other}" instead`);
    throw new ConflictException(`budget "${b.name}" conflicts with another budget; retry`);
  }

  /** A write: a unique violation goes to `onConflict`; other failures answer like the read queries (no SQL in the response). */
  private async write<R>(pool: SqlPool, sql: string, params: unknown[], onConflict?: () => Promise<never>): Promise<R[]> {
    try {
      return await pool.query<R>(sql, params);
    } catch (e) {
      const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : '';
      if (code === '23505' && onConflict) return onConflict();
      // A time zone ICU knows and this server's tz database does not (checked by the table).
      if (code === '22023' && /time zone/i.test(String((e as Error)?.message))) throw new BadRequestException(`timeZone: PostgreSQL says ${(e as Error).message}`);
      if (code.startsWith('22') || code === '23514') throw new BadRequestException('A budget value is out of range');
      this.logger.error(`Admin budget write failed (${code || (e as Error)?.constructor?.name || 'error'}): ${(e as Error)?.message ?? e}`);
      throw new InternalServerErrorException('Kostrack admin query failed');
    }
  }

  /** The ledger of this process re-reads the list now; a failed re-read is left to its periodic refresh. */
  private async changed(): Promise<void> {
    try {
      await this.store.budgetsChanged?.();
    } catch (e) {
      this.logger.warn(`Kostrack could not reload budgets after a change (${(e as Error)?.constructor?.name ?? 'error'}); they are re-read within budgetOptions.refreshMs`);
    }
  }

  private async one(pool: SqlPool, s: string, row: BudgetRow): Promise<BudgetDto> {
    return (await this.withUsage(pool, s, [row], new Date(), {}))[0];
  }

  /**
   * Each budget with its current period per scope value: spent and calls from
   * `llm_budget_usage`, reserved from the live holds (as the `budget_status` view counts them).
   */
  private async withUsage(pool: SqlPool, s: string, rows: BudgetRow[], now: Date, q: BudgetsQuery): Promise<BudgetDto[]> {
    if (rows.length === 0) return [];
    // Periods as PostgreSQL computes them (the rows' spending is counted by those): the same as this
    // process computes when both know the zone, and an answer when this process does not.
    const periods = await this.queries.run<{ id: string; start: Date; end: Date | null }>(
      pool,
      `SELECT b.id::text AS id, p.start, ${s}.kostrack_period_end(b.period, p.start, b.time_zone) AS "end"
         FROM ${s}.llm_budgets b CROSS JOIN LATERAL (SELECT ${s}.kostrack_period_start(b.period, $2::timestamptz, b.time_zone) AS start) p
        WHERE b.id = ANY($1::bigint[])`,
      [rows.map((r) => r.id), now.toISOString()],
    );
    const byId = new Map(periods.map((p) => [p.id, p]));
    const starts = rows.map((r) => byId.get(r.id)?.start ?? periodStart(r.period, now.getTime()));
    const p = new SqlParams();
    const ids = p.add(rows.map((r) => r.id));
    const at = p.add(starts.map((d) => d.toISOString()));
    const valueFilter = q.value !== undefined ? `AND u.scope_value = ${p.add(q.value)}` : '';
    const usage = await this.queries.run<UsageRow>(
      pool,
      `SELECT x.budget_id::text AS budget_id, x.scope_value, x.spent::text AS spent, x.reserved::text AS reserved, x.calls, x.n FROM (
         SELECT u.budget_id, u.scope_value, u.spent, u.calls,
                COALESCE((SELECT sum(r.amount) FROM ${s}.llm_budget_reservations r
                           WHERE r.budget_id = u.budget_id AND r.scope_value = u.scope_value AND r.period_start = u.period_start
                             AND r.expires_at >= now()), 0) AS reserved,
                row_number() OVER (PARTITION BY u.budget_id ORDER BY u.spent DESC, u.scope_value) AS rn,
                count(*) OVER (PARTITION BY u.budget_id) AS n
           FROM unnest(${ids}::bigint[], ${at}::timestamptz[]) AS k(b, p)
           JOIN ${s}.llm_budget_usage u ON u.budget_id = k.b AND u.period_start = k.p ${valueFilter}
       ) x WHERE x.rn <= ${p.add(q.limit ?? DEFAULT_SCOPE_VALUES)} ORDER BY x.budget_id, x.rn`,
      p.values,
    );
    const byBudget = new Map<string, UsageRow[]>();
    for (const u of usage) {
      const list = byBudget.get(u.budget_id) ?? [];
      list.push(u);
      byBudget.set(u.budget_id, list);
    }
    return rows.map((r, i) => {
      const start = starts[i];
      const resetsAt = iso(byId.get(r.id)?.end ?? periodEnd(r.period, start));
      const limit = usd(r.limit_usd);
      const line = (scopeValue: string, spent: string, reserved: string, calls: number): BudgetUsageDto => {
        const left = limit - usd(spent) - usd(reserved);
        return {
          scopeValue,
          spent: money(spent),
          reserved: money(reserved),
          remaining: usdToString(left < 0n ? 0n : left),
          calls: Number(calls),
          periodStart: start.toISOString(),
          resetsAt,
        };
      };
      const found = byBudget.get(r.id) ?? [];
      const lines = found.map((u) => line(u.scope_value, u.spent, u.reserved, u.calls));
      // A budget on one value has that value's line even before its first call of the period.
      if (lines.length === 0 && r.scope_value !== null && (q.value === undefined || q.value === r.scope_value)) lines.push(line(r.scope_value, '0', '0', 0));
      return {
        name: r.name,
        scope: r.scope_tag,
        value: r.scope_value,
        period: r.period,
        timeZone: r.time_zone,
        limit: money(r.limit_usd),
        mode: r.mode,
        unpriced: r.unpriced,
        whenDatabaseDown: r.when_database_down,
        alerts: r.alerts ?? [],
        source: r.source,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
        periodStart: start.toISOString(),
        resetsAt,
        scopeValues: found.length ? Number(found[0].n) : 0,
        usage: lines,
      };
    });
  }
}

function notFound(name: string): NotFoundException {
  return new NotFoundException(`No budget named "${name}"`);
}
