import type { BudgetGate, GateCall } from '../core/budget-gate.js';
import { usd, usdToString, type Usd } from '../core/money.js';
import { KostrackBudgetExceededError, type BudgetRefusal } from '../core/run-budget.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import type { Tags } from '../core/tags.js';
import { periodEnd, periodStart, type BudgetPeriod, type CheckedBudget } from './budget.declaration.js';
import { quoteSchema } from './schema.name.js';
import type { SqlPool } from './sql.pool.js';

/** A budget as loaded from `llm_budgets`. */
export interface LoadedBudget extends CheckedBudget {
  id: string;
}

/** One budget a call falls under, with the scope value it is counted for. */
interface Hit {
  budget: LoadedBudget;
  value: string;
}

/** What a threshold alert says (the `onBudgetAlert` callback and the `kostrack.budget.alert` event). */
export interface BudgetAlert {
  budget: string;
  scope: string;
  scopeValue: string;
  period: BudgetPeriod;
  periodStart: string;
  /** The percentage of the limit crossed. */
  threshold: number;
  limit: string;
  spent: string;
}

export interface BudgetLedgerOptions {
  /** How often the list of budgets is re-read (budgets made by other replicas take effect within it). Default 5,000 ms. */
  refreshMs?: number;
  /** How long a hold lasts if its call never lands (a crashed process). Default 10 minutes. */
  holdTtlMs?: number;
  /** The longest an admission waits for the database before the budget's `whenDatabaseDown` applies. Default 2,000 ms. */
  timeoutMs?: number;
  onAlert?: (alert: BudgetAlert) => void;
  warn: (message: string) => void;
}

interface AdmitRow {
  budget_id: string;
  scope_value: string;
  period_start: Date;
  limit_usd: string;
  spent: string;
  reserved: string;
  admitted: boolean;
}

class AdmissionTimeout extends Error {}

/**
 * Durable budgets against PostgreSQL: the {@link BudgetGate} the core asks before a tracked call
 * is sent. Which budgets apply is decided in memory from the list (re-read every `refreshMs`);
 * admitting is one call of `kostrack_budget_admit()`, which locks the scopes' usage rows and
 * reserves on all of them or none, so replicas share one budget without a race. Spent money is
 * added by the writer at ingest, which also gives the hold back.
 */
