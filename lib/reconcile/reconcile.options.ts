import { KostrackConfigError } from '../core/errors.js';

/** The providers whose admin report APIs Kostrack imports. */
export const COST_PROVIDERS = ['openai', 'anthropic'] as const;
export type CostProvider = (typeof COST_PROVIDERS)[number];

/** Where a provider's admin report API is and how to call it. */
export interface ProviderAdminSource {
  /**
   * The organization's admin key (OpenAI `sk-admin-…`, Anthropic `sk-ant-admin…`): the report APIs
   * refuse inference keys, and an inference key should never be given the admin's reach.
   */
  adminKey: string;
  /** Default `https://api.openai.com/v1`, `https://api.anthropic.com`. */
  baseUrl?: string | undefined;
  /** Per request; default 30,000 ms. */
  timeoutMs?: number | undefined;
}

/** What to import: one provider's figures for the UTC days `[from, to)`. */
export interface ImportProviderCostsOptions extends ProviderAdminSource {
  provider: CostProvider;
  /** The first day (inclusive): `YYYY-MM-DD`, or a Date / date-time at 00:00 UTC. */
  from: string | Date;
  /** The day after the last (exclusive). */
  to: string | Date;
  /** Days per page asked of the API (1 to 31, default 31). */
  pageSize?: number | undefined;
  /** Default the global `fetch`. */
  fetch?: typeof fetch | undefined;
}

/** What an import stored. Money as exact decimal strings (USD). */
export interface ImportProviderCostsReport {
  provider: CostProvider;
  from: string;
  to: string;
  /** The days whose figures were replaced (the provider reported on them, maybe with nothing billed). */
  days: string[];
  /** Days of the range the provider sent no bucket for: left as they were. */
  missingDays: string[];
  /** Rows stored: one per day and model. */
  rows: number;
  billedUsd: string;
  /** API pages read, costs and usage together. */
  pages: number;
  importedAt: string;
}

/** {@link ImportProviderCostsOptions} checked. */
export interface ResolvedImportOptions {
  provider: CostProvider;
  fromDay: string;
  toDay: string;
  /** Every day of the range, `YYYY-MM-DD`. */
  days: string[];
  adminKey: string;
  baseUrl: string;
  timeoutMs: number;
  pageSize: number;
  fetch: typeof fetch;
}

/** What to compare: the UTC days `[from, to)`. */
export interface ReconcileOptions {
  from: string | Date;
  to: string | Date;
  /** A day × model is listed in `gaps` when |billed − tracked| is over this many USD. Decimal string, default `'0.01'`. */
  threshold?: string | undefined;
}

/**
 * Tracked beside billed. Money as exact decimal strings (USD); coverage = tracked ÷ billed, 6
 * decimals, null when nothing was billed. With the SDK's own retries of the calls compared.
 */
export interface ReconcileTotals extends ReconcileRetries {
  trackedUsd: string;
  billedUsd: string;
  /** billed − tracked. */
  gapUsd: string;
  coverage: string | null;
  /** What was billed and not tracked: the sum of the positive gaps per day × model. */
  untrackedUsd: string;
  /** What was tracked and not billed (a price set too high, a call the provider did not charge): the negative gaps, as a positive amount. */
  overTrackedUsd: string;
}

/**
 * Tracked calls for which the SDK retried on its own (`llm_calls.attempts` over 1). Each is one
 * row and one cost, but the provider may have billed an attempt it retried (one that timed out
 * after the model ran): a gap beside retries may be those. Calls with unknown attempts (SDKs
 * Kostrack cannot observe, rows from before attempts were recorded) count in neither.
 */
export interface ReconcileRetries {
  /** Tracked calls the SDK sent more than once. */
  retriedCalls: number;
  /** The attempts beyond the first, summed over those calls. */
  extraAttempts: number;
}

export interface ReconcileProvider extends ReconcileTotals {
  provider: string;
  /** Days of the range with imported figures, and those without (not compared). */
  daysImported: number;
  daysNotImported: string[];
}

/** A day × model; `retriedCalls` and `extraAttempts` are of its tracked calls. */
export interface ReconcileGap extends ReconcileRetries {
  day: string;
  provider: string;
  /** Without its snapshot date (`gpt-4o-mini`, not `gpt-4o-mini-2024-07-18`); null for costs the provider ties to no model. */
  model: string | null;
  trackedUsd: string;
  billedUsd: string;
  gapUsd: string;
  coverage: string | null;
  /** Tracked calls, and those of them that had no price (they count 0 in trackedUsd). */
  calls: number;
  unpricedCalls: number;
}

export interface ReconcileReport extends ReconcileTotals {
  from: string;
  to: string;
  threshold: string;
  /** Per provider with imported figures in the range, by name. */
  providers: ReconcileProvider[];
  /** The days × models whose gap is over the threshold, by day, provider, model. */
  gaps: ReconcileGap[];
  /** Tracked spend on provider-days with no imported figures (not part of any total above). */
  notComparedUsd: string;
}

export interface ResolvedReconcileOptions {
  fromDay: string;
  toDay: string;
  days: string[];
  threshold: string;
}

const DAY_MS = 86_400_000;
/** A year and a day: imports and reports of whole years, not of centuries by a typo. */
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_THRESHOLD = '0.01';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_PAGE_DAYS = 31;
const DEFAULT_BASE: Record<CostProvider, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0{1,6})?)?(?:Z|[+-]00:?00)$/;
const AMOUNT = /^\d{1,12}(?:\.\d{1,15})?$/;

