import type pg from 'pg';
import { usd, usdToString } from '../../../lib/core/money.js';
import { recordCall } from '../../../lib/core/record-call.js';
import { trace } from '../../../lib/core/trace.js';
import type { PriceBook } from '../../../lib/pricing/price-book.js';
import { addResults, costResult, usageResult, type OpenAiAdminScript } from '../../../loopback/openai-admin.loopback.js';
import { costItem, messagesUsage, type AnthropicAdminScript } from '../../../loopback/anthropic-admin.loopback.js';

/**
 * The week: 2026-08-03 to 2026-08-09, every call 1,000 input and 500 output tokens.
 * Each day 4 gpt-4o-mini calls, 2 gpt-4o calls, 3 claude-haiku-4-5 calls. The providers bill
 * every one of them; Kostrack tracks all but one haiku call on 08-05 and one gpt-4o call on 08-08,
 * and prices gpt-4o-mini at the catalog's $0.15/$0.60 per Mtok where the organization is billed
 * $0.20/$0.80 (the wrong price). Per call, billed: mini $0.0006, 4o $0.0075, haiku $0.0035.
 */
export const WEEK = { from: '2026-08-03', to: '2026-08-10' } as const;
export const DAYS = ['2026-08-03', '2026-08-04', '2026-08-05', '2026-08-06', '2026-08-07', '2026-08-08', '2026-08-09'];
export const TRUE_MINI = { input: '0.2', output: '0.8' };

interface Kind {
  provider: 'openai' | 'anthropic';
  /** As the call records it. */
  model: string;
  /** As the provider's report names it. */
  billedAs: string;
  perDay: number;
  /** Billed per call: input part, output part (USD). */
  input: string;
  output: string;
}

export const KINDS: Kind[] = [
  { provider: 'openai', model: 'gpt-4o-mini', billedAs: 'gpt-4o-mini-2024-07-18', perDay: 4, input: '0.0002', output: '0.0004' },
  { provider: 'openai', model: 'gpt-4o', billedAs: 'gpt-4o-2024-08-06', perDay: 2, input: '0.0025', output: '0.005' },
  { provider: 'anthropic', model: 'claude-haiku-4-5-20251001', billedAs: 'claude-haiku-4-5-20251001', perDay: 3, input: '0.001', output: '0.0025' },
];

/** The calls Kostrack never saw: day and model. */
export const UNTRACKED = [
  { day: '2026-08-05', model: 'claude-haiku-4-5-20251001' },
  { day: '2026-08-08', model: 'gpt-4o' },
];

/**
 * Calls the SDK retried on its own: the first tracked call of that day and model made this many
 * attempts. The haiku call on 08-05 is the one the provider billed twice (its untracked call);
 * other calls made one attempt, or (every other one) do not say, as an SDK that cannot tell.
 */
export const RETRIED = [
  { day: '2026-08-03', model: 'gpt-4o-mini', attempts: 3 },
  { day: '2026-08-05', model: 'claude-haiku-4-5-20251001', attempts: 2 },
];

const times = (day: string, n: number, k: number) =>
  Array.from({ length: n }, (_, i) =>
    // One call a millisecond before midnight: it belongs to its own UTC day, not the next.
    day === '2026-08-04' && k === 0 && i === n - 1 ? new Date(`${day}T23:59:59.999Z`) : new Date(Date.parse(`${day}T00:00:00Z`) + (1 + i * 3 + k) * 3_600_000),
  );

/** Records the tracked calls through trace()/recordCall(), priced by `book` as a provider wrapper would. */
export function recordWeek(book: PriceBook): void {
  for (const day of DAYS)
    trace({ name: `day-${day}`, tags: { feature: 'reconcile-week' } }, () => {
      KINDS.forEach((k, ki) => {
        const skip = UNTRACKED.filter((u) => u.day === day && u.model === k.model).length;
        times(day, k.perDay - skip, ki).forEach((time, i) => {
          const retried = i === 0 ? RETRIED.find((r) => r.day === day && r.model === k.model) : undefined;
          const tokens = { inputUncached: 1000, output: 500 };
          const priced = book.price(k.provider, k.model, tokens, 1000, { timeMs: time.getTime() });
          recordCall({
            provider: k.provider,
            model: k.model,
            operation: k.provider === 'anthropic' ? 'messages.create' : 'chat.completions.create',
            inputTokens: 1000,
            outputTokens: 500,
            cachedTokens: 0,
            tokenBreakdown: tokens,
            latencyMs: 400,
            attempts: retried?.attempts ?? (i % 2 === 0 ? 1 : undefined),
            status: 'ok',
            streamed: false,
            time,
            costUsd: priced.costUsd,
            pricingModel: priced.pricingModel,
            pricingSource: priced.pricingSource,
            pricingFlags: priced.flags,
            catalogVersion: priced.catalogVersion,
          });
        });
      });
    });
}

const times$ = (amount: string, n: number) => usdToString(usd(amount) * BigInt(n));

/** What OpenAI's reports say for the week: line items per model ("<model>, input" / "…, output") and usage per model. */
export function billOpenAi(script: OpenAiAdminScript): void {
  for (const day of DAYS)
    for (const k of KINDS.filter((x) => x.provider === 'openai')) {
      addResults(script.costs, day, costResult(`${k.billedAs}, input`, Number(times$(k.input, k.perDay))), costResult(`${k.billedAs}, output`, Number(times$(k.output, k.perDay))));
      addResults(script.usage, day, usageResult(k.billedAs, 1000 * k.perDay, 500 * k.perDay, 0, k.perDay));
    }
}

/** What Anthropic's reports say: cents as decimal strings, per token type; usage per model. */
export function billAnthropic(script: AnthropicAdminScript): void {
  const cents = (dollars: string) => usdToString(usd(dollars) * 100n);
  for (const day of DAYS)
    for (const k of KINDS.filter((x) => x.provider === 'anthropic')) {
      addResults(script.costs, day, costItem(k.billedAs, cents(times$(k.input, k.perDay)), 'uncached_input_tokens'), costItem(k.billedAs, cents(times$(k.output, k.perDay)), 'output_tokens'));
      addResults(script.usage, day, messagesUsage(k.billedAs, 1000 * k.perDay, 500 * k.perDay));
    }
}

/** Every row of the imported figures and days, as text: equal fingerprints, nothing changed. */
export async function billedState(pool: pg.Pool, schema: string): Promise<{ costs: string[]; days: string[] }> {
  const costs = await pool.query(
    `SELECT provider || ' ' || to_char(day, 'YYYY-MM-DD') || ' ' || model || ' ' || amount::text || ' ' || currency || ' ' || COALESCE(input_tokens::text, '-') || ' '
            || COALESCE(output_tokens::text, '-') || ' ' || COALESCE(cached_tokens::text, '-') || ' ' || COALESCE(requests::text, '-') || ' ' || source AS r
       FROM "${schema}".llm_provider_costs ORDER BY 1`,
  );
  const days = await pool.query(`SELECT provider || ' ' || to_char(day, 'YYYY-MM-DD') AS r FROM "${schema}".llm_provider_cost_days ORDER BY 1`);
  return { costs: costs.rows.map((r) => r.r), days: days.rows.map((r) => r.r) };
}
