import type { BudgetGate, GateCall } from '../core/budget-gate.js';
import { usd, usdToString, type Usd } from '../core/money.js';
import { KostrackBudgetExceededError, type BudgetRefusal } from '../core/run-budget.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import { describeError, isConnectionError, sqlState } from './error.classifier.js';
import type { Tags } from '../core/tags.js';
import type { CheckedBudget } from './budget.declaration.js';
import { periodEnd, periodStart, type BudgetPeriod } from './budget.period.js';
import { BudgetLeases, type LeaseAnswer, type LeaseCounts } from './budget.lease.js';
import { leaseTrimSql } from './budget.lease.sql.js';
import { holdDropSql, holdSettleSql } from './budget.hold.sql.js';
import { BudgetZoneCheck, BudgetZoneError } from './budget.zone-check.js';
import { KostrackConfigError } from '../core/errors.js';
import type { ResolvedLease } from './budget.options.js';
import type { BatchWriter } from './batch.writer.js';
import { quoteSchema } from './schema.name.js';
import type { SqlPool } from './sql.pool.js';

/** SQLSTATE of a foreign key violation: the budget a hold names no longer exists. */
const FOREIGN_KEY_VIOLATION = '23503';

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
  refreshMs?: number | undefined;
  /** How long a hold lasts if its call never lands (a crashed process). Default 10 minutes. */
  holdTtlMs?: number | undefined;
  /** The longest an admission waits for the database before the budget's `whenDatabaseDown` applies. Default 2,000 ms. */
  timeoutMs?: number | undefined;
  /** A local lease of part of each scope's budget (off when absent; see budget.lease.ts). */
  lease?: ResolvedLease | null | undefined;
  onAlert?: ((alert: BudgetAlert) => unknown) | undefined;
  warn: (message: string) => void;
}

/** The budgets a call falls under, with the period each is counted in: what an admission (or a lease) holds on. */
interface LeaseTarget {
  hits: Hit[];
  starts: Date[];
}

function leaseKey(t: LeaseTarget): string {
  return t.hits.map((h, i) => `${h.budget.id}\u0000${h.value}\u0000${t.starts[i].getTime()}`).join('\u0001');
}

/** The least room left over the budgets of an answer: limit − spent − reserved. */
function roomOf(rows: readonly { limit_usd: string; spent: string; reserved: string }[]): Usd {
  let room: Usd | null = null;
  for (const r of rows) {
    const left = usd(r.limit_usd) - usd(r.spent) - usd(r.reserved);
    if (room === null || left < room) room = left;
  }
  return room === null || room < 0n ? 0n : room;
}

/** How many database round trips admissions took, for tests and the benchmark. */
export interface AdmissionCounts extends LeaseCounts {
  /** Calls admitted by their own `kostrack_budget_admit()`. */
  perCall: number;
  /** With leases: calls refused from an answer sent after they arrived, without asking (see refusedSince). */
  refusedInMemory: number;
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

const UNIQUE_VIOLATION = '23505';

/** Why the database could not be asked, for a warning: the timeout, the SQLSTATE or socket error code (ECONNREFUSED), else the error's class. */
function reasonOf(error: unknown): string {
  if (error instanceof AdmissionTimeout || error instanceof BudgetZoneError) return error.message;
  return describeError(error).code ?? errorClassOf(error);
}

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
  /** Null unless `budgetOptions.lease` is set: then calls under enforced budgets are admitted in memory. */
  private readonly leases: BudgetLeases<LeaseTarget> | null;
  private readonly zones: BudgetZoneCheck;
  private refusedInMemory = 0;
  /** Admissions sent so far. */
  private asked = 0;
  /** Statements about scopes sent so far (admissions, lease trims): a call may be answered by one sent after it arrived (see {@link refusedSince}). */
  private sent = 0;
  /** With leases: the latest answer about each scope, with the number it was sent under. */
  private readonly answers = new Map<string, { seq: number; rows: AdmitRow[] }>();

