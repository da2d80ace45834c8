import { missingUsage, UsageReader, type NormalizedUsage } from './usage-reader.js';

/**
 * Gemini `usageMetadata` (`GenerateContentResponseUsageMetadata` in `@google/genai`):
 *
 * - `promptTokenCount` includes `cachedContentTokenCount`; `thoughtsTokenCount` is billed as output
 *   but is outside `candidatesTokenCount`; tool-use prompt tokens are billed as input (at the text
 *   rate) and are outside `promptTokenCount`.
 * - `promptTokensDetails`, `cacheTokensDetails` and `candidatesTokensDetails` split those totals by
 *   modality (`ModalityTokenCount[]`: `{ modality: 'TEXT'|'IMAGE'|'VIDEO'|'AUDIO'|'DOCUMENT', tokenCount }`).
 *   Audio input has its own rate: prompt AUDIO minus cached AUDIO is `inputAudio`, cached AUDIO is
 *   `cacheReadAudio`. Text, image, video and documents cost the same per input token, so they stay
 *   in the text buckets (exact, not approximated). Output IMAGE is `outputImage`, output AUDIO is
 *   `outputAudio`. The totals are what Google bills: a list of details that does not add up to
 *   its total (or cached more of a modality than the prompt had) is not used, and the row says so.
 *
 * Grounding with Google Search (`candidates[].groundingMetadata.webSearchQueries`) is billed per
 * response, decided here by the model name: Gemini 3 models (`gemini-3*`) bill each search query
 * (`webSearches`, one per query of every candidate); earlier models bill one grounded prompt per
 * response whose grounding metadata lists at least one search query (`groundedPrompts`: 1).
 */
export function geminiUsage(usage: unknown, model = '', groundings: readonly unknown[] = NONE): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usageMetadata: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usageMetadata: unexpected shape');
  const r = new UsageReader();
  const prompt = r.count(usage, 'promptTokenCount', 'usageMetadata', true);
  const cached = r.count(usage, 'cachedContentTokenCount', 'usageMetadata');
  const toolUse = r.count(usage, 'toolUsePromptTokenCount', 'usageMetadata');
  const candidates = r.count(usage, 'candidatesTokenCount', 'usageMetadata');
  const thoughts = r.count(usage, 'thoughtsTokenCount', 'usageMetadata');

  // Input: audio split out of the prompt and the cached part, when the details agree with the totals.
  let promptDetails = modalities(r, usage, 'promptTokensDetails', prompt, 'promptTokenCount');
  let cacheDetails = modalities(r, usage, 'cacheTokensDetails', cached, 'cachedContentTokenCount');
  if (promptDetails && cacheDetails) {
    for (const [m, n] of cacheDetails) {
      if (n > (promptDetails.get(m) ?? 0)) {
        r.issues.push(`usageMetadata.cacheTokensDetails: ${n} cached ${m} tokens, more than the prompt's ${promptDetails.get(m) ?? 0}; billed from the totals`);
        r.approximate(TEXT_RATE_NOTE('cacheTokensDetails'));
        promptDetails = cacheDetails = undefined;
        break;
      }
    }
  }
  if (promptDetails?.get('AUDIO') && cached > 0 && !cacheDetails) {
    // Which of the cached tokens were audio is unknown, so the prompt's audio cannot be split
    // into cached and uncached either (a cacheTokensDetails that was there is already reported).
    if (!has(usage, 'cacheTokensDetails')) r.issues.push('usageMetadata.cacheTokensDetails: missing while the prompt has cached tokens and audio; billed from the totals');
    r.approximate(TEXT_RATE_NOTE('cacheTokensDetails'));
    promptDetails = undefined;
  }
  const cachedAudio = cacheDetails?.get('AUDIO') ?? 0;
  // Without prompt details only the cached part can be split; the rest stays at the text rate.
  const uncachedAudio = promptDetails ? (promptDetails.get('AUDIO') ?? 0) - cachedAudio : 0;
  if (!promptDetails && cachedAudio > 0 && prompt > cached) r.approximate(TEXT_RATE_NOTE('promptTokensDetails'));

  // Output: image and audio tokens split out of the candidates.
  const outputDetails = modalities(r, usage, 'candidatesTokensDetails', candidates, 'candidatesTokenCount');
  const outputImage = outputDetails?.get('IMAGE') ?? 0;
  const outputAudio = outputDetails?.get('AUDIO') ?? 0;

  const fees = grounding(r, model, groundings);
  return r.finish(
    {
      inputUncached: r.rest(prompt, cached, 'usageMetadata.promptTokenCount') - uncachedAudio + toolUse,
      inputAudio: uncachedAudio,
      cacheRead: cached - cachedAudio,
      cacheReadAudio: cachedAudio,
      output: candidates - outputImage - outputAudio,
      outputImage,
      outputAudio,
      reasoning: thoughts,
      webSearches: fees.webSearches,
      groundedPrompts: fees.groundedPrompts,
    },
    cached,
  );
}

const NONE: readonly unknown[] = Object.freeze([]);

/** The row's flag when a modality split could not be used: audio or image tokens may be in the text buckets. */
const TEXT_RATE_NOTE = (key: string) => `${key} not usable; its audio and image tokens (if any) billed at the text rate`;

