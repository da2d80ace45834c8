import { createRequire } from 'node:module';

/** Counts a text's tokens exactly (an encoding of `gpt-tokenizer`). */
export type TokenCounter = (text: string) => number;

const load = createRequire(import.meta.url);
const loaded = new Map<string, TokenCounter | null>();
// KOSTRACK_OPENAI_TOKENIZER=off bounds OpenAI requests by their UTF-8 size even with the package
// installed (the suite's hand-worked estimates use the size bound; one spec turns this back on).
let enabled = process.env.KOSTRACK_OPENAI_TOKENIZER !== 'off';

/**
 * OpenAI's own BPE encodings, from `gpt-tokenizer` when the app has it installed (an optional peer:
 * a few MB of merge tables, loaded on first use): `o200k_base` for GPT-4o, GPT-4.1, GPT-5 and the
 * o-series, `cl100k_base` for GPT-4, GPT-3.5 and the v3 embeddings. Null for other models and
 * providers, or without the package: the request is then bounded by its UTF-8 size.
 */
export function openaiTokenCounter(provider: string, model: string): TokenCounter | null {
  if (!enabled || (provider !== 'openai' && provider !== 'azure')) return null;
  const encoding = /^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4)/.test(model)
    ? 'o200k_base'
    : /^(gpt-4|gpt-3\.5|text-embedding-3|text-embedding-ada-002)/.test(model)
      ? 'cl100k_base'
      : null;
  if (!encoding) return null;
  if (!loaded.has(encoding)) {
    try {
      const mod = load(`gpt-tokenizer/cjs/encoding/${encoding}`) as { countTokens?: (text: string, options?: object) => number };
      const count = mod.countTokens;
      // Text that spells a special token (<|endoftext|>) is plain text to the API: count it as such
      // (by default the package throws on it).
      const none = { disallowedSpecial: new Set<string>() };
      loaded.set(encoding, typeof count === 'function' ? (text) => count(text, none) : null);
    } catch {
      loaded.set(encoding, null);
    }
  }
  return loaded.get(encoding) ?? null;
}

/** @internal For the bench and tests: bound every request by its UTF-8 size, as without the package. */
export function useOpenAITokenizer(on: boolean): void {
  enabled = on;
}
