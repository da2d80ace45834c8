import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/index.js';
import { wrap } from '../../lib/providers/index.js';
import { geminiRoutes, geminiUsageBody, groundingMetadata, type GeminiScript, type GeminiUsageSpec } from '../../loopback/gemini.loopback.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

/*
 * Everything a Gemini response bills beyond text tokens, read the way `@google/genai` types it:
 * `GenerateContentResponseUsageMetadata` with `promptTokensDetails` / `cacheTokensDetails` /
 * `candidatesTokensDetails` (`ModalityTokenCount[]`), and `Candidate.groundingMetadata`
 * (`GroundingMetadata.webSearchQueries`).
 *
 * List prices per Mtok, as the genai-prices catalog has them (checked with
 * `calcPrice({}, model, { providerId: 'google' })`) plus Kostrack's sourced corrections:
 * - gemini-2.5-flash: text/image/video input $0.30, audio input $1.00, cached text $0.03, cached
 *   audio $0.10, output (thinking included) $2.50; grounding $35 per 1,000 grounded prompts
 *   (correction; the free daily allowance is not applied, so flagged as an upper bound).
 * - gemini-2.5-flash-image: input $0.30, text output $2.50, image output $30.
 * - gemini-2.5-pro (≤200k): input $1.25 for text, image, video AND audio (correction: the
 *   catalog has no audio rate, Google's page has one input price), output $10.
 * - gemini-1.5-pro (≤128k): input $1.25, output $5; the catalog has no audio rate.
 * - gemini-3-pro-preview (≤200k): input $2, output $12; no audio rate in the catalog; grounding
 *   $14 per 1,000 search queries (correction, flagged as an upper bound).
 */
const GROUNDED_NOTE = 'groundedPrompts priced at $35 per 1,000; the free daily allowance is not applied (an upper bound)';
const SEARCH_NOTE = 'webSearches priced at $14 per 1,000 search queries; the free monthly allowance is not applied (an upper bound)';

const script: GeminiScript = { model: 'gemini-2.5-flash', usage: geminiUsageBody({ prompt: 1, candidates: 1 }) };
const h = providerHarness((s) => geminiRoutes(s, script));
const client = () => new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: h.server.url } });

function use(model: string, spec: GeminiUsageSpec, grounding?: { metadata: unknown; chunks?: number[] }) {
  script.model = model;
  script.usage = geminiUsageBody(spec);
  script.grounding = grounding?.metadata;
  script.groundingChunks = grounding?.chunks;
}

const MODES = ['generateContent', 'generateContentStream'] as const;
type Mode = (typeof MODES)[number];

/** Makes the call; returns what the SDK handed back (the last chunk for a stream). */
async function call(mode: Mode, model: string) {
  const ai = wrap(client());
  if (mode === 'generateContent') return ai.models.generateContent({ model, contents: 'Listen to this' });
  let last;
  for await (const chunk of await ai.models.generateContentStream({ model, contents: 'Listen to this' })) last = chunk;
  await settle(h.sink);
  return last!;
}

