import { usd, usdToString, type Usd } from '../core/money.js';
import { DEFAULT_SCHEMA, quoteSchema, validateSchemaName } from '../storage/schema.name.js';
import type { ProviderCostsTarget } from './provider-costs.import.js';
import {
  resolveReconcileOptions,
  type ReconcileGap,
  type ReconcileOptions,
  type ReconcileProvider,
  type ReconcileReport,
  type ReconcileRetries,
  type ReconcileTotals,
} from './reconcile.options.js';

interface Row {
  day: string;
  provider: string;
  model: string | null;
  tracked: string;
  billed: string;
  gap: string;
  coverage: string | null;
  calls: string;
  unpriced_calls: string;
}

interface RetryRow {
  day: string;
  provider: string;
  model: string;
  retried: string;
  extra: string;
}

const NO_RETRIES: ReconcileRetries = Object.freeze({ retriedCalls: 0, extraAttempts: 0 });

/** Sums that become {@link ReconcileTotals}. */
class Tally {
  tracked = 0n;
  billed = 0n;
  untracked = 0n;
  over = 0n;
  retriedCalls = 0;
  extraAttempts = 0;

  add(tracked: Usd, billed: Usd, retries: ReconcileRetries): void {
    this.tracked += tracked;
    this.billed += billed;
    if (billed > tracked) this.untracked += billed - tracked;
    else this.over += tracked - billed;
    this.retriedCalls += retries.retriedCalls;
    this.extraAttempts += retries.extraAttempts;
  }

  totals(): ReconcileTotals {
    return {
      trackedUsd: usdToString(this.tracked),
      billedUsd: usdToString(this.billed),
      gapUsd: usdToString(this.billed - this.tracked),
      coverage: coverage(this.tracked, this.billed),
      untrackedUsd: usdToString(this.untracked),
      overTrackedUsd: usdToString(this.over),
      retriedCalls: this.retriedCalls,
      extraAttempts: this.extraAttempts,
    };
  }
}

const MICRO = 1_000_000n;

