import { usd, type Usd } from '../core/money.js';
import { KostrackProviderCostsError } from './provider-costs.error.js';
import type { CostProvider } from './reconcile.options.js';

/** One provider's figures for one UTC day and model, as stored in `llm_provider_costs`. */
export interface BilledRow {
  day: string;
  /** The provider's name for the model; '' for costs tied to no model. */
  model: string;
  amount: Usd;
  inputTokens: number | null;
  outputTokens: number | null;
  cachedTokens: number | null;
  requests: number | null;
}

/** A provider's report for a range, checked: the rows, and the days it sent a bucket for. */
export interface BilledReport {
  rows: BilledRow[];
  days: Set<string>;
  pages: number;
  source: string;
}

const DAY_MS = 86_400_000;
const PLAIN_DECIMAL = /^\d{1,15}(?:\.\d{1,30})?$/;

/** Checks on the providers' JSON: every failure names where in the report it was. */
export class Shape {
  constructor(private readonly provider: CostProvider) {}

  fail(kind: 'malformed' | 'amount' | 'currency', message: string): never {
    throw new KostrackProviderCostsError(this.provider, kind, message);
  }

  object(value: unknown, where: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail('malformed', `${where}: expected an object, got ${brief(value)}`);
    return value as Record<string, unknown>;
  }

  array(value: unknown, where: string): unknown[] {
    if (!Array.isArray(value)) this.fail('malformed', `${where}: expected an array, got ${brief(value)}`);
    return value;
  }

  /** A token or request count: absent is null, anything but a non-negative whole number is refused. */
  count(value: unknown, where: string): number | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail('amount', `${where}: expected a non-negative whole number, got ${brief(value)}`);
    return value;
  }

  /**
   * A non-negative amount from a JSON number or a plain decimal string. A number arrives as a
   * double (JSON.parse); its shortest decimal form is the literal the provider wrote for up to 15
   * significant digits, which is every amount these reports carry.
   */
  amount(value: unknown, where: string): Usd {
    if (typeof value === 'number') {
      // Past 15 integer digits a double no longer holds the literal the provider wrote (and 1e21
      // prints in exponent form); string amounts have the same bound.
      if (!Number.isFinite(value) || value < 0) this.fail('amount', `${where}: expected a non-negative amount, got ${brief(value)}`);
      if (value >= 1e15) this.fail('amount', `${where}: expected an amount below 10^15, got ${brief(value)}`);
      return usd(value);
    }
    if (typeof value === 'string' && PLAIN_DECIMAL.test(value.trim())) return usd(value.trim());
    return this.fail('amount', `${where}: expected a non-negative amount, got ${brief(value)}`);
  }

  /** USD only: tracked costs are USD, and converting would need a rate the report does not carry. */
  usdCurrency(value: unknown, where: string): void {
    if (typeof value !== 'string' || value.toUpperCase() !== 'USD') this.fail('currency', `${where}: amounts in ${brief(value)} cannot be compared with tracked USD; only USD is imported`);
  }

  /** The UTC day a bucket covers; it must be one whole day inside the range asked for. */
  day(startMs: number, endMs: number, range: ReadonlySet<string>, where: string): string {
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || startMs % DAY_MS !== 0 || endMs - startMs !== DAY_MS)
      this.fail('malformed', `${where}: a bucket must cover one whole UTC day`);
    const day = new Date(startMs).toISOString().slice(0, 10);
    if (!range.has(day)) this.fail('malformed', `${where}: a bucket for ${day}, outside the range asked for`);
    return day;
  }
}

/** Adds `row` into `into` by day and model (line items of one model become one row). */
export function addRow(into: Map<string, BilledRow>, row: BilledRow): void {
  const key = `${row.day}\u0000${row.model}`;
  const had = into.get(key);
  if (!had) {
    into.set(key, { ...row });
    return;
  }
  had.amount += row.amount;
  had.inputTokens = sumOrNull(had.inputTokens, row.inputTokens);
  had.outputTokens = sumOrNull(had.outputTokens, row.outputTokens);
  had.cachedTokens = sumOrNull(had.cachedTokens, row.cachedTokens);
  had.requests = sumOrNull(had.requests, row.requests);
}

/** Token counts from a usage report added onto the cost rows of the same day and model. */
export function addTokens(rows: Map<string, BilledRow>, day: string, model: string, t: Pick<BilledRow, 'inputTokens' | 'outputTokens' | 'cachedTokens' | 'requests'>): void {
  const row = rows.get(`${day}\u0000${model}`);
  // Usage without a cost line that day (not billed yet, or free): no amount to put tokens on.
  if (!row) return;
  row.inputTokens = sumOrNull(row.inputTokens, t.inputTokens);
  row.outputTokens = sumOrNull(row.outputTokens, t.outputTokens);
  row.cachedTokens = sumOrNull(row.cachedTokens, t.cachedTokens);
  row.requests = sumOrNull(row.requests, t.requests);
}

function sumOrNull(a: number | null, b: number | null): number | null {
  return a === null && b === null ? null : (a ?? 0) + (b ?? 0);
}

function brief(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
