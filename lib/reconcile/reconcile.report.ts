import { usd, usdToString, type Usd } from '../core/money.js';
import { DEFAULT_SCHEMA, quoteSchema, validateSchemaName } from '../storage/schema.name.js';
import type { ProviderCostsTarget } from './provider-costs.import.js';
import {
  resolveReconcileOptions,
  type ReconcileGap,
  type ReconcileOptions,
  type ReconcileProvider,
  type ReconcileReport,
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

/** Sums that become {@link ReconcileTotals}. */
class Tally {
  tracked = 0n;
  billed = 0n;
  untracked = 0n;
  over = 0n;

  add(tracked: Usd, billed: Usd): void {
    this.tracked += tracked;
    this.billed += billed;
    if (billed > tracked) this.untracked += billed - tracked;
    else this.over += tracked - billed;
  }

  totals(): ReconcileTotals {
    return {
      trackedUsd: usdToString(this.tracked),
      billedUsd: usdToString(this.billed),
      gapUsd: usdToString(this.billed - this.tracked),
      coverage: coverage(this.tracked, this.billed),
      untrackedUsd: usdToString(this.untracked),
      overTrackedUsd: usdToString(this.over),
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

  const daysOf = new Map<string, Set<string>>();
  for (const r of imported) daysOf.set(r.provider, (daysOf.get(r.provider) ?? new Set()).add(r.day));
  const all = new Tally();
  const per = new Map<string, Tally>([...daysOf.keys()].map((p) => [p, new Tally()]));
  const threshold = usd(o.threshold);
  const gaps: ReconcileGap[] = [];
  for (const r of rows) {
    const tracked = usd(r.tracked);
    const billed = usd(r.billed);
    all.add(tracked, billed);
    per.get(r.provider)?.add(tracked, billed);
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