/** tracked ÷ billed rounded half-up to 6 decimals, as `round(x, 6)` gives in the view; null when nothing was billed. */
export function coverage(tracked: Usd, billed: Usd): string | null {
  if (billed <= 0n) return null;
  const q = (tracked * MICRO * 2n + billed) / (2n * billed);
  const frac = (q % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return `${q / MICRO}${frac ? `.${frac}` : ''}`;
}

/**
 * Compares what Kostrack tracked with what the providers billed (imported by
 * `importProviderCosts`) for the UTC days `[from, to)`: coverage (tracked ÷ billed) overall and
 * per provider, the untracked amount, and the days × models whose gap is over `threshold`.
 * Only provider-days with imported figures are compared; tracked spend on the others is
 * `notComparedUsd`. Reads `kostrack_reconciliation`, the range form of the `llm_reconciliation` view.
 * Beside each day × model (and in the totals): the tracked calls the SDK retried on its own, which
 * a provider may have billed more than once.
 */
export async function reconcile(target: ProviderCostsTarget, options: ReconcileOptions): Promise<ReconcileReport> {
  const o = resolveReconcileOptions(options);
  const s = quoteSchema(validateSchemaName(target?.schema ?? DEFAULT_SCHEMA));
  const range = [o.fromDay, o.toDay];
  const rows = await target.pool.query<Row>(
    `SELECT to_char(r.day, 'YYYY-MM-DD') AS day, r.provider, r.model, r.tracked_usd::text AS tracked, r.billed_usd::text AS billed,
            r.gap_usd::text AS gap, r.coverage::text AS coverage, r.calls::text AS calls, r.unpriced_calls::text AS unpriced_calls
       FROM ${s}.kostrack_reconciliation($1::date, $2::date) r
      ORDER BY r.day, r.provider, r.model NULLS LAST`,
    range,
  );
  const imported = await target.pool.query<{ provider: string; day: string }>(
    `SELECT provider, to_char(day, 'YYYY-MM-DD') AS day FROM ${s}.llm_provider_cost_days WHERE day >= $1::date AND day < $2::date ORDER BY 1, 2`,
    range,
  );
  const [uncompared] = await target.pool.query<{ total: string }>(
    `SELECT COALESCE(sum(t.cost_usd), 0)::text AS total FROM ${s}.llm_cost_daily t
      WHERE t.day >= ($1::date::timestamp AT TIME ZONE 'UTC') AND t.day < ($2::date::timestamp AT TIME ZONE 'UTC')
        AND NOT EXISTS (SELECT 1 FROM ${s}.llm_provider_cost_days d WHERE d.provider = t.provider AND d.day = (t.day AT TIME ZONE 'UTC')::date)`,
    range,
  );
  // The calls the SDK retried, keyed as the view keys tracked spend: UTC day, provider, model key,
  // on imported provider-days. Read from the calls of the range (no rollup holds attempts); only
  // retried ones are grouped, a small share.
  const retried = await target.pool.query<RetryRow>(
    `SELECT to_char((c.time AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, c.provider, ${s}.kostrack_model_key(c.model) AS model,
            count(*)::text AS retried, sum(c.attempts - 1)::text AS extra
       FROM ${s}.llm_calls c
       JOIN ${s}.llm_provider_cost_days i ON i.provider = c.provider AND i.day = (c.time AT TIME ZONE 'UTC')::date
      WHERE c.time >= ($1::date::timestamp AT TIME ZONE 'UTC') AND c.time < ($2::date::timestamp AT TIME ZONE 'UTC') AND c.attempts > 1
      GROUP BY 1, 2, 3`,
    range,
  );
  const retriesOf = new Map<string, ReconcileRetries>(
    retried.map((r) => [`${r.day}\u0000${r.provider}\u0000${r.model}`, { retriedCalls: Number(r.retried), extraAttempts: Number(r.extra) }]),
  );

  const daysOf = new Map<string, Set<string>>();
  for (const r of imported) daysOf.set(r.provider, (daysOf.get(r.provider) ?? new Set()).add(r.day));
  const all = new Tally();
  const per = new Map<string, Tally>([...daysOf.keys()].map((p) => [p, new Tally()]));
  const threshold = usd(o.threshold);
  const gaps: ReconcileGap[] = [];
  for (const r of rows) {
    const tracked = usd(r.tracked);
    const billed = usd(r.billed);
    // A model the provider billed with no model name (null) has no tracked calls.
    const retries = (r.model !== null && retriesOf.get(`${r.day}\u0000${r.provider}\u0000${r.model}`)) || NO_RETRIES;
    all.add(tracked, billed, retries);
    per.get(r.provider)?.add(tracked, billed, retries);
    const gap = billed - tracked;
    if (gap > threshold || -gap > threshold)
      gaps.push({
        day: r.day,
        provider: r.provider,
        model: r.model,
        trackedUsd: usdToString(tracked),
        billedUsd: usdToString(billed),
        gapUsd: usdToString(gap),
        coverage: r.coverage,
        calls: Number(r.calls),
        unpricedCalls: Number(r.unpriced_calls),
        retriedCalls: retries.retriedCalls,
        extraAttempts: retries.extraAttempts,
      });
  }
  const providers: ReconcileProvider[] = [...per.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([provider, tally]) => ({
      provider,
      ...tally.totals(),
      daysImported: daysOf.get(provider)!.size,
      daysNotImported: o.days.filter((d) => !daysOf.get(provider)!.has(d)),
    }));
  return {
    from: o.fromDay,
    to: o.toDay,
    threshold: usdToString(threshold),
    ...all.totals(),
    providers,
    gaps,
    notComparedUsd: usdToString(usd(uncompared?.total ?? '0')),
  };
}
