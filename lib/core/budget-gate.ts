import type { Usd } from './money.js';
import { runtime } from './runtime.js';
import type { Tags } from './tags.js';

/** A call asking a durable budget for admission (see {@link BudgetGate}). */
export interface GateCall {
  /** The call's row id: the hold is keyed by it and given back when the row lands. */
  spanId: string;
  provider: string;
  model: string;
  /** The tags the call's row will carry (every layer merged). */
  tags: Tags;
  serviceId: string;
}

/**
 * Durable budgets (per user, feature, tenant or service, per period), shared by every process
 * through the database. Storage installs one; the core asks it, on every tracked call, whether any
 * budget applies (a lookup in memory), and only then, before the request is sent, waits for
 * `admit`.
 */
export interface BudgetGate {
  /** No budget at all: a tracked call pays nothing more (checked before its tags are merged). */
  readonly empty: boolean;
  /** What applies to a call with these tags, or null (the usual answer, decided without I/O). */
  match(tags: Tags, serviceId: string): unknown | null;
  /**
   * Holds `estimate` (null: the model has no price) against every matched budget, in the
   * database, atomically across processes. Rejects with `KostrackBudgetExceededError` when one
   * refuses; what happens while the database is down is each budget's `whenDatabaseDown`.
   */
  admit(match: unknown, estimate: Usd | null, call: GateCall): Promise<void>;
  /**
   * The call finished and its exact cost is known: its hold shrinks to that cost now, so the next
   * call is not refused for the worst case of one that already settled (the writer turns the rest
   * into spent money when the row lands). Fire and forget; never throws.
   */
  settle(spanId: string, cost: Usd): void;
}

const KEY = Symbol.for('kostrack.budgetGate.v1');
type Holder = { [KEY]?: BudgetGate };

export function budgetGate(): BudgetGate | undefined {
  return (globalThis as Holder)[KEY];
}

/** Installs the gate (one at a time); returns a function that removes it if still installed. */
export function setBudgetGate(gate: BudgetGate): () => void {
  (globalThis as Holder)[KEY] = gate;
  return () => {
    if ((globalThis as Holder)[KEY] === gate) delete (globalThis as Holder)[KEY];
  };
}

