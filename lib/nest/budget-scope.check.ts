import { usd, usdToString } from '../core/money.js';
import { KostrackBudgetExceededError, type BudgetRefusal } from '../core/run-budget.js';
import { runtime } from '../core/runtime.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import type { Tags } from '../core/tags.js';
import { periodEnd, periodStart } from '../storage/budget.period.js';
import type { BudgetLedger } from '../storage/budget.ledger.js';
import { describeError } from '../storage/error.classifier.js';
import { quoteSchema } from '../storage/schema.name.js';
import type { SqlPool } from '../storage/sql.pool.js';

type Hit = NonNullable<ReturnType<BudgetLedger['match']>>[number];

/** Where the durable budgets are: `KostrackStorageLifecycle` (both null while storage is off). */
export interface BudgetScopeSource {
  readonly budgets: BudgetLedger | null;
  readonly current: { readonly pool: SqlPool; readonly schema: string } | null;
}

interface ScopeRow {
  i: string;
  limit_usd: string;
  mode: string;
  spent: string;
  reserved: string;
}

const DEFAULT_TIMEOUT_MS = 2_000;
let downWarnedAt = 0;

/** The usage could not be read for a known reason (a timeout, the list never loaded); its message says which. */
class Unreadable extends Error {}

/**
 * Refuses an HTTP request (or RPC message) before its handler runs when a durable budget in
 * `enforce` mode that its tags fall under is used up for the current period: spent plus what
 * calls in flight hold (live holds) is at or over the limit. The handler's tracked calls would
 * all be refused anyway; this answers 402 at once, without running it.
 *
 * Returns null, deciding in memory, when no enforced budget matches (the usual case); otherwise
 * the check to run: one database read, which rejects with {@link KostrackBudgetExceededError} (no
 * provider or model: the request made no call) or resolves to let the request through. While the
 * database cannot be asked, each budget's `whenDatabaseDown` decides, as for calls.
 */
export function budgetScopeCheck(
  source: BudgetScopeSource | null | undefined,
  tags: Tags,
  serviceId: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): (() => Promise<void>) | null {
  const ledger = source?.budgets;
  const storage = source?.current;
  if (!ledger || !storage) return null;
  const hits = ledger.match(tags, serviceId)?.filter((h) => h.budget.mode === 'enforce');
  if (!hits || hits.length === 0) return null;
  return () => readScopes(storage, ledger, hits, timeoutMs);
}

/** The start of a budget's current period, or null where this process cannot count its zone as PostgreSQL does (see budget.zone-check.ts). */
function startOf(ledger: BudgetLedger, hit: Hit, now: number): Date | null {
  if (ledger.zoneProblem(hit.budget.timeZone)) return null;
  try {
    return periodStart(hit.budget.period, now, hit.budget.timeZone);
  } catch {
    return null;
  }
}

