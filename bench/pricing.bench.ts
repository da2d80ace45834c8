/**
 * Pricing one call after warm-up: `PriceBook.price()` for a plain call, for a call with a service
 * tier (gpt-5 `priority`, Kostrack's tier table) and a fee (2 web searches), next to genai-prices'
 * own `calcPrice` on the same usage, all in the same process and run. Goal: under 200 ns per
 * priced call.
 *
 * Run: `npx tsx bench/pricing.bench.ts` (no build needed: it measures lib/ through tsx, whose
 * output for this code is the same ES2022 as tsc's), or `npm run bench pricing` with the others.
 * Writes bench/results/pricing.md.
 */
import { calcPrice } from '@pydantic/genai-prices';
import { usd } from '../lib/core/index.js';
import { PriceBook } from '../lib/pricing/index.js';
import { median, nsPerOp, writeReport } from './bench.report.js';

const RUNS = 7;
const OURS = { iterations: 500_000, rounds: 7 };
const THEIRS = { iterations: 20_000, rounds: 5 };

// 1,000 uncached + 2,000 cached input, 300 output + 200 reasoning: an ordinary agent step.
const plain = { inputUncached: 1_000, cacheRead: 2_000, output: 300, reasoning: 200 };
const withFee = { ...plain, webSearches: 2 };
// The same usage in genai-prices' terms (input includes cached, output includes reasoning).
const theirPlain = { input_tokens: 3_000, cache_read_tokens: 2_000, output_tokens: 500 };
const theirFee = { ...theirPlain, web_searches: 2 };

const book = new PriceBook();
const cases: { label: string; op: () => unknown; opts: typeof OURS }[] = [
  { label: 'PriceBook.price, plain (gpt-5, no tier, no fee)', op: () => book.price('openai', 'gpt-5', plain, 3_000), opts: OURS },
  {
    label: 'PriceBook.price, tier + fee (gpt-5 `priority`, 2 web searches)',
    op: () => book.price('openai', 'gpt-5', withFee, 3_000, { serviceTier: 'priority' }),
    opts: OURS,
  },
  { label: 'PriceBook.price, tier + fee, dated snapshot name (gpt-5-2025-08-07)', op: () => book.price('openai', 'gpt-5-2025-08-07', withFee, 3_000, { serviceTier: 'priority' }), opts: OURS },
  { label: 'genai-prices calcPrice, plain usage (gpt-5)', op: () => calcPrice(theirPlain, 'gpt-5', { providerId: 'openai' }), opts: THEIRS },
  { label: 'genai-prices calcPrice, same usage + 2 web searches (no tiers: standard price)', op: () => calcPrice(theirFee, 'gpt-5', { providerId: 'openai' }), opts: THEIRS },
];

// Measure the right thing: each side's answer, checked against the list price by hand.
// Standard gpt-5 $1.25 / $0.125 / $10: 1,000 × 1.25 + 2,000 × 0.125 + 500 × 10 = $6,500 per 1M → $0.0065.
// Priority $2.50 / $0.25 / $20: 2,500 + 500 + 10,000 = $13,000 per 1M → $0.013, + 2 × $0.01 search = $0.033.
const check = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`bench sanity check failed: ${what}`);
};
check(book.price('openai', 'gpt-5', plain, 3_000).costUsd === usd('0.0065'), 'plain gpt-5 = $0.0065');
const tiered = book.price('openai', 'gpt-5', withFee, 3_000, { serviceTier: 'priority' });
check(tiered.costUsd === usd('0.033') && tiered.flags === null && tiered.pricingSource === 'tier', 'gpt-5 priority + 2 searches = $0.033, unflagged');
check(Math.abs(calcPrice(theirPlain, 'gpt-5', { providerId: 'openai' })!.total_price - 0.0065) < 1e-12, 'calcPrice plain ≈ $0.0065');
check(Math.abs(calcPrice(theirFee, 'gpt-5', { providerId: 'openai' })!.total_price - 0.0265) < 1e-12, 'calcPrice + searches ≈ $0.0265 (standard tier)');

// Resolution, once per (provider, model): a fresh book's first call (catalog match, compile).
const cold: number[] = [];
for (let i = 0; i < 50; i++) {
  const fresh = new PriceBook();
  const t = process.hrtime.bigint();
  fresh.price('openai', 'gpt-5', withFee, 3_000, { serviceTier: 'priority' });
  cold.push(Number(process.hrtime.bigint() - t));
}

// Several whole runs, the cases in a different order each time so drift hits all alike.
const samples = cases.map(() => [] as number[]);
for (let run = 0; run < RUNS; run++) {
  for (let k = 0; k < cases.length; k++) {
    const i = (run + k) % cases.length;
    (globalThis as { gc?: () => void }).gc?.();
    samples[i].push(await nsPerOp(cases[i].op, cases[i].opts));
  }
}

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const medians = samples.map(median);
const rows = cases.map(
  (c, i) => `| ${c.label} | **${fmt(medians[i])}** | ${[...samples[i]].sort((a, b) => a - b).map((v) => v.toFixed(0)).join(', ')} |`,
);
const tierFee = medians[1];
const body = [
  `Warm \`PriceBook.price()\` (lib/ through tsx) against genai-prices \`calcPrice\` on the same usage, same process: ${RUNS} runs, each case ${OURS.iterations.toLocaleString('en')} calls × ${OURS.rounds} timed rounds for PriceBook and ${THEIRS.iterations.toLocaleString('en')} × ${THEIRS.rounds} for calcPrice after a warm-up; a run's figure is the median round, the cell the median run (every run in ns after it). Usage: 1,000 uncached + 2,000 cached input, 300 output + 200 reasoning tokens, on \`gpt-5\`.`,
  '',
  '| case | ns per call (median of runs) | each run, ns |',
  '|---|---|---|',
  ...rows,
  '',
  `Goal: under 200 ns per priced call — tier + fee: **${fmt(tierFee)}** (${tierFee < 200 ? 'met' : 'NOT met'}); plain: ${fmt(medians[0])}. PriceBook is ${(medians[3] / medians[0]).toFixed(0)}× faster than calcPrice on the plain call and ${(medians[4] / tierFee).toFixed(0)}× on the tier + fee call (where calcPrice, which knows no tiers, gives the standard price: $0.0265 instead of $0.033).`,
  '',
  `First call for a model in a fresh PriceBook (catalog match, corrections, every price period compiled, tier table resolved): median ${fmt(median(cold))} over ${cold.length} fresh books; paid once per (provider, model) per process.`,
  '',
  'Both sides were checked before timing: PriceBook gives exactly $0.0065 (plain) and $0.033 (priority $2.50 / $0.25 / $20 per 1M plus 2 × $0.01 searches, unflagged); calcPrice gives $0.0065 and $0.0265 as floats.',
].join('\n');
writeReport('pricing', 'Pricing one call: PriceBook vs genai-prices calcPrice', body);
process.exit(0);
