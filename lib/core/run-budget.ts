import { drainRecords } from './deferred-records.js';
import { KostrackConfigError } from './errors.js';
import { usd, usdToString, type Usd } from './money.js';
import { runtime } from './runtime.js';
import type { TraceContext } from './trace-context.js';

/**
 * A spending limit on one workflow run (a trace) or one span of it: `'0.50'` (USD, exact
 * decimal), or with its policy.
 */
export type BudgetInput =
  | string
  | number
  | {
      /** USD, an exact decimal string (or a number read through its shortest decimal form). */
      limit: string | number;
      /** `enforce` (default) refuses a call that may not fit; `warn` never refuses and warns once. */
      mode?: 'enforce' | 'warn' | undefined;
      /**
       * A call whose model has no price cannot be bounded. `refuse` (default under `enforce`) refuses
       * it; `allow` lets it through (its cost is then unknown and not counted).
       */
      unpriced?: 'refuse' | 'allow' | undefined;
    };

/** A validated budget; one object may serve every run of a decorated method (what a run spends is on its span). */
export class RunBudget {
  constructor(
    readonly limit: Usd,
    readonly mode: 'enforce' | 'warn',
    readonly unpriced: 'refuse' | 'allow',
  ) {}
}

/** A bad value as the user wrote it: JSON for strings, but NaN and Infinity as themselves (JSON says null). */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** Validates a budget where it is declared; throws {@link KostrackConfigError} with what is wrong. */
export function parseBudget(input: BudgetInput | undefined, where: string): RunBudget | null {
  if (input === undefined || input === null) return null;
  const spec = typeof input === 'object' ? input : { limit: input };
  if (typeof spec !== 'object' || Array.isArray(spec)) throw new KostrackConfigError(`${where}: budget must be an amount in USD like '0.50', or { limit, mode?, unpriced? }`);
  for (const key of Object.keys(spec)) {
    if (key !== 'limit' && key !== 'mode' && key !== 'unpriced') throw new KostrackConfigError(`${where}: budget has no option "${key}" (limit, mode, unpriced)`);
  }
  let limit: Usd;
  try {
    if (typeof spec.limit !== 'string' && typeof spec.limit !== 'number') throw new TypeError();
    limit = usd(spec.limit);
  } catch {
    throw new KostrackConfigError(`${where}: budget limit must be a non-negative amount in USD like '0.50', got ${shown(spec.limit)}`);
  }
  if (limit < 0n) throw new KostrackConfigError(`${where}: budget limit must not be negative, got ${shown(spec.limit)}`);
  if (spec.mode !== undefined && spec.mode !== 'enforce' && spec.mode !== 'warn')
    throw new KostrackConfigError(`${where}: budget mode must be 'enforce' or 'warn', got ${JSON.stringify(spec.mode)}`);
  if (spec.unpriced !== undefined && spec.unpriced !== 'refuse' && spec.unpriced !== 'allow')
    throw new KostrackConfigError(`${where}: budget unpriced must be 'refuse' or 'allow', got ${JSON.stringify(spec.unpriced)}`);
  return new RunBudget(limit, spec.mode ?? 'enforce', spec.unpriced ?? 'refuse');
}

/** Which budget refused a call, and by how much. Amounts are exact decimal strings of USD. */
export interface BudgetRefusal {
  /** `run` for a `trace()`/`span()` budget; else the scope's tag of a durable budget (`user_id`, `feature`, `service`…). */
  scope: string;
  /** A run budget: the span that holds it, its trace, and its name. A durable budget: its name in `spanName`. */
  traceId?: string | undefined;
  spanId?: string | undefined;
  spanName: string;
  /** A durable budget: the scope's value (the user, the feature…), its period, and when the period ends (ISO; null for `total`). */
  scopeValue?: string | undefined;
  period?: string | undefined;
  resetsAt?: string | null | undefined;
  /** The database could not be asked and the budget says to refuse then. */
  unavailable?: boolean | undefined;
  limit: string;
  /** Settled cost of the calls made under it so far. */
  spent: string;
  /** Held by calls in flight (their worst case, until they settle). */
  reserved: string;
  /** This call's worst-case cost; null when the model could not be priced. */
  estimate: string | null;
  /** What was left for this call: limit − spent − reserved. */
  remaining: string;
  provider: string;
  model: string;
}