describe('gemini audio input (promptTokensDetails / cacheTokensDetails AUDIO)', () => {
  it.each(MODES)('gemini-2.5-flash, text + audio, %s: audio at $1.00, text at $0.30, exact', async (mode) => {
    use('gemini-2.5-flash', { prompt: 10_000, promptDetails: { TEXT: 2_000, AUDIO: 8_000 }, candidates: 500, thoughts: 300 });
    await call(mode, 'gemini-2.5-flash');
    // 2,000 x $0.30 = $0.0006; 8,000 x $1.00 = $0.008; (500 + 300 thinking) x $2.50 = $0.002 → $0.0106
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 2_000, inputAudio: 8_000, output: 500, reasoning: 300 });
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([10_000, 800, 0]);
    expect(row.costUsd).toBe(sum(atMtok(2_000, '0.30'), atMtok(8_000, '1.00'), atMtok(800, '2.50')));
    expect(usdToString(row.costUsd!)).toBe('0.0106');
    expect(row).toMatchObject({ pricingModel: 'genai-prices:gemini-2.5-flash', pricingFlags: null, streamed: mode === 'generateContentStream' });
  });

  it.each(MODES)('gemini-2.5-flash with cached audio, %s: four input rates, exact', async (mode) => {
    use('gemini-2.5-flash', {
      prompt: 10_000,
      promptDetails: { TEXT: 2_000, AUDIO: 8_000 },
      cached: 5_000,
      cacheDetails: { TEXT: 1_000, AUDIO: 4_000 },
      candidates: 500,
    });
    await call(mode, 'gemini-2.5-flash');
    // Uncached audio = 8,000 prompt audio - 4,000 cached audio = 4,000; uncached text = 2,000 - 1,000 = 1,000.
    // 1,000 x $0.30 = $0.0003; 4,000 x $1.00 = $0.004; 1,000 x $0.03 = $0.00003;
    // 4,000 x $0.10 = $0.0004; 500 x $2.50 = $0.00125 → $0.00598
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 1_000, inputAudio: 4_000, cacheRead: 1_000, cacheReadAudio: 4_000, output: 500 });
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([10_000, 500, 5_000]);
    expect(row.costUsd).toBe(sum(atMtok(1_000, '0.30'), atMtok(4_000, '1.00'), atMtok(1_000, '0.03'), atMtok(4_000, '0.10'), atMtok(500, '2.50')));
    expect(usdToString(row.costUsd!)).toBe('0.00598');
    expect(row.pricingFlags).toBeNull();
    expect(row.metadata.usage_issues).toBeUndefined();
  });

  it.each(MODES)('gemini-2.5-pro, %s: audio at the text rate ($1.25), exact and NOT flagged', async (mode) => {
    use('gemini-2.5-pro', { prompt: 10_000, promptDetails: { TEXT: 4_000, AUDIO: 6_000 }, candidates: 1_000 });
    await call(mode, 'gemini-2.5-pro');
    // 4,000 x $1.25 = $0.005; 6,000 x $1.25 = $0.0075; 1,000 x $10 = $0.01 → $0.0225
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 4_000, inputAudio: 6_000, output: 1_000 });
    expect(row.costUsd).toBe(sum(atMtok(4_000, '1.25'), atMtok(6_000, '1.25'), atMtok(1_000, '10')));
    expect(usdToString(row.costUsd!)).toBe('0.0225');
    expect(row.pricingFlags).toBeNull();
  });

  it.each([
    // 1,000 x $1.25 + 2,000 x $1.25 = $0.00375; 100 x $5 = $0.0005 → $0.00425
    ['gemini-1.5-pro', sum(atMtok(3_000, '1.25'), atMtok(100, '5')), '0.00425'],
    // 3,000 x $2 = $0.006; 100 x $12 = $0.0012 → $0.0072
    ['gemini-3-pro-preview', sum(atMtok(3_000, '2'), atMtok(100, '12')), '0.0072'],
  ] as const)('%s has no audio rate in the catalog: audio billed at its input rate and flagged', async (model, expected, text) => {
    for (const mode of MODES) {
      use(model, { prompt: 3_000, promptDetails: { TEXT: 1_000, AUDIO: 2_000 }, candidates: 100 });
      await call(mode, model);
      const row = h.only();
      expect(row.tokenBreakdown).toEqual({ inputUncached: 1_000, inputAudio: 2_000, output: 100 });
      expect(row.costUsd).toBe(expected);
      expect(usdToString(row.costUsd!)).toBe(text);
      expect(row.pricingFlags).toEqual(['inputAudio billed at the input rate (no inputAudio price)']);
      h.sink.clear();
    }
  });

  it('image, video and document input stay at the text rate, exact and not flagged', async () => {
    use('gemini-2.5-flash', { prompt: 4_000, promptDetails: { TEXT: 1_000, IMAGE: 1_000, VIDEO: 1_000, DOCUMENT: 1_000 }, candidates: 100 });
    await call('generateContent', 'gemini-2.5-flash');
    // 4,000 x $0.30 = $0.0012; 100 x $2.50 = $0.00025 → $0.00145
    expect(h.only()).toMatchObject({ tokenBreakdown: { inputUncached: 4_000, output: 100 }, pricingFlags: null, costUsd: sum(atMtok(4_000, '0.30'), atMtok(100, '2.50')) });
  });
});

describe('gemini image output (candidatesTokensDetails IMAGE)', () => {
  it.each(MODES)('gemini-2.5-flash-image, %s: image tokens at $30 per Mtok, text output at $2.50, exact', async (mode) => {
    use('gemini-2.5-flash-image', { prompt: 50, candidates: 1_310, candidatesDetails: { TEXT: 20, IMAGE: 1_290 } });
    await call(mode, 'gemini-2.5-flash-image');
    // 50 x $0.30 = $0.000015; 20 x $2.50 = $0.00005; 1,290 x $30 = $0.0387 → $0.038765
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 50, output: 20, outputImage: 1_290 });
    expect(row.outputTokens).toBe(1_310);
    expect(row.costUsd).toBe(sum(atMtok(50, '0.30'), atMtok(20, '2.50'), atMtok(1_290, '30')));
    expect(usdToString(row.costUsd!)).toBe('0.038765');
    expect(row).toMatchObject({ pricingModel: 'genai-prices:gemini-2.5-flash-image', pricingFlags: null });
  });
});