async function readScopes(storage: NonNullable<BudgetScopeSource['current']>, ledger: BudgetLedger, hits: Hit[], timeoutMs: number): Promise<void> {
  const now = Date.now();
  const starts = hits.map((h) => startOf(ledger, h, now));
  const s = quoteSchema(storage.schema);
  let rows: ScopeRow[];
  try {
    // Declared budgets with no id: the list was never loaded, the database was down at start.
    if (hits.some((h) => h.budget.id === '')) throw new Unreadable('the budget list was never loaded');
    if (starts.includes(null)) throw new Unreadable('a budget time zone this process cannot count as PostgreSQL does');
    // Limit and mode are read with the usage: a change through the API counts at once.
    rows = await withTimeout(
      storage.pool.query<ScopeRow>(
        `SELECT k.i::text AS i, b.limit_usd::text AS limit_usd, b.mode, COALESCE(u.spent, 0)::text AS spent,
                COALESCE((SELECT sum(r.amount) FROM ${s}.llm_budget_reservations r
                           WHERE r.budget_id = k.b AND r.scope_value = k.v AND r.period_start = k.p AND r.expires_at >= now()), 0)::text AS reserved
           FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS k(b, v, p, i)
           JOIN ${s}.llm_budgets b ON b.id = k.b
           LEFT JOIN ${s}.llm_budget_usage u ON u.budget_id = k.b AND u.scope_value = k.v AND u.period_start = k.p`,
        [hits.map((h) => h.budget.id), hits.map((h) => h.value), starts.map((d) => d!.toISOString())],
      ),
      timeoutMs,
    );
  } catch (e) {
    const i = hits.findIndex((h) => h.budget.whenDatabaseDown === 'refuse');
    if (i >= 0) throw refused(hits[i], starts[i], null);
    if (now - downWarnedAt > 60_000) {
      downWarnedAt = now;
      runtime.warn(
        `Kostrack could not check budgets ${hits.map((h) => `"${h.budget.name}"`).join(', ')} before a request (${e instanceof Unreadable ? e.message : (describeError(e).code ?? errorClassOf(e))}); requests go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
      );
    }
    return;
  }
  // Of the budgets used up, the one that resets last: the request cannot succeed before then.
  let worst: { hit: Hit; start: Date; state: { limit: bigint; spent: bigint; reserved: bigint } } | undefined;
  for (const row of rows) {
    const n = Number(row.i) - 1;
    const state = { limit: usd(row.limit_usd), spent: usd(row.spent), reserved: usd(row.reserved) };
    if (row.mode !== 'enforce' || state.spent + state.reserved < state.limit) continue;
    if (!worst || resetsLater(starts[n]!, hits[n], worst.start, worst.hit)) worst = { hit: hits[n], start: starts[n]!, state };
  }
  if (worst) throw refused(worst.hit, worst.start, worst.state);
}

function resetsLater(start: Date, hit: Hit, otherStart: Date, other: Hit): boolean {
  const a = periodEnd(hit.budget.period, start, hit.budget.timeZone)?.getTime() ?? Infinity;
  const b = periodEnd(other.budget.period, otherStart, other.budget.timeZone)?.getTime() ?? Infinity;
  return a > b;
}

/** The refusal of a request: estimate 0 (it made no call), no provider or model. */
function refused(hit: Hit, start: Date | null, state: { limit: bigint; spent: bigint; reserved: bigint } | null): KostrackBudgetExceededError {
  const { budget } = hit;
  const limit = state?.limit ?? usd(budget.limit);
  const spent = state?.spent ?? 0n;
  const reserved = state?.reserved ?? 0n;
  const left = limit - spent - reserved;
  const resetsAt = start ? (periodEnd(budget.period, start, budget.timeZone)?.toISOString() ?? null) : null;
  const refusal: BudgetRefusal = {
    scope: budget.scope,
    scopeValue: hit.value,
    period: budget.period,
    resetsAt,
    spanName: budget.name,
    limit: usdToString(limit),
    spent: usdToString(spent),
    reserved: usdToString(reserved),
    estimate: '0',
    remaining: usdToString(left < 0n ? 0n : left),
    provider: '',
    model: '',
    ...(state ? {} : { unavailable: true }),
  };
  const error = new KostrackBudgetExceededError(refusal);
  const who = `Kostrack budget of $${refusal.limit} on "${budget.name}" for ${budget.scope} "${hit.value}"`;
  const message = state
    ? `${who} is used up${budget.period === 'total' ? '' : ` for this ${budget.period}`} ($${refusal.spent} spent, $${refusal.reserved} held by calls in flight); the request was refused before its handler ran${resetsAt ? `; the budget resets at ${resetsAt}` : ''}`
    : `${who} refused the request before its handler ran: its database cannot be reached, and the budget refuses calls then`;
  if (error.stack) error.stack = error.stack.replace(error.message, message);
  error.message = message;
  return error;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Unreadable(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
