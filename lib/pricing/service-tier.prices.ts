import type { ModelPriceSpec } from './price-table.js';

/**
 * Published prices of non-standard service tiers, which the genai-prices catalog does not carry.
 * Keyed by the catalog's model id (so `gpt-5-2025-08-07` finds `gpt-5`). A tier that is not here
 * is billed at the standard rate and the row is flagged. Override any entry with a `prices` entry
 * that has `serviceTier`.
 */
export interface ServiceTierPrice {
  provider: string;
  catalogIds: readonly string[];
  tier: string;
  /** ISO instant from which these prices hold; absent: always. */
  from?: string | undefined;
  spec: ModelPriceSpec;
  source: string;
  checked: string;
}

const FLEX = 'https://platform.openai.com/docs/pricing (Flex tab); https://platform.openai.com/docs/guides/flex-processing';
const PRIORITY = 'https://openai.com/api-priority-processing/ ; https://platform.openai.com/docs/pricing (Priority tab)';
const CHECKED = '2026-11-30';

export const SERVICE_TIER_PRICES: readonly ServiceTierPrice[] = [
  // Flex: half the standard rate, cached input included (the page shows o4-mini's $0.1375 as $0.138).
  { provider: 'openai', catalogIds: ['gpt-5', 'gpt-5.1'], tier: 'flex', spec: { input: '0.625', cacheRead: '0.0625', output: '5' }, source: FLEX, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5-mini'], tier: 'flex', spec: { input: '0.125', cacheRead: '0.0125', output: '1' }, source: FLEX, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5-nano'], tier: 'flex', spec: { input: '0.025', cacheRead: '0.0025', output: '0.20' }, source: FLEX, checked: CHECKED },
  { provider: 'openai', catalogIds: ['o3'], tier: 'flex', spec: { input: '5', cacheRead: '1.25', output: '20' }, source: FLEX, checked: CHECKED },
  // o3's standard price fell by 80% on 2025-06-10; its flex price followed.
  { provider: 'openai', catalogIds: ['o3'], tier: 'flex', from: '2025-06-10T00:00:00Z', spec: { input: '1', cacheRead: '0.25', output: '4' }, source: FLEX, checked: CHECKED },
  { provider: 'openai', catalogIds: ['o4-mini'], tier: 'flex', spec: { input: '0.55', cacheRead: '0.1375', output: '2.20' }, source: FLEX, checked: CHECKED },

  // Priority: published per model, about 2x standard for GPT-5, 1.75x for GPT-4.1 and o3.
  { provider: 'openai', catalogIds: ['gpt-5', 'gpt-5.1'], tier: 'priority', spec: { input: '2.50', cacheRead: '0.25', output: '20' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5-mini'], tier: 'priority', spec: { input: '0.45', cacheRead: '0.045', output: '3.60' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5.2'], tier: 'priority', spec: { input: '3.50', cacheRead: '0.35', output: '28' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5.4'], tier: 'priority', spec: { input: '5', cacheRead: '0.50', output: '30' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-5.4-mini'], tier: 'priority', spec: { input: '1.50', cacheRead: '0.15', output: '9' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4.1'], tier: 'priority', spec: { input: '3.50', cacheRead: '0.875', output: '14' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4.1-mini'], tier: 'priority', spec: { input: '0.70', cacheRead: '0.175', output: '2.80' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4.1-nano'], tier: 'priority', spec: { input: '0.20', cacheRead: '0.05', output: '0.80' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4o'], tier: 'priority', spec: { input: '4.25', cacheRead: '2.125', output: '17' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4o-2024-05-13'], tier: 'priority', spec: { input: '8.75', output: '26.25' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['gpt-4o-mini'], tier: 'priority', spec: { input: '0.25', cacheRead: '0.125', output: '1' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['o3'], tier: 'priority', spec: { input: '3.50', cacheRead: '0.875', output: '14' }, source: PRIORITY, checked: CHECKED },
  { provider: 'openai', catalogIds: ['o4-mini'], tier: 'priority', spec: { input: '2', cacheRead: '0.50', output: '8' }, source: PRIORITY, checked: CHECKED },
];

/**
 * Tier names that mean the standard price. OpenAI reports `default` (and `auto` when asked);
 * Anthropic reports `standard`.
 */
const STANDARD = new Set(['default', 'auto', 'standard', 'on_demand']);

/** `standard`, `batch`, or the tier name as reported. */
export function tierKind(tier: string | undefined | null): string {
  if (tier === undefined || tier === null || STANDARD.has(tier)) return 'standard';
  return tier;
}

export function tierPricesFor(provider: string, catalogId: string, tier: string): ServiceTierPrice[] {
  return SERVICE_TIER_PRICES.filter((t) => t.provider === provider && t.tier === tier && t.catalogIds.includes(catalogId));
}

/** Whether any tier price of this catalog model starts at a date (so pricing it needs the call's time). */
export function tierTableIsDated(provider: string, catalogId: string): boolean {
  return SERVICE_TIER_PRICES.some((t) => t.from !== undefined && t.provider === provider && t.catalogIds.includes(catalogId));
}
