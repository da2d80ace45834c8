import { createHash } from 'node:crypto';
import { runtime } from '../core/runtime.js';
import type { ModelPriceSpec } from './price-table.js';

/**
 * A fix to the `@pydantic/genai-prices` catalog for an entry known to be wrong or missing. Each
 * names the page it comes from and when that page was read, and has a test in
 * `test/pricing/catalog-corrections.spec.ts` with the cost worked out by hand.
 *
 * - `patch`: keys merged into every price period of the entry (a rate the catalog lacks).
 * - `from`: a new price period in force from `from` (UTC) on, replacing every earlier rule
 *   (time-of-day discounts included) for calls made at or after it; calls before keep the
 *   catalog's prices, so history is not re-priced by an upgrade.
 */
export interface CatalogCorrection {
  /** The catalog's provider id (`openai`, `anthropic`, `google`, `deepseek`). */
  provider: string;
  /**
   * The catalog model ids it corrects, each with a fingerprint of that entry's prices as they were
   * when the correction was checked ({@link catalogEntryFingerprint}). A catalog whose entry
   * differs (a newer genai-prices, a loaded `catalog` file) has been changed since: its own prices
   * win and the correction is skipped, with a warning.
   */
  catalogIds: Readonly<Record<string, string>>;
  /** Narrower: only model names matching this (a snapshot of the entry). */
  model?: RegExp | undefined;
  kind: 'patch' | 'from';
  /** ISO instant; for `from`. */
  from?: string | undefined;
  spec: ModelPriceSpec;
  /** Flags every call that is billed a fee under this correction (e.g. a price that is an upper bound). */
  feeNote?: { fee: 'webSearches' | 'groundedPrompts'; note: string } | undefined;
  source: string;
  checked: string;
  why: string;
}

/** Shown with every row priced through the catalog; bump when the list below changes. */
export const CORRECTIONS_VERSION = '2026-11-30';

const GEMINI_GROUNDING_NOTE =
  'groundedPrompts priced at $35 per 1,000; the free daily allowance is not applied (an upper bound)';