/** `YYYY-MM-DD` of a whole UTC day, or a config error naming `name`. */
export function dayOf(value: unknown, name: string, who: string): string {
  if (value instanceof Date) {
    const t = value.getTime();
    if (Number.isNaN(t) || t % DAY_MS !== 0) throw new KostrackConfigError(`${who}: ${name} must be a whole UTC day (00:00Z), got ${Number.isNaN(t) ? 'an invalid Date' : value.toISOString()}`);
    return value.toISOString().slice(0, 10);
  }
  const text = typeof value === 'string' ? (MIDNIGHT.exec(value)?.[1] ?? value) : null;
  const m = text === null ? null : DATE.exec(text);
  // `2026-02-31` would parse as March 3rd: the calendar is checked on the digits as written.
  const daysIn = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]), 0)).getUTCDate() : 0;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > daysIn)
    throw new KostrackConfigError(`${who}: ${name} must be a UTC day like 2026-08-03 (or a date-time at 00:00Z), got ${JSON.stringify(value)}`);
  return text!;
}

function rangeOf(from: unknown, to: unknown, who: string): { fromDay: string; toDay: string; days: string[] } {
  if (from === undefined || to === undefined) throw new KostrackConfigError(`${who}: from and to are required (the UTC days [from, to))`);
  const fromDay = dayOf(from, 'from', who);
  const toDay = dayOf(to, 'to', who);
  const n = (Date.parse(`${toDay}T00:00:00Z`) - Date.parse(`${fromDay}T00:00:00Z`)) / DAY_MS;
  if (n < 1) throw new KostrackConfigError(`${who}: from (${fromDay}) must be before to (${toDay}); to is the day after the last`);
  if (n > MAX_RANGE_DAYS) throw new KostrackConfigError(`${who}: the range holds ${n} days; at most ${MAX_RANGE_DAYS} at a time`);
  const days = Array.from({ length: n }, (_, i) => new Date(Date.parse(`${fromDay}T00:00:00Z`) + i * DAY_MS).toISOString().slice(0, 10));
  return { fromDay, toDay, days };
}

export function isCostProvider(value: unknown): value is CostProvider {
  return (COST_PROVIDERS as readonly unknown[]).includes(value);
}

/** Checks a provider's admin source (also the module's `admin.providerCosts`); throws {@link KostrackConfigError}. */
export function checkAdminSource(source: unknown, who: string): void {
  if (typeof source !== 'object' || source === null) throw new KostrackConfigError(`${who} must be an object like { adminKey }`);
  const s = source as ProviderAdminSource;
  // Header values cannot hold control characters or spaces; a pasted newline is the usual mistake.
  if (typeof s.adminKey !== 'string' || !/^[\x21-\x7e]{8,500}$/.test(s.adminKey))
    throw new KostrackConfigError(`${who}.adminKey must be the organization's admin key (8 to 500 printable characters, no spaces)`);
  if (s.baseUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = typeof s.baseUrl === 'string' ? new URL(s.baseUrl) : null;
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new KostrackConfigError(`${who}.baseUrl must be an http(s) URL, got ${JSON.stringify(s.baseUrl)}`);
  }
  if (s.timeoutMs !== undefined && (!Number.isSafeInteger(s.timeoutMs) || s.timeoutMs < 1 || s.timeoutMs > 600_000))
    throw new KostrackConfigError(`${who}.timeoutMs must be a whole number of milliseconds from 1 to 600000`);
}

/** Checks import options; throws {@link KostrackConfigError} with a message for the user. */
export function resolveImportOptions(options: ImportProviderCostsOptions): ResolvedImportOptions {
  const who = 'importProviderCosts';
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError(`${who}: options must be an object with provider, from, to and adminKey`);
  if (!isCostProvider(options.provider))
    throw new KostrackConfigError(`${who}: provider must be one of ${COST_PROVIDERS.join(', ')} (the providers with admin cost reports), got ${JSON.stringify(options.provider)}`);
  const range = rangeOf(options.from, options.to, who);
  checkAdminSource(options, who);
  const pageSize = options.pageSize ?? MAX_PAGE_DAYS;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_DAYS)
    throw new KostrackConfigError(`${who}: pageSize must be a whole number from 1 to ${MAX_PAGE_DAYS}, got ${JSON.stringify(options.pageSize)}`);
  const f = options.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw new KostrackConfigError(`${who}: fetch must be a function (no global fetch in this runtime)`);
  return {
    provider: options.provider,
    ...range,
    adminKey: options.adminKey,
    baseUrl: (options.baseUrl ?? DEFAULT_BASE[options.provider]).replace(/\/+$/, ''),
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    pageSize,
    fetch: f,
  };
}

/** Checks reconcile options; throws {@link KostrackConfigError}. */
export function resolveReconcileOptions(options: ReconcileOptions): ResolvedReconcileOptions {
  const who = 'reconcile';
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError(`${who}: options must be an object with from and to`);
  const range = rangeOf(options.from, options.to, who);
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  // A string, not a number: money is never a float here, thresholds included.
  if (typeof threshold !== 'string' || !AMOUNT.test(threshold))
    throw new KostrackConfigError(`${who}: threshold must be a non-negative decimal string of USD like '0.01', got ${JSON.stringify(options.threshold)}`);
  return { ...range, threshold };
}