describe('gemini grounding with Google Search (candidates[].groundingMetadata)', () => {
  it.each(MODES)('gemini-2.5-flash, %s: one grounded prompt, +$0.035, flagged as an upper bound', async (mode) => {
    // Streamed: the metadata comes in the last two chunks; it is still one grounded prompt.
    use('gemini-2.5-flash', { prompt: 100, candidates: 50 }, { metadata: groundingMetadata(['weather paris', 'paris forecast']), chunks: [1, 2] });
    const res = await call(mode, 'gemini-2.5-flash');
    expect(res.candidates?.[0]?.groundingMetadata?.webSearchQueries).toEqual(['weather paris', 'paris forecast']);
    // 100 x $0.30 = $0.00003; 50 x $2.50 = $0.000125; 1 x $0.035 → $0.035155
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 100, output: 50, groundedPrompts: 1 });
    expect(row.costUsd).toBe(sum(atMtok(100, '0.30'), atMtok(50, '2.50'), usd('0.035')));
    expect(usdToString(row.costUsd!)).toBe('0.035155');
    expect(row.pricingFlags).toEqual([GROUNDED_NOTE]);
  });

  it.each(MODES)('gemini-3-pro-preview with 3 search queries, %s: +3 x $0.014, flagged as an upper bound', async (mode) => {
    use('gemini-3-pro-preview', { prompt: 100, candidates: 50 }, { metadata: groundingMetadata(['q1', 'q2', 'q3']), chunks: [1, 2] });
    await call(mode, 'gemini-3-pro-preview');
    // 100 x $2 = $0.0002; 50 x $12 = $0.0006; 3 x $0.014 = $0.042 → $0.0428
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 100, output: 50, webSearches: 3 });
    expect(row.costUsd).toBe(sum(atMtok(100, '2'), atMtok(50, '12'), 3n * usd('0.014')));
    expect(usdToString(row.costUsd!)).toBe('0.0428');
    expect(row.pricingFlags).toEqual([SEARCH_NOTE]);
  });

  it('grounding metadata without search queries bills nothing extra', async () => {
    use('gemini-2.5-flash', { prompt: 100, candidates: 50 }, { metadata: { ...groundingMetadata([]), webSearchQueries: [] } });
    await call('generateContent', 'gemini-2.5-flash');
    expect(h.only()).toMatchObject({ tokenBreakdown: { inputUncached: 100, output: 50 }, pricingFlags: null, costUsd: sum(atMtok(100, '0.30'), atMtok(50, '2.50')) });
  });

  it('webSearchQueries of the wrong shape: usage issue, not billed, flagged', async () => {
    use('gemini-3-pro-preview', { prompt: 100, candidates: 50 }, { metadata: { webSearchQueries: 'q1' } });
    await call('generateContent', 'gemini-3-pro-preview');
    const row = h.only();
    expect(row.metadata.usage_issues).toEqual(['candidates[0].groundingMetadata.webSearchQueries: unexpected shape (string); not billed']);
    // The row itself says the searches were left out of the price, not only its metadata.
    expect(row.pricingFlags).toEqual(['candidates[0].groundingMetadata.webSearchQueries: unexpected shape (string); not billed']);
    expect(row.costUsd).toBe(sum(atMtok(100, '2'), atMtok(50, '12')));
  });
});