export const CATALOG_CORRECTIONS: readonly CatalogCorrection[] = [
  {
    provider: 'deepseek',
    catalogIds: { 'deepseek-chat': 'e8f217a9c649', 'deepseek-reasoner': '7cb34f8f8726' },
    kind: 'from',
    from: '2025-09-05T16:00:00Z',
    // V3.1: one price for both models, off-peak discount discontinued.
    spec: { input: '0.56', cacheRead: '0.07', output: '1.68' },
    source: 'https://api-docs.deepseek.com/news/news250821',
    checked: '2026-11-30',
    why: 'the catalog keeps the January 2025 rates and the 16:30–00:30 UTC discount after both ended',
  },
  {
    provider: 'deepseek',
    catalogIds: { 'deepseek-chat': 'e8f217a9c649', 'deepseek-reasoner': '7cb34f8f8726' },
    kind: 'from',
    from: '2025-09-29T00:00:00Z',
    // V3.2-Exp price cut, for both deepseek-chat and deepseek-reasoner; no off-peak discount.
    spec: { input: '0.28', cacheRead: '0.028', output: '0.42' },
    source: 'https://api-docs.deepseek.com/quick_start/pricing',
    checked: '2026-11-30',
    why: 'the catalog keeps the January 2025 rates and the 16:30–00:30 UTC discount',
  },
  {
    provider: 'anthropic',
    catalogIds: { 'claude-sonnet-4-0': 'ad82d637b3ef' },
    kind: 'patch',
    // Over 200k input tokens (cache reads and writes included) the whole request is billed at
    // 2x input and 1.5x output rates, as the catalog already has for claude-sonnet-4-5.
    spec: {
      input: { base: '3', tiers: [{ start: 200_000, price: '6' }] },
      cacheRead: { base: '0.30', tiers: [{ start: 200_000, price: '0.60' }] },
      cacheWrite: { base: '3.75', tiers: [{ start: 200_000, price: '7.50' }] },
      cacheWrite1h: { base: '6', tiers: [{ start: 200_000, price: '12' }] },
      output: { base: '15', tiers: [{ start: 200_000, price: '22.50' }] },
    },
    source: 'https://docs.anthropic.com/en/docs/build-with-claude/context-windows#1m-token-context-window',
    checked: '2026-11-30',
    why: 'the catalog has no long-context tier for claude-sonnet-4',
  },
  {
    provider: 'openai',
    catalogIds: { 'ft:gpt-4o': '667da62ea86d' },
    kind: 'patch',
    spec: { cacheRead: '1.875' },
    source: 'https://platform.openai.com/docs/pricing#fine-tuning',
    checked: '2026-11-30',
    why: 'the catalog has no cached-input rate for fine-tuned gpt-4o (half the fine-tuned input rate)',
  },
  {
    provider: 'openai',
    catalogIds: { 'ft:gpt-4o-mini': '23482a5b26cd' },
    kind: 'patch',
    spec: { cacheRead: '0.15' },
    source: 'https://platform.openai.com/docs/pricing#fine-tuning',
    checked: '2026-11-30',
    why: 'the catalog has no cached-input rate for fine-tuned gpt-4o-mini (half the fine-tuned input rate)',
  },
  {
    provider: 'openai',
    catalogIds: { 'gpt-4o-audio-preview': '9ed33c87e483' },
    kind: 'patch',
    spec: { inputAudio: '40', outputAudio: '80' },
    source: 'https://platform.openai.com/docs/pricing#audio-tokens',
    checked: '2026-11-30',
    why: 'the catalog bills audio tokens of gpt-4o-audio-preview at the text rates',
  },
  {
    provider: 'openai',
    catalogIds: { 'gpt-4o-audio-preview': '9ed33c87e483' },
    model: /2024-10-01/,
    kind: 'patch',
    spec: { inputAudio: '100', outputAudio: '200' },
    source: 'https://platform.openai.com/docs/pricing#audio-tokens',
    checked: '2026-11-30',
    why: 'the first snapshot kept its launch audio rates',
  },
  {
    provider: 'openai',
    catalogIds: { 'gpt-4o-mini-audio-preview': '9062a077135e' },
    kind: 'patch',
    spec: { inputAudio: '10', outputAudio: '20' },
    source: 'https://platform.openai.com/docs/pricing#audio-tokens',
    checked: '2026-11-30',
    why: 'the catalog bills audio tokens of gpt-4o-mini-audio-preview at the text rates',
  },
  {
    provider: 'google',
    catalogIds: { 'gemini-2.5-pro': '2f06d352c675' },
    kind: 'patch',
    // One input price for text, image, video and audio: audio at the input rate is exact here.
    spec: { inputAudio: { base: '1.25', tiers: [{ start: 200_000, price: '2.50' }] }, cacheReadAudio: { base: '0.125', tiers: [{ start: 200_000, price: '0.25' }] } },
    source: 'https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-pro',
    checked: '2026-11-30',
    why: 'the catalog has no audio rate for gemini-2.5-pro, whose audio costs the same as text',
  },
  {
    provider: 'google',
    catalogIds: { 'gemini-2.5-pro': '2f06d352c675', 'gemini-2.5-flash': 'e22c2a7d4aff', 'gemini-2.5-flash-lite': '180cb4bec753', 'gemini-2.0-flash': '718d20222747', 'gemini-2.0-flash-lite': '4468b190cfc2' },
    kind: 'patch',
    spec: { groundedPrompt: '0.035' },
    feeNote: { fee: 'groundedPrompts', note: GEMINI_GROUNDING_NOTE },
    source: 'https://ai.google.dev/gemini-api/docs/pricing (Grounding with Google Search)',
    checked: '2026-11-30',
    why: 'the catalog has no grounding fee',
  },
  {
    provider: 'google',
    catalogIds: { 'gemini-3-pro-preview': '736cfaa44f64', 'gemini-3-flash-preview': 'af2263a625ba' },
    kind: 'patch',
    spec: { webSearch: '0.014' },
    feeNote: { fee: 'webSearches', note: 'webSearches priced at $14 per 1,000 search queries; the free monthly allowance is not applied (an upper bound)' },
    source: 'https://ai.google.dev/gemini-api/docs/pricing (Grounding with Google Search, Gemini 3)',
    checked: '2026-11-30',
    why: 'the catalog has no grounding fee',
  },
];

/** A short fingerprint of a catalog entry's prices (every period), to tell when the entry changed. */
export function catalogEntryFingerprint(prices: unknown): string {
  return createHash('sha256').update(JSON.stringify(prices)).digest('hex').slice(0, 12);
}

const warnedStale = new Set<string>();

/**
 * The corrections that apply to one catalog entry and model name, in list order: those written
 * for this entry as it is (same fingerprint). One warning per entry names those skipped.
 */
export function correctionsFor(provider: string, catalogId: string, model: string, prices: unknown): CatalogCorrection[] {
  const written = CATALOG_CORRECTIONS.filter((c) => c.provider === provider && Object.hasOwn(c.catalogIds, catalogId) && (!c.model || c.model.test(model)));
  if (written.length === 0) return written;
  const fingerprint = catalogEntryFingerprint(prices);
  const current = written.filter((c) => c.catalogIds[catalogId] === fingerprint);
  if (current.length < written.length && !warnedStale.has(`${provider}/${catalogId}`)) {
    warnedStale.add(`${provider}/${catalogId}`);
    runtime.warn(
      `Kostrack's price corrections for ${provider}/${catalogId} were checked against another version of that catalog entry; the catalog's own prices are used. Check them, or add a prices override.`,
    );
  }
  return current;
}
