import { MAX_STORED_INT } from '../core/call-input.guard.js';
import type { TokenBreakdown } from '../core/index.js';
import type { WebSearchTool } from '../pricing/index.js';

/** Usage normalised from any provider: totals plus disjoint buckets, and what was wrong with it. */
export interface NormalizedUsage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  breakdown: TokenBreakdown;
  /** Problems found in the provider's usage data (kept on the row as `metadata.usage_issues`). */
  issues: string[];
  /** The service tier the response says served it (`flex`, `priority`…); absent when it says none. */
  serviceTier?: string | undefined;
  /**
   * Where the usage itself could not say how to bill (modality details that do not add up, a tool
   * billed at a rate the catalog does not have): stored in the row's `pricing_flags`.
   */
  pricingNotes?: string[] | undefined;
  /** Which tool made the `webSearches`, where the request says (OpenAI prices `web_search_preview` apart). */
  webSearchTool?: WebSearchTool | undefined;
}

/**
 * The most a token count may be: the token columns of `llm_calls` are `integer`, and a larger
 * value would get the whole row dead-lettered. No real call comes near it, so a count above it
 * means a garbled usage object.
 */
const MAX_TOKEN_COUNT = MAX_STORED_INT;

/**
 * Reads token counts defensively: providers (and proxies in front of them) send missing, null,
 * negative, fractional, string or absurdly large counts. A bad count is treated as unknown (0),
 * rounded or clamped, and reported, so the user's call still returns and the row says what it
 * could not trust.
 */
export class UsageReader {
  private found: string[] | undefined;

  /** Problems found so far (usually none: the list is only made for the first one). */
  get issues(): string[] {
    return (this.found ??= []);
  }

  /** A count at `obj[key]`; `required` reports a missing value, optional ones are silently 0. */
  count(obj: unknown, key: string, path: string, required = false): number {
    if (obj === null || typeof obj !== 'object') {
      if (required) this.issues.push(`${path}.${key}: missing`);
      return 0;
    }
    const raw = (obj as Record<string, unknown>)[key];
    if (raw === undefined || raw === null) {
      if (required) this.issues.push(`${path}.${key}: ${raw === null ? 'null' : 'missing'}`);
      return 0;
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      this.issues.push(`${path}.${key}: ${typeof raw === 'number' ? `not a finite number (${raw})` : `not a number (${typeof raw})`}`);
      return 0;
    }
    if (raw < 0) {
      this.issues.push(`${path}.${key}: negative (${raw})`);
      return 0;
    }
    if (raw > MAX_TOKEN_COUNT) {
      this.issues.push(`${path}.${key}: ${raw} is over ${MAX_TOKEN_COUNT}; stored ${MAX_TOKEN_COUNT}`);
      return MAX_TOKEN_COUNT;
    }
    if (!Number.isInteger(raw)) {
      this.issues.push(`${path}.${key}: not an integer (${raw})`);
      return Math.round(raw);
    }
    return raw;
  }

  /**
   * A per-call fee count (web searches, say) at `obj[key]`. A bad one is reported like any count
   * and, since it changes what the call is billed, also flagged on the row's `pricing_flags`.
   */
  feeCount(obj: unknown, key: string, path: string): number {
    const before = this.found?.length ?? 0;
    const n = this.count(obj, key, path);
    const found = this.found;
    if (found && found.length > before) this.approximate(`${found[found.length - 1]}; ${n === 0 ? 'not billed' : `billed as ${n}`}`);
    return n;
  }

  /** A problem that changes what the call is billed (left out, or at a rate it may not be): reported, and flagged on the row. */
  billingIssue(issue: string, note = issue): void {
    this.issues.push(issue);
    this.approximate(note);
  }