  constructor(
    private readonly pool: SqlPool,
    schema: string,
    private readonly options: BudgetLedgerOptions,
  ) {
    this.s = quoteSchema(schema);
    this.refreshMs = options.refreshMs ?? 5_000;
    this.holdTtlMs = options.holdTtlMs ?? 600_000;
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.zones = new BudgetZoneCheck(pool, this.s, options.warn);
    this.leases = options.lease
      ? new BudgetLeases<LeaseTarget>(options.lease, this.holdTtlMs, { request: (t, amount, id, ttl) => this.requestLease(t, amount, id, ttl), trim: (t, id, hold) => this.trimLease(t, id, hold), look: (targets) => this.lookLeases(targets) }, options.warn)
      : null;
  }

  /** Admissions so far: by the database per call, leases asked for, calls admitted under a lease, lease holds lowered. */
  counts(): AdmissionCounts {
    const leases = this.leases?.counts ?? { requested: 0, leased: 0, trims: 0 };
    return { perCall: this.asked - leases.requested, refusedInMemory: this.refusedInMemory, ...leases };
  }

  private remember(key: string, seq: number, rows: AdmitRow[]): void {
    const last = this.answers.get(key);
    if (last && last.seq > seq) return;
    if (!last && this.answers.size >= 10_000) this.answers.clear();
    this.answers.set(key, { seq, rows });
  }

  /**
   * A call that arrived before some admission on its scope was sent, and whose worst case did not
   * fit the room that admission's answer showed, is refused with that answer, without asking: the
   * database would have refused it at that instant, which lies within the call's own admission.
   * Only with leases, where a burst at a used-up scope would otherwise ask once per call. (The
   * budgets' modes are this process's list: a budget switched to warn through the API refuses
   * this way until the list is re-read, within refreshMs.)
   */
  private refusedSince(key: string, arrived: number, amount: Usd, hits: Hit[]): AdmitRow[] | null {
    const last = this.answers.get(key);
    if (!last || last.seq <= arrived) return null;
    for (const row of last.rows) {
      const enforced = hits.some((h) => h.budget.id === row.budget_id && h.value === row.scope_value && h.budget.mode === 'enforce');
      if (enforced && usd(row.limit_usd) - usd(row.spent) - usd(row.reserved) < amount) {
        this.refusedInMemory++;
        return last.rows.map((r) => ({ ...r, admitted: false }));
      }
    }
    return null;
  }

  /**
   * With a lease: the writer's statement moves leased calls' costs out of their leases' holds, and
   * tells this ledger which rows committed. Without one the writer is left as it is.
   */
  watch(writer: BatchWriter): void {
    const leases = this.leases;
    if (!leases) return;
    writer.watchLeases({
      holdsOf: (calls) => leases.holdsOf(calls),
      landed: (items) => {
        try {
          leases.landed(items);
        } catch (e) {
          // The pump must go on; the leases' holds stay larger than needed until they expire.
          this.options.warn(`Kostrack could not account a committed batch to budget leases (${errorClassOf(e)})`);
        }
      },
    });
  }

  /**
   * Stops leasing and gives back what the leases hold beyond their calls whose rows have not
   * landed (those stay held until they land or expire). Call after the writer's last flush and
   * before the pool closes; waits at most `timeoutMs`.
   */
  async returnLeases(): Promise<void> {
    if (!this.leases) return;
    await this.withTimeout(this.leases.returnAll()).catch(() => undefined);
  }

  /**
   * Writes the declared budgets (by name) and loads the list; keeps re-reading it. Never throws: a
   * database that is down is retried, and until the list is loaded the declared budgets apply from
   * memory (each call tries to load it, then its budgets' `whenDatabaseDown` decides).
   */
  async start(declared: readonly CheckedBudget[]): Promise<void> {
    this.declared = declared.map((b) => ({ ...b, id: '' }));
    this.pending = declared;
    this.index(this.declared);
    try {
      await this.sync();
    } catch (e) {
      // A declared budget PostgreSQL refuses (a time zone it does not know): the app is told at start.
      if (e instanceof KostrackConfigError) throw e;
      this.options.warn(`Kostrack could not load budgets (${reasonOf(e)}); retrying every ${this.refreshMs} ms`);
    } finally {
      this.started = true;
    }
    this.timer = setInterval(() => void this.tick(), this.refreshMs);
    this.timer.unref();
  }