/**
 * Thrown by a tracked call before its request is sent, when its worst-case cost does not fit what
 * a budget has left (or it cannot be priced under an enforced budget). The call is recorded with
 * status `blocked` and cost 0.
 */
export class KostrackBudgetExceededError extends Error {
  override readonly name = 'KostrackBudgetExceededError';
  readonly budget: BudgetRefusal;
  readonly limit: string;
  readonly spent: string;
  readonly reserved: string;
  readonly estimate: string | null;

  constructor(refusal: BudgetRefusal) {
    super(
      refusal.unavailable
        ? `Kostrack budget "${refusal.spanName}" refused a call to ${refusal.provider}/${refusal.model}: its database cannot be reached, and the budget refuses calls then`
        : refusal.estimate === null
        ? `Kostrack budget of $${refusal.limit} on "${refusal.spanName}" refused a call to ${refusal.provider}/${refusal.model}: the model has no price, so its cost cannot be bounded`
        : `Kostrack budget of $${refusal.limit} on "${refusal.spanName}"${refusal.scopeValue !== undefined ? ` for ${refusal.scope} "${refusal.scopeValue}"` : ''} refused a call to ${refusal.provider}/${refusal.model}: ${overrun(refusal)}`,
    );
    this.budget = refusal;
    this.limit = refusal.limit;
    this.spent = refusal.spent;
    this.reserved = refusal.reserved;
    this.estimate = refusal.estimate;
  }
}

function overrun(r: BudgetRefusal): string {
  return `it may cost up to $${r.estimate}, $${r.remaining} is left ($${r.spent} spent, $${r.reserved} held by calls in flight)`;
}

/** What a call holds against the budgets above it until it settles. */
export interface Reservation {
  readonly nodes: readonly TraceContext[];
  readonly amount: Usd;
}

/**
 * Admission of one call in `context`: checks every budget from the innermost span up to the root
 * and, if the worst case fits all of them, holds it against each. JavaScript runs this without
 * interleaving, so calls started together (`Promise.all`) are admitted one after the other and
 * their holds never exceed a limit together. Returns null when no budget applies (the usual case,
 * decided by one field read); throws {@link KostrackBudgetExceededError} when one refuses.
 */
export function admitCall(context: TraceContext | null | undefined, estimate: () => Usd | null, call: { provider: string; model: string }): Reservation | null {
  if (!context || !context.underBudget) return null;
  // Calls whose responses arrived but whose rows wait for the caller's code to resume are settled
  // first: their exact cost replaces the worst case they hold.
  drainRecords();
  const amount = estimate();
  const nodes: TraceContext[] = [];
  for (let node: TraceContext | null = context; node; node = node.parent) {
    const budget = node.budget;
    if (!budget) continue;
    nodes.push(node);
    const spent = node.settledCost;
    const remaining = budget.limit - spent - node.reserved;
    const fits = amount !== null ? amount <= remaining : budget.unpriced === 'allow';
    if (fits) continue;
    const refusal: BudgetRefusal = {
      scope: 'run',
      traceId: node.traceId,
      spanId: node.spanId,
      spanName: node.name,
      limit: usdToString(budget.limit),
      spent: usdToString(spent),
      reserved: usdToString(node.reserved),
      estimate: amount === null ? null : usdToString(amount),
      remaining: usdToString(remaining < 0n ? 0n : remaining),
      provider: call.provider,
      model: call.model,
    };
    if (budget.mode === 'enforce') throw new KostrackBudgetExceededError(refusal);
    if (!node.budgetWarned) {
      node.budgetWarned = true;
      const why = refusal.estimate === null ? 'the model has no price, so its cost cannot be bounded' : overrun(refusal);
      runtime.warn(`Kostrack budget of $${refusal.limit} on "${refusal.spanName}" is exceeded by a call to ${refusal.provider}/${refusal.model}: ${why}; warn mode lets it through (warned once per run)`);
    }
  }
  const held = amount ?? 0n;
  for (const node of nodes) node.reserved += held;
  return { nodes, amount: held };
}

/** Gives a reservation back (the call settled, failed or was abandoned); its cost, if any, is recorded apart. */
export function releaseReservation(reservation: Reservation | null): void {
  if (!reservation) return;
  for (const node of reservation.nodes) node.reserved -= reservation.amount;
}
