import { usdToString } from '../core/money.js';
import { DEFAULT_SCHEMA, validateSchemaName } from '../storage/schema.name.js';
import type { SqlPool } from '../storage/sql.pool.js';
import { fetchAnthropicCosts } from './anthropic-costs.importer.js';
import { fetchOpenAiCosts } from './openai-costs.importer.js';
import { replaceProviderDays } from './provider-costs.store.js';
import { resolveImportOptions, type ImportProviderCostsOptions, type ImportProviderCostsReport } from './reconcile.options.js';

/** The database and schema the figures go to (and the reconciliation reads). */
export interface ProviderCostsTarget {
  pool: SqlPool;
  /** Default `public`. */
  schema?: string | undefined;
}

/**
 * Imports one provider's own cost figures per UTC day and model for `[from, to)` from its admin
 * report API (OpenAI's organization Costs and Usage APIs, Anthropic's Admin API cost and usage
 * reports) into `llm_provider_costs`.
 *
 * Every page of both reports is read and checked first; then the days the provider reported on
 * replace what they held, in one transaction. So an import is idempotent (the same figures
 * again store the same rows), a revised day replaces the old figures, and a failure (HTTP
 * error, a truncated page, a negative or non-numeric amount, another currency) throws
 * {@link KostrackProviderCostsError} with nothing stored. Bad options throw
 * `KostrackConfigError` before any request.
 */
export async function importProviderCosts(target: ProviderCostsTarget, options: ImportProviderCostsOptions): Promise<ImportProviderCostsReport> {
  const o = resolveImportOptions(options);
  const schema = validateSchemaName(target?.schema ?? DEFAULT_SCHEMA);
  const report = o.provider === 'openai' ? await fetchOpenAiCosts(o) : await fetchAnthropicCosts(o);
  const importedAt = new Date();
  await replaceProviderDays(target.pool, schema, o.provider, report, importedAt);
  return {
    provider: o.provider,
    from: o.fromDay,
    to: o.toDay,
    days: [...report.days].sort(),
    missingDays: o.days.filter((d) => !report.days.has(d)),
    rows: report.rows.length,
    billedUsd: usdToString(report.rows.reduce((a, r) => a + r.amount, 0n)),
    pages: report.pages,
    importedAt: importedAt.toISOString(),
  };
}