  /** Declared budgets not yet written (the database was down at start). */
  private pending: readonly CheckedBudget[] | undefined;
  /** The declared budgets, matched (with no id) until the list is first loaded. */
  private declared: LoadedBudget[] = [];
  private loaded = false;
  private syncing: Promise<void> | undefined;

  /** Writes what is pending, then re-reads the list; one at a time (calls waiting for the first load share it). */
  private sync(): Promise<void> {
    if (!this.syncing) {
      const run = this.writeAndReload();
      this.syncing = run;
      run.then(
        () => this.syncDone(run),
        () => this.syncDone(run),
      );
    }
    return this.syncing;
  }

  private syncDone(run: Promise<void>): void {
    if (this.syncing === run) this.syncing = undefined;
  }

  private async writeAndReload(): Promise<void> {
    let refused: KostrackConfigError | undefined;
    if (this.pending) {
      for (const b of this.pending) {
        try {
          await this.declare(b);
        } catch (e) {
          // The others are still written and loaded; this one is reported after them.
          if (!(e instanceof KostrackConfigError)) throw e;
          refused ??= e;
        }
      }
      this.pending = undefined;
    }
    await this.reload();
    if (!refused) return;
    // At start the app is told; later (the database was down at start) it is warned, and the
    // budget is not enforced until it is declared with a zone PostgreSQL knows.
    if (!this.started) throw refused;
    this.options.warn(refused.message);
  }

  /** The first load at start was tried (a declared budget refused after it is warned about, not thrown). */
  private started = false;

  private async tick(): Promise<void> {
    try {
      await this.sync();
    } catch {
      // Kept: the last list; admission meets the outage itself and applies whenDatabaseDown.
    }
  }

  /**
   * Writes one declared budget. Another budget on the same scope, value and period (the unique
   * index forbids two) is a budget renamed in the options: that row, if it was declared too, takes
   * the new name and settings (its spending carries over); one made through the API is left alone
   * and this declaration is skipped, with a warning. Either way the other budgets still load.
   */
  private async declare(b: CheckedBudget): Promise<void> {
    await this.warnIfRedefined(b);
    try {
      await this.upsert(b, 'options');
      return;
    } catch (e) {
      const state = sqlState(e);
      if (state === '22023' || (state === '23514' && /time_zone/.test(String((e as Error).message)))) {
        throw new KostrackConfigError(
          `Kostrack budget "${b.name}": PostgreSQL does not take the time zone "${b.timeZone}" (${(e as Error).message}); its time zone data may be older than Node's. Use a zone both know, or 'UTC'`,
        );
      }
      if (state !== UNIQUE_VIOLATION) throw e;
    }
    const [other] = await this.pool.query<{ name: string; source: string }>(
      `SELECT name, source FROM ${this.s}.llm_budgets WHERE scope_tag = $1 AND scope_value IS NOT DISTINCT FROM $2 AND period = $3 AND name <> $4`,
      [b.scope, b.value, b.period, b.name],
    );
    const what = `${b.scope}${b.value === null ? '' : ` "${b.value}"`} per ${b.period}`;
    if (other?.source === 'options') {
      try {
        await this.pool.query(
          `UPDATE ${this.s}.llm_budgets SET name = $2, limit_usd = $3, mode = $4, unpriced = $5, when_database_down = $6, alerts = $7::int[], time_zone = $8, updated_at = now() WHERE name = $1`,
          [other.name, b.name, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts, b.timeZone],
        );
        this.options.warn(`Kostrack budget "${other.name}" (${what}) is now declared as "${b.name}": renamed, its spending kept`);
        return;
      } catch (e) {
        if (sqlState(e) !== UNIQUE_VIOLATION) throw e;
      }
    }
    this.options.warn(
      `Kostrack budget "${b.name}" was not written: ${other ? `budget "${other.name}"` : 'another budget'} already limits ${what} (two budgets on the same scope, value and period would overlap); remove one of them`,
    );
  }