  /** An object at `obj[key]`, or undefined (reporting a wrong shape when present). */
  object(obj: unknown, key: string, path: string): Record<string, unknown> | undefined {
    if (obj === null || typeof obj !== 'object') return undefined;
    const raw = (obj as Record<string, unknown>)[key];
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      this.issues.push(`${path}.${key}: unexpected shape (${Array.isArray(raw) ? 'array' : typeof raw})`);
      return undefined;
    }
    return raw as Record<string, unknown>;
  }

  /** `whole - parts`, reporting (and clamping) a part that exceeds the whole it belongs to. */
  rest(whole: number, parts: number, what: string): number {
    if (parts <= whole) return whole - parts;
    this.issues.push(`${what}: parts (${parts}) exceed the total (${whole})`);
    return 0;
  }

  finish(b: TokenBreakdown, cachedTokens: number): NormalizedUsage {
    let inputTokens =
      (b.inputUncached ?? 0) + (b.cacheRead ?? 0) + (b.cacheWrite5m ?? 0) + (b.cacheWrite1h ?? 0) + (b.inputAudio ?? 0) + (b.cacheReadAudio ?? 0);
    let outputTokens = (b.output ?? 0) + (b.reasoning ?? 0) + (b.outputAudio ?? 0) + (b.outputImage ?? 0);
    // Each count is in range, but buckets that add up (Anthropic's input excludes its cache
    // counts) can still overflow the column; the breakdown keeps the counts as sent.
    if (inputTokens > MAX_TOKEN_COUNT) inputTokens = this.clampTotal(inputTokens, 'input');
    if (outputTokens > MAX_TOKEN_COUNT) outputTokens = this.clampTotal(outputTokens, 'output');
    // Zero buckets are left out so stored breakdowns stay small and readable (spelled out: a
    // for-in over the buckets was a third of the read).
    const c: TokenBreakdown = {};
    if (b.inputUncached) c.inputUncached = b.inputUncached;
    if (b.cacheRead) c.cacheRead = b.cacheRead;
    if (b.cacheWrite5m) c.cacheWrite5m = b.cacheWrite5m;
    if (b.cacheWrite1h) c.cacheWrite1h = b.cacheWrite1h;
    if (b.inputAudio) c.inputAudio = b.inputAudio;
    if (b.output) c.output = b.output;
    if (b.reasoning) c.reasoning = b.reasoning;
    if (b.outputAudio) c.outputAudio = b.outputAudio;
    if (b.cacheReadAudio) c.cacheReadAudio = b.cacheReadAudio;
    if (b.outputImage) c.outputImage = b.outputImage;
    if (b.webSearches) c.webSearches = b.webSearches;
    if (b.fileSearches) c.fileSearches = b.fileSearches;
    if (b.groundedPrompts) c.groundedPrompts = b.groundedPrompts;
    const usage: NormalizedUsage = { inputTokens, outputTokens, cachedTokens, breakdown: c, issues: this.found ?? NO_ISSUES };
    if (this.tierSeen !== undefined) usage.serviceTier = this.tierSeen;
    if (this.notes) usage.pricingNotes = this.notes;
    return usage;
  }

  private notes: string[] | undefined;

  /** Notes that the price will be approximate for a reason only the usage shows (see {@link NormalizedUsage.pricingNotes}). */
  approximate(note: string): void {
    (this.notes ??= []).push(note);
  }

  private tierSeen: string | undefined;

  /**
   * The service tier at `obj[key]`: a short lowercase name is kept as sent (an unknown one is
   * priced at the standard rate and flagged by pricing); anything else is reported and flagged,
   * and the call priced at the standard rate.
   */
  tier(obj: unknown, key: string, path: string): void {
    if (obj === null || typeof obj !== 'object') return;
    const raw = (obj as Record<string, unknown>)[key];
    if (raw === undefined || raw === null) return;
    if (typeof raw === 'string' && TIER_NAME.test(raw)) this.tierSeen = raw;
    else {
      const issue = `${path}.${key}: not a service tier name (${typeof raw === 'string' ? JSON.stringify(raw.slice(0, 40)) : typeof raw})`;
      // The tier that served the call is unknown: priced at the standard rate, which the row must say.
      this.billingIssue(issue, `${issue}; billed at the standard rate`);
    }
  }

  private clampTotal(total: number, what: 'input' | 'output'): number {
    this.issues.push(`${what} tokens: the counts add up to ${total}, over ${MAX_TOKEN_COUNT}; stored ${MAX_TOKEN_COUNT}`);
    return MAX_TOKEN_COUNT;
  }
}

/** What a tier name may look like; longer or stranger text is not stored on the row. */
const TIER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** Shared by every clean read; frozen so no caller can add to it. */
const NO_ISSUES: string[] = Object.freeze([]) as unknown as string[];

/** Usage for a call whose response carried none we could read. */
export function missingUsage(issue: string): NormalizedUsage {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0, breakdown: {}, issues: [issue] };
}
