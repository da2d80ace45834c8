/**
 * The most output tokens a model can return in one call, for bounding a call's cost when the
 * request sets no `max_tokens`. First match wins; the catalog's context window is the fallback.
 * From each provider's model pages (checked 2026-11-30); a model missing here is bounded by its
 * context window, which is larger, never smaller, than its real limit.
 */
const MAX_OUTPUT: readonly [provider: string, pattern: RegExp, tokens: number][] = [
  ['openai', /^gpt-5/, 128_000],
  ['openai', /^gpt-4\.1/, 32_768],
  ['openai', /^(gpt-4o|chatgpt-4o)/, 16_384],
  ['openai', /^(o1|o3|o4)/, 100_000],
  ['openai', /^gpt-(4|3\.5)/, 4_096],
  ['anthropic', /^claude-(opus-4-0|opus-4-1|opus-4-2025|opus-4-1-2025|4-opus)/, 32_000],
  ['anthropic', /^claude-(opus|sonnet|haiku)-4/, 64_000],
  ['anthropic', /^claude-3-7-sonnet/, 64_000],
  ['anthropic', /^claude-3-5/, 8_192],
  ['anthropic', /^claude-3/, 4_096],
  ['gemini', /^gemini-(2\.5|3)/, 65_536],
  ['gemini', /^gemini-(2\.0|1\.5)/, 8_192],
  ['deepseek', /^deepseek-chat/, 8_192],
  ['deepseek', /^deepseek-reasoner/, 65_536],
];

/** The model's output limit if known here; null otherwise. */
export function maxOutputTokensOf(provider: string, model: string): number | null {
  const p = provider === 'google' ? 'gemini' : provider === 'azure' ? 'openai' : provider;
  for (const [name, pattern, tokens] of MAX_OUTPUT) if (name === p && pattern.test(model)) return tokens;
  return null;
}
