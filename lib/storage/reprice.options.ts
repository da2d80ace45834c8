import { KostrackConfigError } from '../core/errors.js';
import { assertProviderName } from '../pricing/provider-catalog.js';

/** What to re-price: the calls made in `[from, to)`, optionally of one provider and/or model. */
export interface RepriceOptions {
  /** From this time (inclusive): a Date or an ISO-8601 date or date-time (UTC when it has no zone). */
  from: Date | string;
  /** Until this time (exclusive). */
  to: Date | string;
  provider?: string | undefined;
  model?: string | undefined;
  /** Report what would change and write nothing (not even an `llm_repricings` row). */
  dryRun?: boolean | undefined;
  /** Calls per batch (one transaction each). Default 5,000. */
  batchSize?: number | undefined;
  /** Who asked, kept on the run (`llm_repricings.requested_by`): a user, `cli:<login>`, `admin-api`. */
  by?: string | undefined;
  /** Told after each batch commits (or is read, on a dry run). */
  onBatch?: ((progress: RepriceProgress) => void) | undefined;
}

/** Progress after one batch: the run's totals so far (resumed runs include what was done before). */
export interface RepriceProgress {
  id: number | null;
  batches: number;
  rowsScanned: number;
  rowsChanged: number;
}

/** What a run did (or, on a dry run, would do). Money as exact decimal strings. */
export interface RepriceReport {
  /** The `llm_repricings` id; null on a dry run. */
  id: number | null;
  dryRun: boolean;
  /** True when this call continued an unfinished run of the same range and filter. */
  resumed: boolean;
  status: 'done' | 'running' | 'failed';
  from: string;
  to: string;
  provider: string | null;
  model: string | null;
  by: string | null;
  /** Calls whose cost is a price (blocked, not-billed and no-usage rows are left out). */
  rowsScanned: number;
  /** Calls whose cost changed (would change, on a dry run). */
  rowsChanged: number;
  /** Calls that had no price and have one now; and the other way round. */
  newlyPriced: number;
  newlyUnpriced: number;
  /** The scanned calls' cost before and after (unpriced count as 0). */
  totalBeforeUsd: string;
  totalAfterUsd: string;
  deltaUsd: string;
  batches: number;
  startedAt: string;
  finishedAt: string | null;
}

/** {@link RepriceOptions} checked, times as UTC Dates. */
export interface ResolvedRepriceOptions {
  from: Date;
  to: Date;
  provider: string | null;
  model: string | null;
  dryRun: boolean;
  batchSize: number;
  by: string | null;
  onBatch: ((progress: RepriceProgress) => void) | null;
}

export const REPRICE_DEFAULT_BATCH = 5000;
/**
 * A batch holds the rollup rows it adjusts until it commits, budget usage rows included, and a
 * tracked call's budget admission waits on those (for `budgetOptions.timeoutMs`, 2 s by default).
 * At 1,000,000 calls a batch of 5,000 commits in 0.2 to 0.35 s and one of 20,000 in 0.75 to 1 s
 * (bench/reprice.bench.ts, two runs): much larger ones would make admissions time out during a run.
 */
export const REPRICE_MAX_BATCH = 20_000;

/** A date, or a date and time with an optional zone (UTC when absent); no week or ordinal dates. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function timeOf(value: unknown, name: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new KostrackConfigError(`reprice: ${name} is an invalid Date`);
    return value;
  }
  const m = typeof value === 'string' ? ISO_TIME.exec(value) : null;
  // `2026-02-31` parses (as March 3rd): the calendar is checked on the digits as written.
  const daysIn = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]), 0)).getUTCDate() : 0;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > daysIn)
    throw new KostrackConfigError(`reprice: ${name} must be an ISO-8601 date or date-time, e.g. 2026-01-31T12:00:00Z; got ${JSON.stringify(value)}`);
  const zoned = /T.*(?:Z|[+-]\d{2}:?\d{2})$/.test(value as string) || !(value as string).includes('T') ? (value as string) : `${value as string}Z`;
  const at = new Date(zoned);
  if (Number.isNaN(at.getTime())) throw new KostrackConfigError(`reprice: ${name} is not a valid time: ${JSON.stringify(value)}`);
  return at;
}

function textOf(value: unknown, name: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw new KostrackConfigError(`reprice: ${name} must be a string of 1 to ${max} characters, got ${JSON.stringify(value)}`);
  return value;
}

/** Checks reprice options; throws {@link KostrackConfigError} with a message for the user. */
export function resolveRepriceOptions(options: RepriceOptions): ResolvedRepriceOptions {
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError('reprice: options must be an object with from and to');
  if (options.from === undefined || options.to === undefined) throw new KostrackConfigError('reprice: from and to are required (the calls made in [from, to))');
  const from = timeOf(options.from, 'from');
  const to = timeOf(options.to, 'to');
  if (from.getTime() >= to.getTime()) throw new KostrackConfigError(`reprice: from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  const provider = textOf(options.provider, 'provider', 64);
  if (provider !== null) assertProviderName(provider, 'reprice: provider');
  const model = textOf(options.model, 'model', 200);
  const batchSize = options.batchSize ?? REPRICE_DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > REPRICE_MAX_BATCH)
    throw new KostrackConfigError(`reprice: batchSize must be a whole number from 1 to ${REPRICE_MAX_BATCH}, got ${JSON.stringify(options.batchSize)}`);
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') throw new KostrackConfigError('reprice: dryRun must be true or false');
  if (options.onBatch !== undefined && typeof options.onBatch !== 'function') throw new KostrackConfigError('reprice: onBatch must be a function');
  return {
    from,
    to,
    provider,
    model,
    dryRun: options.dryRun === true,
    batchSize,
    by: textOf(options.by, 'by', 200),
    onBatch: options.onBatch ?? null,
  };
}