function has(obj: object, key: string): boolean {
  const v = (obj as Record<string, unknown>)[key];
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

/**
 * Tokens per modality of `usage[key]`, or undefined when absent or not to be trusted (then the
 * total is billed as text and, when the list was there, the row says why).
 */
function modalities(r: UsageReader, usage: object, key: string, total: number, totalKey: string): Map<string, number> | undefined {
  const raw = (usage as Record<string, unknown>)[key];
  if (raw === undefined || raw === null) return undefined;
  const path = `usageMetadata.${key}`;
  if (!Array.isArray(raw)) {
    r.issues.push(`${path}: unexpected shape (${typeof raw}); billed from the totals`);
    r.approximate(TEXT_RATE_NOTE(key));
    return undefined;
  }
  if (raw.length === 0) return undefined;
  const byModality = new Map<string, number>();
  let sum = 0;
  let bad = false;
  for (let i = 0; i < raw.length; i++) {
    const entry = raw[i] as { modality?: unknown } | null;
    const before = r.issues.length;
    // Zero counts are left out of the JSON (proto3): a missing tokenCount is 0.
    const n = r.count(entry, 'tokenCount', `${path}[${i}]`);
    if (r.issues.length !== before || entry === null || typeof entry !== 'object') bad = true;
    const modality = typeof entry?.modality === 'string' ? entry.modality : 'MODALITY_UNSPECIFIED';
    byModality.set(modality, (byModality.get(modality) ?? 0) + n);
    sum += n;
  }
  if (bad) {
    r.issues.push(`${path}: unreadable entries; billed from the totals`);
    r.approximate(TEXT_RATE_NOTE(key));
    return undefined;
  }
  if (sum !== total) {
    r.issues.push(`${path}: adds up to ${sum}, ${totalKey} is ${total}; billed from the totals`);
    r.approximate(TEXT_RATE_NOTE(key));
    return undefined;
  }
  return byModality;
}

/** The model names whose Google Search grounding is billed per search query rather than per prompt. */
const PER_QUERY_GROUNDING = /^gemini-3/;

function grounding(r: UsageReader, model: string, groundings: readonly unknown[]): { webSearches: number; groundedPrompts: number } {
  let queries = 0;
  for (let i = 0; i < groundings.length; i++) {
    const g = groundings[i];
    if (g === undefined || g === null) continue;
    if (typeof g !== 'object' || Array.isArray(g)) {
      r.billingIssue(`candidates[${i}].groundingMetadata: unexpected shape; not billed`);
      continue;
    }
    const q = (g as { webSearchQueries?: unknown }).webSearchQueries;
    if (q === undefined || q === null) continue;
    // Searches the response shows but we cannot count: the row says they were left out.
    if (!Array.isArray(q)) r.billingIssue(`candidates[${i}].groundingMetadata.webSearchQueries: unexpected shape (${typeof q}); not billed`);
    else queries += q.length;
  }
  if (queries === 0) return { webSearches: 0, groundedPrompts: 0 };
  return PER_QUERY_GROUNDING.test(model) ? { webSearches: queries, groundedPrompts: 0 } : { webSearches: 0, groundedPrompts: 1 };
}

/** The grounding metadata of each candidate of one `GenerateContentResponse` (`candidates[].groundingMetadata`). */
export function geminiGroundings(candidates: unknown): unknown[] {
  if (!Array.isArray(candidates)) return NONE as unknown[];
  let out: unknown[] | undefined;
  for (const c of candidates) {
    const g = (c as { groundingMetadata?: unknown } | null)?.groundingMetadata;
    if (g !== undefined && g !== null) (out ??= []).push(g);
  }
  return out ?? (NONE as unknown[]);
}

/**
 * Grounding metadata across the chunks of a stream, once per candidate: a chunk that carries a
 * candidate's `webSearchQueries` replaces what an earlier chunk said for that candidate, one
 * without them does not erase them.
 */
export class GeminiGroundingCollector {
  private byCandidate: Map<number, unknown> | undefined;

  observe(candidates: unknown): void {
    if (!Array.isArray(candidates)) return;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i] as { groundingMetadata?: unknown; index?: unknown } | null;
      const g = c?.groundingMetadata;
      if (g === undefined || g === null) continue;
      const index = typeof c?.index === 'number' ? c.index : i;
      const seen = this.byCandidate?.get(index);
      const hasQueries = (x: unknown) => typeof x === 'object' && x !== null && (x as { webSearchQueries?: unknown }).webSearchQueries != null;
      if (seen === undefined || hasQueries(g) || !hasQueries(seen)) (this.byCandidate ??= new Map()).set(index, g);
    }
  }

  get groundings(): unknown[] {
    return this.byCandidate ? [...this.byCandidate.values()] : (NONE as unknown[]);
  }
}

/** `embedContent`: token counts come per embedding in `statistics.tokenCount` where the API reports them. */
export function geminiEmbedUsage(response: unknown): NormalizedUsage {
  const embeddings = (response as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings)) return missingUsage('embeddings: unexpected shape');
  const r = new UsageReader();
  let tokens = 0;
  let counted = 0;
  embeddings.forEach((e, i) => {
    const stats = r.object(e, 'statistics', `embeddings[${i}]`);
    if (stats) {
      tokens += r.count(stats, 'tokenCount', `embeddings[${i}].statistics`, true);
      counted++;
    }
  });
  if (counted < embeddings.length) r.issues.push(`embeddings: ${embeddings.length - counted} of ${embeddings.length} without statistics.tokenCount`);
  return r.finish({ inputUncached: tokens }, 0);
}
