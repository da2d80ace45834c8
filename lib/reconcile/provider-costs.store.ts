import { usdToString } from '../core/money.js';
import { quoteSchema } from '../storage/schema.name.js';
import type { SqlPool } from '../storage/sql.pool.js';
import type { BilledReport } from './report.shape.js';

/**
 * Stores one provider's figures for the days its report covered, replacing what those days held
 * (a revised day loses the models it no longer lists), in one transaction: a failure leaves
 * every day as it was. Imports of one provider wait for each other, so two at once store one
 * of the two reports, never a mix.
 */
export async function replaceProviderDays(pool: SqlPool, schema: string, provider: string, report: BilledReport, importedAt: Date): Promise<void> {
  const s = quoteSchema(schema);
  const days = [...report.days].sort();
  if (days.length === 0) return;
  const rows = report.rows;
  await pool.transaction(async (db) => {
    await db.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`kostrack:provider-costs:${schema}:${provider}`]);
    await db.query(`DELETE FROM ${s}.llm_provider_costs WHERE provider = $1 AND day = ANY($2::date[])`, [provider, days]);
    if (rows.length > 0)
      await db.query(
        `INSERT INTO ${s}.llm_provider_costs (provider, day, model, amount, currency, input_tokens, output_tokens, cached_tokens, requests, source, imported_at)
         SELECT $1, u.day, u.model, u.amount, 'USD', u.input_tokens, u.output_tokens, u.cached_tokens, u.requests, $9, $10
           FROM unnest($2::date[], $3::text[], $4::numeric[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
                AS u(day, model, amount, input_tokens, output_tokens, cached_tokens, requests)`,
        [
          provider,
          rows.map((r) => r.day),
          rows.map((r) => r.model),
          rows.map((r) => usdToString(r.amount)),
          rows.map((r) => r.inputTokens),
          rows.map((r) => r.outputTokens),
          rows.map((r) => r.cachedTokens),
          rows.map((r) => r.requests),
          report.source,
          importedAt.toISOString(),
        ],
      );
    await db.query(
      `INSERT INTO ${s}.llm_provider_cost_days (provider, day, source, imported_at)
       SELECT $1, d, $3, $4 FROM unnest($2::date[]) AS d
       ON CONFLICT (provider, day) DO UPDATE SET source = EXCLUDED.source, imported_at = EXCLUDED.imported_at`,
      [provider, days, report.source, importedAt.toISOString()],
    );
  });
}
