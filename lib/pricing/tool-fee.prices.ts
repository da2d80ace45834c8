import type { FeeBucket } from './price-table.js';

/**
 * Per-call tool fees that depend on which tool made the calls, not only on the model, so the
 * genai-prices catalog (one web search price per model) cannot carry them. Keyed by the catalog's
 * model id (so `gpt-4o-2024-08-06` finds `gpt-4o`). Used only where the catalog (or Kostrack's
 * tier table) prices the call: a price of your own (`prices`, stored prices) keeps its own fees.
 */
export interface ToolFeePrice {
  /** The catalog's provider id. */
  provider: string;
  catalogIds: readonly string[];
  /** The tool whose calls this fee is for, as the response names it (`tools[].type`, dated suffix dropped). */
  tool: 'web_search_preview';
  fee: FeeBucket;
  /** USD per call, a decimal string. */
  each: string;
  source: string;
  checked: string;
}

// Read through a search of stored pages on the date checked: the page's built-in tools table as
// OpenAI's forum staff restate it (community.openai.com/t/search-web-using-openai-api/1363698).
const BUILT_IN_TOOLS = 'https://platform.openai.com/docs/pricing#built-in-tools';

export const TOOL_FEE_PRICES: readonly ToolFeePrice[] = [
  // "Web search preview (non-reasoning models)": $25.00 per 1,000 calls, search content tokens
  // free. Reasoning models (gpt-5, o-series) pay $10.00 per 1,000 for it, and every model pays
  // $10.00 for the `web_search` tool: the catalog's rate, so they need no entry.
  // gpt-4.1-nano has no web search.
  {
    provider: 'openai',
    catalogIds: ['gpt-4o', 'gpt-4o-2024-05-13', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini'],
    tool: 'web_search_preview',
    fee: 'webSearches',
    each: '0.025',
    source: BUILT_IN_TOOLS,
    checked: '2026-11-30',
  },
];

/** What the response says about which web search tool made its calls (see `PriceCallOptions.webSearchTool`). */
export type WebSearchTool = 'web_search' | 'web_search_preview' | 'either';

/** The fee table's entry for this tool on this catalog model, if any. */
export function toolFeeFor(provider: string, catalogId: string, tool: ToolFeePrice['tool']): ToolFeePrice | undefined {
  return TOOL_FEE_PRICES.find((t) => t.provider === provider && t.tool === tool && t.catalogIds.includes(catalogId));
}