export class BudgetLedger implements BudgetGate {
  private budgets: LoadedBudget[] = [];
  private readonly byScope = new Map<string, LoadedBudget[]>();
  private timer: NodeJS.Timeout | undefined;
  private readonly s: string;
  private readonly warnedOver = new Set<string>();
  private readonly alerted = new Map<string, number>();
  private downWarnedAt = 0;
  private readonly refreshMs: number;
  private readonly holdTtlMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly pool: SqlPool,
    schema: string,
    private readonly options: BudgetLedgerOptions,
  ) {
    this.s = quoteSchema(schema);
    this.refreshMs = options.refreshMs ?? 5_000;
    this.holdTtlMs = options.holdTtlMs ?? 600_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
  }

  /** Writes the declared budgets (by name) and loads the list; keeps re-reading it. Never throws: a database that is down is retried. */
  async start(declared: readonly CheckedBudget[]): Promise<void> {
    try {
      for (const b of declared) await this.upsert(b, 'options');
      await this.reload();
    } catch (e) {
      this.options.warn(`Kostrack could not load budgets (${errorClassOf(e)}); retrying every ${this.refreshMs} ms`);
      this.pending = declared;
    }
    this.timer = setInterval(() => void this.tick(), this.refreshMs);
    this.timer.unref();
  }

  private pending: readonly CheckedBudget[] | undefined;

  private async tick(): Promise<void> {
    try {
      if (this.pending) {
        for (const b of this.pending) await this.upsert(b, 'options');
        this.pending = undefined;
      }
      await this.reload();
    } catch {
      // Kept: the last list; admission meets the outage itself and applies whenDatabaseDown.
    }
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Creates or changes a budget by name. */
  async upsert(b: CheckedBudget, source: 'options' | 'api'): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode, unpriced, when_database_down, alerts, source)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::int[], $10)
       ON CONFLICT (name) DO UPDATE SET scope_tag = EXCLUDED.scope_tag, scope_value = EXCLUDED.scope_value, period = EXCLUDED.period,
         limit_usd = EXCLUDED.limit_usd, mode = EXCLUDED.mode, unpriced = EXCLUDED.unpriced, when_database_down = EXCLUDED.when_database_down,
         alerts = EXCLUDED.alerts, updated_at = now()`,
      [b.name, b.scope, b.value, b.period, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts, source],
    );
  }

  /** Re-reads `llm_budgets` now. */
  async reload(): Promise<void> {
    const rows = await this.pool.query<{
      id: string;
      name: string;
      scope_tag: string;
      scope_value: string | null;
      period: BudgetPeriod;
      limit_usd: string;
      mode: 'enforce' | 'warn';
      unpriced: 'refuse' | 'allow';
      when_database_down: 'allow' | 'refuse';
      alerts: number[];
    }>(`SELECT id::text, name, scope_tag, scope_value, period, limit_usd::text, mode, unpriced, when_database_down, alerts FROM ${this.s}.llm_budgets ORDER BY id`);
    this.budgets = rows.map((r) => ({
      id: r.id,
      name: r.name,
      scope: r.scope_tag,
      value: r.scope_value,
      period: r.period,
      limit: usdToString(usd(r.limit_usd)),
      mode: r.mode,
      unpriced: r.unpriced,
      whenDatabaseDown: r.when_database_down,
      alerts: r.alerts ?? [],
    }));
    this.byScope.clear();
    for (const b of this.budgets) {
      const list = this.byScope.get(b.scope) ?? [];
      list.push(b);
      this.byScope.set(b.scope, list);
    }
  }

  list(): readonly LoadedBudget[] {
    return this.budgets;
  }

  match(tags: Tags, serviceId: string): Hit[] | null {
    if (this.budgets.length === 0) return null;
    let hits: Hit[] | null = null;
    for (const [scope, list] of this.byScope) {
      const value = scope === 'service' ? serviceId : tags[scope];
      if (value === undefined) continue;
      for (const budget of list) if (budget.value === null || budget.value === value) (hits ??= []).push({ budget, value });
    }
    return hits;
  }

  async admit(match: unknown, estimate: Usd | null, call: GateCall): Promise<void> {
    const hits = match as Hit[];
    if (estimate === null) {
      const refusing = hits.find((h) => h.budget.mode === 'enforce' && h.budget.unpriced === 'refuse');
      if (refusing) throw new KostrackBudgetExceededError(this.refusal(refusing, null, null, call));
    }
    // A call that settled a moment ago in this process must count at its cost, not its worst case.
    if (this.settling.size > 0) await Promise.all(this.settling);
    const now = Date.now();
    const starts = hits.map((h) => periodStart(h.budget.period, now));
    let rows: AdmitRow[];
    try {
      rows = await this.withTimeout(
        this.pool.query<AdmitRow>(
          `SELECT budget_id::text, scope_value, period_start, limit_usd::text, spent::text, reserved::text, admitted
             FROM ${this.s}.kostrack_budget_admit($1::bigint[], $2::text[], $3::timestamptz[], $4::numeric, $5::uuid, $6::int, false)`,
          [hits.map((h) => h.budget.id), hits.map((h) => h.value), starts.map((d) => d.toISOString()), usdToString(estimate ?? 0n), call.spanId, this.holdTtlMs],
        ),
      );
    } catch (e) {
      return this.whenDown(hits, estimate, call, e);
    }
    const amount = estimate ?? 0n;
    const byKey = new Map(hits.map((h, i) => [`${h.budget.id}\u0000${h.value}`, { hit: h, start: starts[i] }]));
    for (const row of rows) {
      const at = byKey.get(`${row.budget_id}\u0000${row.scope_value}`);
      if (!at) continue;
      const spent = usd(row.spent);
      const reserved = usd(row.reserved);
      const limit = usd(row.limit_usd);
      this.checkAlerts(at.hit, at.start, spent, limit);
      if (!row.admitted && at.hit.budget.mode === 'enforce' && limit - spent - reserved < amount) {
        throw new KostrackBudgetExceededError(this.refusal(at.hit, { spent, reserved, limit, start: at.start }, estimate, call));
      }
      if (row.admitted && at.hit.budget.mode === 'warn' && spent + reserved > limit) this.warnOver(at.hit, at.start, call);
    }
  }

  /** Settles still on their way to the database; an admission in this process waits for them. */
  private readonly settling = new Set<Promise<unknown>>();

  settle(spanId: string, cost: Usd): void {
    const done: Promise<unknown> = this.pool
      .query(
        `WITH held AS (
           SELECT budget_id, scope_value, period_start, amount FROM ${this.s}.llm_budget_reservations WHERE span_id = $1 AND amount > $2::numeric FOR UPDATE
         ), shrunk AS (
           UPDATE ${this.s}.llm_budget_reservations r SET amount = $2::numeric FROM held h
            WHERE r.span_id = $1 AND r.budget_id = h.budget_id
           RETURNING h.budget_id, h.scope_value, h.period_start, h.amount - $2::numeric AS freed
         )
         UPDATE ${this.s}.llm_budget_usage u SET reserved = GREATEST(u.reserved - s.freed, 0)
           FROM shrunk s WHERE u.budget_id = s.budget_id AND u.scope_value = s.scope_value AND u.period_start = s.period_start`,
        [spanId, usdToString(cost)],
      )
      .catch((e: unknown) => {
        // The hold stays at the worst case until the row lands (or expires): conservative, not wrong.
        this.options.warn(`Kostrack could not settle a budget hold (${errorClassOf(e)}); it is released when the call's row is written`);
      })
      .finally(() => this.settling.delete(done));
    this.settling.add(done);
  }

  private refusal(hit: Hit, state: { spent: Usd; reserved: Usd; limit: Usd; start: Date } | null, estimate: Usd | null, call: GateCall, unavailable = false): BudgetRefusal {
    const start = state?.start ?? periodStart(hit.budget.period, Date.now());
    const limit = state?.limit ?? usd(hit.budget.limit);
    const spent = state?.spent ?? 0n;
    const reserved = state?.reserved ?? 0n;
    const remaining = limit - spent - reserved;
    return {
      scope: hit.budget.scope,
      scopeValue: hit.value,
      period: hit.budget.period,
      resetsAt: periodEnd(hit.budget.period, start)?.toISOString() ?? null,
      spanName: hit.budget.name,
      limit: hit.budget.limit,
      spent: usdToString(spent),
      reserved: usdToString(reserved),
      estimate: estimate === null ? null : usdToString(estimate),
      remaining: usdToString(remaining < 0n ? 0n : remaining),
      provider: call.provider,
      model: call.model,
      ...(unavailable ? { unavailable: true } : {}),
    };
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AdmissionTimeout(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    // A late answer after the timeout is dropped; the hold it made expires with holdTtlMs.
    work.catch(() => undefined);
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** The database could not be asked: each budget's whenDatabaseDown decides. */
  private whenDown(hits: Hit[], estimate: Usd | null, call: GateCall, error: unknown): void {
    const refusing = hits.find((h) => h.budget.mode === 'enforce' && h.budget.whenDatabaseDown === 'refuse');
    if (refusing) throw new KostrackBudgetExceededError(this.refusal(refusing, null, estimate, call, true));
    const now = Date.now();
    if (now - this.downWarnedAt > 60_000) {
      this.downWarnedAt = now;
      this.options.warn(
        `Kostrack could not check budgets ${hits.map((h) => `"${h.budget.name}"`).join(', ')} (${error instanceof AdmissionTimeout ? error.message : errorClassOf(error)}); calls go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
      );
    }
  }

  private warnOver(hit: Hit, start: Date, call: GateCall): void {
    const key = `${hit.budget.id}\u0000${hit.value}\u0000${start.getTime()}`;
    if (this.warnedOver.has(key)) return;
    if (this.warnedOver.size > 10_000) this.warnedOver.clear();
    this.warnedOver.add(key);
    this.options.warn(`Kostrack budget "${hit.budget.name}" for ${hit.budget.scope} "${hit.value}" is over its $${hit.budget.limit} limit; warn mode lets calls to ${call.provider}/${call.model} through (warned once per scope and period)`);
  }

  /**
   * Fires the highest threshold `spent` has crossed, once per scope and period across every
   * process: the `alerted` column is raised by one conditional update, and only the process whose
   * update took effect calls `onAlert`.
   */
  private checkAlerts(hit: Hit, start: Date, spent: Usd, limit: Usd): void {
    const alerts = hit.budget.alerts;
    if (alerts.length === 0 || limit === 0n) return;
    let crossed = 0;
    for (const t of alerts) if (spent * 100n >= limit * BigInt(t)) crossed = t;
    if (crossed === 0) return;
    const key = `${hit.budget.id}\u0000${hit.value}\u0000${start.getTime()}`;
    if ((this.alerted.get(key) ?? 0) >= crossed) return;
    if (this.alerted.size > 10_000) this.alerted.clear();
    this.alerted.set(key, crossed);
    void this.pool
      .query<{ n: number }>(
        `UPDATE ${this.s}.llm_budget_usage SET alerted = $4 WHERE budget_id = $1 AND scope_value = $2 AND period_start = $3 AND alerted < $4 RETURNING 1 AS n`,
        [hit.budget.id, hit.value, start.toISOString(), crossed],
      )
      .then(
        (rows) => {
          if (rows.length === 0 || !this.options.onAlert) return;
          this.options.onAlert({
            budget: hit.budget.name,
            scope: hit.budget.scope,
            scopeValue: hit.value,
            period: hit.budget.period,
            periodStart: start.toISOString(),
            threshold: crossed,
            limit: usdToString(limit),
            spent: usdToString(spent),
          });
        },
        (e: unknown) => this.options.warn(`Kostrack could not record a budget alert (${errorClassOf(e)})`),
      )
      .catch((e: unknown) => this.options.warn(`Kostrack budget alert callback threw ${errorClassOf(e)}`));
  }
}