describe('gemini modality details that do not match the totals', () => {
  it.each(MODES)('prompt details adding up to more than promptTokenCount (%s): totals trusted, billed as text, usage issue', async (mode) => {
    use('gemini-2.5-flash', { prompt: 10_000, promptDetails: { TEXT: 2_000, AUDIO: 9_000 }, candidates: 100 });
    const res = await call(mode, 'gemini-2.5-flash');
    // The response reaches the caller as sent.
    expect(res.usageMetadata?.promptTokensDetails).toEqual([
      { modality: 'TEXT', tokenCount: 2_000 },
      { modality: 'AUDIO', tokenCount: 9_000 },
    ]);
    // 10,000 x $0.30 = $0.003; 100 x $2.50 = $0.00025 → $0.00325
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 10_000, output: 100 });
    expect(row.costUsd).toBe(sum(atMtok(10_000, '0.30'), atMtok(100, '2.50')));
    expect(usdToString(row.costUsd!)).toBe('0.00325');
    expect(row.metadata.usage_issues).toEqual(['usageMetadata.promptTokensDetails: adds up to 11000, promptTokenCount is 10000; billed from the totals']);
    // Billed, but not exactly: the row's pricing_flags says so, not only its metadata.
    expect(row.pricingFlags).toEqual(['promptTokensDetails not usable; its audio and image tokens (if any) billed at the text rate']);
  });

  it('more cached audio than the prompt had: the input split is dropped, usage issue', async () => {
    use('gemini-2.5-flash', { prompt: 10_000, promptDetails: { TEXT: 8_000, AUDIO: 2_000 }, cached: 5_000, cacheDetails: { AUDIO: 5_000 }, candidates: 100 });
    await call('generateContent', 'gemini-2.5-flash');
    // 5,000 x $0.30 = $0.0015; 5,000 x $0.03 = $0.00015; 100 x $2.50 = $0.00025 → $0.0019
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 5_000, cacheRead: 5_000, output: 100 });
    expect(row.costUsd).toBe(sum(atMtok(5_000, '0.30'), atMtok(5_000, '0.03'), atMtok(100, '2.50')));
    expect(row.metadata.usage_issues).toEqual(["usageMetadata.cacheTokensDetails: 5000 cached AUDIO tokens, more than the prompt's 2000; billed from the totals"]);
    // Billed, but not exactly: the row's pricing_flags says so, not only its metadata.
    expect(row.pricingFlags).toEqual(['cacheTokensDetails not usable; its audio and image tokens (if any) billed at the text rate']);
  });

  it('candidate details not matching candidatesTokenCount: output billed as text, usage issue', async () => {
    use('gemini-2.5-flash-image', { prompt: 50, candidates: 1_000, candidatesDetails: { IMAGE: 1_290 } });
    await call('generateContent', 'gemini-2.5-flash-image');
    // 50 x $0.30 = $0.000015; 1,000 x $2.50 = $0.0025 → $0.002515
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 50, output: 1_000 });
    expect(row.costUsd).toBe(sum(atMtok(50, '0.30'), atMtok(1_000, '2.50')));
    expect(row.metadata.usage_issues).toEqual(['usageMetadata.candidatesTokensDetails: adds up to 1290, candidatesTokenCount is 1000; billed from the totals']);
    // Billed, but not exactly: the row's pricing_flags says so, not only its metadata.
    expect(row.pricingFlags).toEqual(['candidatesTokensDetails not usable; its audio and image tokens (if any) billed at the text rate']);
  });

  it('cached tokens without cacheTokensDetails while the prompt has audio: the audio split is unknown, totals trusted, usage issue', async () => {
    use('gemini-2.5-flash', { prompt: 10_000, promptDetails: { TEXT: 2_000, AUDIO: 8_000 }, cached: 5_000, candidates: 100 });
    delete (script.usage as { cacheTokensDetails?: unknown }).cacheTokensDetails;
    await call('generateContent', 'gemini-2.5-flash');
    // 5,000 x $0.30 = $0.0015; 5,000 x $0.03 = $0.00015; 100 x $2.50 = $0.00025 → $0.0019
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 5_000, cacheRead: 5_000, output: 100 });
    expect(row.costUsd).toBe(sum(atMtok(5_000, '0.30'), atMtok(5_000, '0.03'), atMtok(100, '2.50')));
    expect(row.metadata.usage_issues).toEqual(['usageMetadata.cacheTokensDetails: missing while the prompt has cached tokens and audio; billed from the totals']);
    // Billed, but not exactly: the row's pricing_flags says so, not only its metadata.
    expect(row.pricingFlags).toEqual(['cacheTokensDetails not usable; its audio and image tokens (if any) billed at the text rate']);
  });

  it('a negative modality count: usage issue, the list is not used', async () => {
    use('gemini-2.5-flash', { prompt: 1_000, promptDetails: { TEXT: 1_500, AUDIO: -500 }, candidates: 100 });
    await call('generateContent', 'gemini-2.5-flash');
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 1_000, output: 100 });
    expect(row.metadata.usage_issues).toEqual([
      'usageMetadata.promptTokensDetails[1].tokenCount: negative (-500)',
      'usageMetadata.promptTokensDetails: unreadable entries; billed from the totals',
    ]);
    expect(row.pricingFlags).toEqual(['promptTokensDetails not usable; its audio and image tokens (if any) billed at the text rate']);
  });
});
