import { KostrackConfigError } from '../core/errors.js';
import { usd, type Usd } from '../core/money.js';

/**
 * A local lease of durable budget (off unless set): each process takes part of what a scope has
 * left in one database admission and admits calls against it in memory, so a hot scope is not
 * capped at one round trip per call. What a process leases, other replicas cannot use until it is
 * spent or given back.
 */
export interface BudgetLeaseOptions {
  /** The most one process holds per scope at a time, USD (an exact decimal like `'0.10'`). */
  amount: string | number;
  /** And at most this share of what the scope had left when last seen, from 0 (exclusive) to 1. Default 0.1. */
  share?: number | undefined;
  /** How long a lease admits calls before a fresh one is taken (what is left of it is given back). At least 1,000 ms; default 30,000 ms. */
  ttlMs?: number | undefined;
  /** Only these budgets, by name (a name no budget has is warned about once the list is loaded). Default: every budget in `enforce` mode. */
  budgets?: string[] | undefined;
}

/** How durable budgets are checked (`budgetOptions`). */
export interface BudgetOptions {
  /** How often the list of budgets is re-read. Default 5,000 ms. */
  refreshMs?: number | undefined;
  /** How long a hold lasts if its call never lands (a crashed process). Default 600,000 ms. */
  holdTtlMs?: number | undefined;
  /** The longest an admission waits for the database before `whenDatabaseDown` applies. Default 2,000 ms. */
  timeoutMs?: number | undefined;
  /** Off by default; see {@link BudgetLeaseOptions}. */
  lease?: BudgetLeaseOptions | undefined;
}

/** A lease's options checked: the amount in exact money, the share in parts per million. */
export interface ResolvedLease {
  amount: Usd;
  sharePpm: bigint;
  ttlMs: number;
  budgets: ReadonlySet<string> | null;
}

const KEYS = ['refreshMs', 'holdTtlMs', 'timeoutMs', 'lease'];
const LEASE_KEYS = ['amount', 'share', 'ttlMs', 'budgets'];
// Timers and the database's integer take at most 2^31 - 1 ms (about 24.8 days).
const MAX_MS = 2_147_483_647;
/** The shortest `lease.ttlMs`. */
export const MIN_LEASE_TTL_MS = 1_000;

function checkMs(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_MS)
    throw new KostrackConfigError(`Kostrack: budgetOptions.${name} must be a whole number of milliseconds from 1 to ${MAX_MS}`);
}

/** Throws {@link KostrackConfigError} naming what is wrong. */
export function checkBudgetOptions(bo: unknown): void {
  if (bo === undefined) return;
  if (typeof bo !== 'object' || bo === null) throw new KostrackConfigError('Kostrack: budgetOptions must be an object');
  for (const [key, value] of Object.entries(bo)) {
    if (!KEYS.includes(key)) throw new KostrackConfigError(`Kostrack: budgetOptions has no option "${key}" (${KEYS.join(', ')})`);
    if (key === 'lease') resolveLease(value);
    else checkMs(value, key);
  }
  const { lease, holdTtlMs } = bo as BudgetOptions;
  // A lease's hold lasts its ttlMs plus holdTtlMs (its last call may run that long): one integer in the database.
  if (lease !== undefined && (lease.ttlMs ?? 30_000) + (holdTtlMs ?? 600_000) > MAX_MS)
    throw new KostrackConfigError(`Kostrack: budgetOptions.lease.ttlMs plus holdTtlMs must be at most ${MAX_MS} ms`);
}

/** The lease as the ledger uses it; null when off. */
export function resolveLease(input: unknown): ResolvedLease | null {
  if (input === undefined) return null;
  const where = 'Kostrack: budgetOptions.lease';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KostrackConfigError(`${where} must be an object like { amount: '0.10' }`);
  const l = input as Record<string, unknown>;
  for (const key of Object.keys(l)) if (!LEASE_KEYS.includes(key)) throw new KostrackConfigError(`${where} has no option "${key}" (${LEASE_KEYS.join(', ')})`);
  let amount: Usd;
  try {
    if (typeof l.amount !== 'string' && typeof l.amount !== 'number') throw new TypeError();
    amount = usd(l.amount);
  } catch {
    throw new KostrackConfigError(`${where}.amount must be an amount in USD like '0.10', got ${typeof l.amount === 'number' ? String(l.amount) : JSON.stringify(l.amount)}`);
  }
  if (amount <= 0n) throw new KostrackConfigError(`${where}.amount must be more than 0`);
  const share = l.share ?? 0.1;
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) throw new KostrackConfigError(`${where}.share must be a number above 0 and at most 1, got ${String(share)}`);
  const sharePpm = BigInt(Math.round(share * 1e6));
  if (sharePpm === 0n) throw new KostrackConfigError(`${where}.share must be at least 0.000001`);
  const ttlMs = l.ttlMs ?? 30_000;
  if (l.ttlMs !== undefined) checkMs(l.ttlMs, 'lease.ttlMs');
  // A lease must outlast the round trip that asks for it (one that arrives past its time is given back unused).
  if ((ttlMs as number) < MIN_LEASE_TTL_MS) throw new KostrackConfigError(`${where}.ttlMs must be at least ${MIN_LEASE_TTL_MS} ms (a lease must outlast the request that takes it), got ${String(ttlMs)}`);
  let budgets: Set<string> | null = null;
  if (l.budgets !== undefined) {
    if (!Array.isArray(l.budgets) || l.budgets.length === 0 || l.budgets.some((b) => typeof b !== 'string' || b === ''))
      throw new KostrackConfigError(`${where}.budgets must be a non-empty list of budget names`);
    budgets = new Set(l.budgets as string[]);
  }
  return { amount, sharePpm, ttlMs: ttlMs as number, budgets };
}