  /**
   * A declared budget whose period or time zone differs from its row's: the usage of a period is
   * kept by the period's start, so the new period's spending starts from what that row holds
   * (nothing, usually) and the current period's spending so far no longer counts.
   */
  private async warnIfRedefined(b: CheckedBudget): Promise<void> {
    const [row] = await this.pool.query<{ period: string; time_zone: string }>(`SELECT period, time_zone FROM ${this.s}.llm_budgets WHERE name = $1`, [b.name]);
    if (!row || (row.period === b.period && row.time_zone === b.timeZone)) return;
    this.options.warn(
      `Kostrack budget "${b.name}" was per ${row.period} in ${row.time_zone} and is now declared per ${b.period} in ${b.timeZone}: what it spent counts by period, so the new period starts from its own row and this period's spending so far no longer counts against it`,
    );
  }

  close(): void {
    clearInterval(this.timer);
    this.leases?.close();
  }

  /** Creates or changes a budget by name. */
  async upsert(b: CheckedBudget, source: 'options' | 'api'): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode, unpriced, when_database_down, alerts, source, time_zone)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::int[], $10, $11)
       ON CONFLICT (name) DO UPDATE SET scope_tag = EXCLUDED.scope_tag, scope_value = EXCLUDED.scope_value, period = EXCLUDED.period,
         limit_usd = EXCLUDED.limit_usd, mode = EXCLUDED.mode, unpriced = EXCLUDED.unpriced, when_database_down = EXCLUDED.when_database_down,
         alerts = EXCLUDED.alerts, time_zone = EXCLUDED.time_zone, updated_at = now()`,
      [b.name, b.scope, b.value, b.period, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts, source, b.timeZone],
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
      time_zone: string;
    }>(`SELECT id::text, name, scope_tag, scope_value, period, limit_usd::text, mode, unpriced, when_database_down, alerts, time_zone FROM ${this.s}.llm_budgets ORDER BY id`);
    this.budgets = rows.map((r) => ({
      id: r.id,
      name: r.name,
      scope: r.scope_tag,
      value: r.scope_value,
      period: r.period,
      timeZone: r.time_zone,
      limit: usdToString(usd(r.limit_usd)),
      mode: r.mode,
      unpriced: r.unpriced,
      whenDatabaseDown: r.when_database_down,
      alerts: r.alerts ?? [],
    }));
    this.loaded = true;
    this.index(this.budgets);
    this.checkLeaseNames();
    // Not checked while the database cannot be asked: tried again at the next read of the list.
    await this.zones.verify(this.budgets).catch(() => undefined);
  }

  /** Why this process cannot count a time zone's periods as PostgreSQL does, or null. */
  zoneProblem(zone: string): string | null {
    return this.zones.problem(zone);
  }

  /** Names in `lease.budgets` no budget has (a typo would turn leasing off unseen): warned about once each. */
  private readonly leaseNamesWarned = new Set<string>();
  private checkLeaseNames(): void {
    const only = this.options.lease?.budgets;
    if (!only) return;
    const known = new Set([...this.budgets, ...this.declared].map((b) => b.name));
    for (const name of only) {
      if (known.has(name) || this.leaseNamesWarned.has(name)) continue;
      this.leaseNamesWarned.add(name);
      this.options.warn(`Kostrack budgetOptions.lease.budgets names "${name}", which no budget has (declared or in the database); only the budgets named there are leased`);
    }
  }

  private index(budgets: readonly LoadedBudget[]): void {
    this.byScope.clear();
    for (const b of budgets) {
      const list = this.byScope.get(b.scope) ?? [];
      list.push(b);
      this.byScope.set(b.scope, list);
    }
  }

  list(): readonly LoadedBudget[] {
    return this.budgets;
  }

  /**
   * The budgets a call with these tags falls under (null: none), decided in memory. Until the list
   * is first loaded these are the declared budgets, with no id (`''`).
   */
  get empty(): boolean {
    return (this.loaded ? this.budgets : this.declared).length === 0;
  }

  match(tags: Tags, serviceId: string): Hit[] | null {
    if ((this.loaded ? this.budgets : this.declared).length === 0) return null;
    let hits: Hit[] | null = null;
    for (const [scope, list] of this.byScope) {
      // Own keys only: a plain object inherits `constructor`, `toString`… (a budget on such a tag matched every call).
      const value = scope === 'service' ? serviceId : Object.hasOwn(tags, scope) ? tags[scope] : undefined;
      if (typeof value !== 'string') continue;
      for (const budget of list) if (budget.value === null || budget.value === value) (hits ??= []).push({ budget, value });
    }
    return hits;
  }

  /** Admissions in flight from this process, and those waiting for a turn (see {@link slot}). */
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** The last admission found the database unreachable or silent (see {@link admit}). */
  private suspect = false;

  /** At most two admissions at a time from one process: the pool keeps connections for the writer. */
  private slot(): Promise<void> {
    if (this.active < 2) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private unslot(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /**
   * One `kostrack_budget_admit()` holding `amount` under `holdId` (a call's span id, or a lease's
   * id) for `ttlMs`. Rejects with the database's error, or an AdmissionTimeout after timeoutMs.
   */
  private async ask(t: LeaseTarget, amount: Usd, holdId: string, ttlMs: number, known?: () => AdmitRow[] | null): Promise<AdmitRow[]> {
    const run = async () => {
      const seq = ++this.sent;
      this.asked++;
      const rows = await this.pool.query<AdmitRow>(
        `SELECT budget_id::text, scope_value, period_start, limit_usd::text, spent::text, reserved::text, admitted
           FROM ${this.s}.kostrack_budget_admit($1::bigint[], $2::text[], $3::timestamptz[], $4::numeric, $5::uuid, $6::int, false)`,
        [t.hits.map((h) => h.budget.id), t.hits.map((h) => h.value), t.starts.map((d) => d.toISOString()), usdToString(amount), holdId, ttlMs],
      );
      if (this.leases) this.remember(leaseKey(t), seq, rows);
      return rows;
    };
    // While the database answers, a burst of calls waits here, two at a time per process, rather
    // than in the pool's queue, whose connection timeout would read a busy database as a dead one
    // and let calls past a spent budget. Once an admission failed, calls do not queue: each asks
    // at once, with its own timeout, so an outage costs every call timeoutMs, not a queue of them.
    const queued = !this.suspect;
    if (queued) await this.slot();
    try {
      const answered = known?.();
      if (answered) return answered;
      // A call that settled a moment ago in this process must count at its cost, not its worst case.
      // The wait is part of the admission's timeout: a database that does not answer the settle does
      // not answer the admission either (unbounded, it held every call for the pool's own timeouts).
      const asked = this.settling.size > 0 ? Promise.all(this.settling).then(run) : run();
      try {
        const rows = await this.withTimeout(asked);
        this.suspect = false;
        return rows;
      } catch (e) {
        if (e instanceof AdmissionTimeout) this.dropLateHold(asked, holdId);
        if (e instanceof AdmissionTimeout || isConnectionError(e)) {
          this.suspect = true;
          // Those queued behind this one ask at once, each with its own timeout, instead of in pairs.
          for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
            this.active++;
            next();
          }
        }
        throw e;
      }
    } finally {
      if (queued) this.unslot();
    }
  }

  private async requestLease(t: LeaseTarget, amount: Usd, id: string, ttlMs: number): Promise<LeaseAnswer> {
    const rows = await this.ask(t, amount, id, ttlMs);
    this.alertsFrom(t, rows);
    // The room others have: after this lease when it was admitted, before it when not.
    return { admitted: rows.length > 0 && rows[0].admitted, room: roomOf(rows) };
  }

  /** Lowers a lease's hold (its calls' rows landed, or it was retired); see leaseTrimSql. */
  private async trimLease(t: LeaseTarget, id: string, hold: Usd): Promise<Usd | null> {
    const seq = ++this.sent;
    const rows = await this.withTimeout(
      this.pool.query<{ budget_id: string; scope_value: string; limit_usd: string; spent: string; reserved: string }>(leaseTrimSql(this.s), [id, usdToString(hold)]),
    );
    if (rows.length === 0) return null;
    this.alertsFrom(t, rows);
    // The scope as it is after this process gave money back: fresher than the last admission's answer.
    const key = leaseKey(t);
    this.remember(key, seq, rows.map((r) => ({ ...r, period_start: t.starts[t.hits.findIndex((h) => h.budget.id === r.budget_id)] ?? t.starts[0], admitted: false })));
    return roomOf(rows);
  }

  /**
   * After leases' rows landed: the scopes' spending, for their alerts, in one read. Only scopes of
   * budgets with an alert not yet fired this period are read (without a lease, the statement that
   * admits or settles the next call reads them).
   */
  private async lookLeases(targets: LeaseTarget[]): Promise<void> {
    const wanted: { t: LeaseTarget; h: Hit; start: Date }[] = [];
    for (const t of targets)
      t.hits.forEach((h, i) => {
        const top = h.budget.alerts.at(-1);
        if (top !== undefined && (this.alerted.get(`${h.budget.id}\u0000${h.value}\u0000${t.starts[i].getTime()}`) ?? 0) < top) wanted.push({ t, h, start: t.starts[i] });
      });
    if (wanted.length === 0) return;
    try {
      const rows = await this.withTimeout(
        this.pool.query<{ i: number; budget_id: string; scope_value: string; limit_usd: string; spent: string }>(
          `SELECT k.i::int AS i, u.budget_id::text, u.scope_value, b.limit_usd::text, u.spent::text
             FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k(b, v, p, i)
             JOIN ${this.s}.llm_budget_usage u ON u.budget_id = k.b AND u.scope_value = k.v AND u.period_start = k.p
             JOIN ${this.s}.llm_budgets b ON b.id = u.budget_id`,
          [wanted.map((w) => w.h.budget.id), wanted.map((w) => w.h.value), wanted.map((w) => w.start.toISOString())],
        ),
      );
      for (const row of rows) {
        const w = wanted[row.i - 1];
        this.checkAlerts(w.h, w.start, usd(row.spent), usd(row.limit_usd));
      }
    } catch {
      // Read again when the next rows land, or at the next lease asked for.
    }
  }

  /** Thresholds crossed, from an answer's rows (by budget and scope value). */
  private alertsFrom(t: LeaseTarget, rows: readonly { budget_id: string; scope_value: string; limit_usd: string; spent: string }[]): void {
    for (const row of rows) {
      const i = t.hits.findIndex((h) => h.budget.id === row.budget_id && h.value === row.scope_value);
      if (i >= 0) this.checkAlerts(t.hits[i], t.starts[i], usd(row.spent), usd(row.limit_usd));
    }
  }

  async admit(match: unknown, estimate: Usd | null, call: GateCall, retried = false): Promise<void> {
    let hits = match as Hit[];
    if (estimate === null) {
      const refusing = hits.find((h) => h.budget.mode === 'enforce' && h.budget.unpriced === 'refuse');
      if (refusing) throw new KostrackBudgetExceededError(this.refusal(refusing, null, null, call));
    }
    const unusable = hits.find((h) => this.zones.problem(h.budget.timeZone));
    if (unusable) return this.whenDown(hits, estimate, call, new BudgetZoneError(this.zones.problem(unusable.budget.timeZone)!));
    if (hits.some((h) => h.budget.id === '')) {
      // Declared, but the list was never loaded (the database was down at start): load it now.
      try {
        await this.withTimeout(this.sync());
      } catch (e) {
        return this.whenDown(hits, estimate, call, e);
      }
      const loaded = this.match(call.tags, call.serviceId);
      if (loaded === null) return;
      hits = loaded;
      // The load checked the zones in use.
      const disagreeing = hits.find((h) => this.zones.problem(h.budget.timeZone));
      if (disagreeing) return this.whenDown(hits, estimate, call, new BudgetZoneError(this.zones.problem(disagreeing.budget.timeZone)!));
    }
    const now = Date.now();
    let starts: Date[];
    try {
      starts = hits.map((h) => periodStart(h.budget.period, now, h.budget.timeZone));
    } catch {
      // A zone this process does not know, not yet seen by the zone check.
      return this.whenDown(hits, estimate, call, new BudgetZoneError('a budget time zone this process does not know'));
    }
    const target: LeaseTarget = { hits, starts };
    const key = this.leases ? leaseKey(target) : '';
    const arrived = this.sent;
    if (this.leases && estimate !== null && hits.every((h) => h.budget.mode === 'enforce') && this.leases.covers(hits.map((h) => h.budget.name))) {
      try {
        if (await this.leases.admit(key, target, estimate, call.spanId)) return;
      } catch (e) {
        // A budget deleted since the list was read: the call's own admission below reloads the list.
        if (sqlState(e) !== FOREIGN_KEY_VIOLATION) return this.whenDown(hits, estimate, call, e);
      }
    }
    let rows: AdmitRow[];
    const refusedBy = this.leases ? () => this.refusedSince(key, arrived, estimate ?? 0n, hits) : undefined;
    try {
      rows = await this.ask(target, estimate ?? 0n, call.spanId, this.holdTtlMs, refusedBy);
    } catch (e) {
      // A budget another replica deleted since this process read the list: not an outage.
      if (retried || sqlState(e) !== FOREIGN_KEY_VIOLATION) return this.whenDown(hits, estimate, call, e);
      await this.reload().catch(() => undefined);
      const again = this.match(call.tags, call.serviceId);
      return again === null ? undefined : this.admit(again, estimate, call, true);
    }
    this.leases?.observe(key, roomOf(rows));
    const amount = estimate ?? 0n;
    const byKey = new Map(hits.map((h, i) => [`${h.budget.id}\u0000${h.value}`, { hit: h, start: starts[i] }]));
    // Not admitted: the database held nothing, so the call must not go ahead. The refusal names a
    // budget without room, enforced by the list this process knows (its mode may have been changed
    // through the API since the list was read: the database's word counts).
    let refusal: BudgetRefusal | undefined;
    let lacking: BudgetRefusal | undefined;
    for (const row of rows) {
      const at = byKey.get(`${row.budget_id}\u0000${row.scope_value}`);
      if (!at) continue;
      const spent = usd(row.spent);
      const reserved = usd(row.reserved);
      const limit = usd(row.limit_usd);
      this.checkAlerts(at.hit, at.start, spent, limit);
      if (!row.admitted) {
        if (limit - spent - reserved >= amount) continue;
        if (at.hit.budget.mode === 'enforce') refusal ??= this.refusal(at.hit, { spent, reserved, limit, start: at.start }, estimate, call);
        else lacking ??= this.refusal(at.hit, { spent, reserved, limit, start: at.start }, estimate, call);
      } else if (at.hit.budget.mode === 'warn' && spent + reserved > limit) this.warnOver(at.hit, at.start, call);
    }
    if (rows.length > 0 && !rows[0].admitted) {
      const first = byKey.get(`${rows[0].budget_id}\u0000${rows[0].scope_value}`);
      refusal ??= lacking ?? (first ? this.refusal(first.hit, null, estimate, call) : undefined);
      if (refusal) throw new KostrackBudgetExceededError(refusal);
    }
  }

  /** Settles still on their way to the database; an admission in this process waits for them. */
  private readonly settling = new Set<Promise<unknown>>();

  settle(spanId: string, cost: Usd): void {
    // A call admitted under a lease settles in memory; the lease gives its cost back once its row lands.
    if (this.leases?.settle(spanId, cost)) return;
    const done: Promise<unknown> = this.pool
      .query(holdSettleSql(this.s), [spanId, usdToString(cost)])
      .catch((e: unknown) => {
        // The hold stays at the worst case until the row lands (or expires): conservative, not wrong.
        this.options.warn(`Kostrack could not settle a budget hold (${errorClassOf(e)}); it is released when the call's row is written`);
      })
      .finally(() => this.settling.delete(done));
    this.settling.add(done);
  }

  /** The budget's current period start; null for a zone this process cannot count (its refusal then says no reset time). */
  private currentStart(hit: Hit): Date | null {
    if (this.zones.problem(hit.budget.timeZone)) return null;
    try {
      return periodStart(hit.budget.period, Date.now(), hit.budget.timeZone);
    } catch {
      return null;
    }
  }

  private refusal(hit: Hit, state: { spent: Usd; reserved: Usd; limit: Usd; start: Date } | null, estimate: Usd | null, call: GateCall, unavailable = false): BudgetRefusal {
    const start = state?.start ?? this.currentStart(hit);
    const limit = state?.limit ?? usd(hit.budget.limit);
    const spent = state?.spent ?? 0n;
    const reserved = state?.reserved ?? 0n;
    const remaining = limit - spent - reserved;
    return {
      scope: hit.budget.scope,
      scopeValue: hit.value,
      period: hit.budget.period,
      resetsAt: start && !this.zones.problem(hit.budget.timeZone) ? (periodEnd(hit.budget.period, start, hit.budget.timeZone)?.toISOString() ?? null) : null,
      spanName: hit.budget.name,
      // The limit the database answered with (changed through the API since the list was read, it is the one that counts).
      limit: usdToString(limit),
      spent: usdToString(spent),
      reserved: usdToString(reserved),
      estimate: estimate === null ? null : usdToString(estimate),
      remaining: usdToString(remaining < 0n ? 0n : remaining),
      provider: call.provider,
      model: call.model,
      ...(unavailable ? { unavailable: true } : {}),
    };
  }

  /**
   * An admission answered after its timeout: whenDatabaseDown already decided the call (it went
   * ahead without a hold, or was refused), so a hold the late answer made is given back. Left, it
   * would shrink the budget until holdTtlMs whenever the call's row landed before the answer (a
   * refused call's blocked row does, at once). The writer releases by the same span id; whichever
   * deletes the reservation first gives the amount back, once.
   */
  private dropLateHold(asked: Promise<AdmitRow[]>, spanId: string): void {
    asked
      .then((rows) => {
        if (!rows.some((r) => r.admitted)) return;
        return this.pool.query(holdDropSql(this.s), [spanId]);
      })
      // Not answered at all, or the release failed: the hold expires with holdTtlMs.
      .catch(() => undefined);
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
        `Kostrack could not check budgets ${hits.map((h) => `"${h.budget.name}"`).join(', ')} (${reasonOf(error)}); calls go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
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
          // An async callback's rejection is caught too: it must not become an unhandled rejection.
          return this.options.onAlert({
            budget: hit.budget.name,
            scope: hit.budget.scope,
            scopeValue: hit.value,
            period: hit.budget.period,
            periodStart: start.toISOString(),
            threshold: crossed,
            limit: usdToString(limit),
            spent: usdToString(spent),
          }) as unknown;
        },
        (e: unknown) => this.options.warn(`Kostrack could not record a budget alert (${errorClassOf(e)})`),
      )
      .catch((e: unknown) => this.options.warn(`Kostrack budget alert callback threw ${errorClassOf(e)}`));
  }
}
