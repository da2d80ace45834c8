import { normalizeTags, type TagInput, type Tags } from '../core/index.js';
import { runtime } from '../core/runtime.js';

/** The request-option key that carries per-call Kostrack options; removed before the SDK sees it. */
export const KOSTRACK_KEY = 'kostrack';

export interface PerCallOptions {
  tags?: TagInput | undefined;
}

/**
 * Per-call tags for a tracked call, validated now (a bad tag throws here, before the call).
 * OpenAI and Anthropic: pass as the request options, alone or around your own:
 * `openai.chat.completions.create(body, withTags({ step: 'draft' }, { timeout: 5000 }))`.
 * Gemini (one params object): spread into the params: `{ model, contents, ...withTags({ step: 'draft' }) }`.
 * The returned object is typed as your options, so it type-checks where the SDK expects them.
 */
export function withTags(tags: TagInput): {};
export function withTags<O extends object>(tags: TagInput, requestOptions: O): O;
export function withTags<O extends object>(tags: TagInput, requestOptions?: O): O {
  const normalized = normalizeTags(tags);
  return { ...(requestOptions as O), [KOSTRACK_KEY]: { tags: normalized } } as O;
}

/**
 * Removes the `kostrack` key from a request argument; returns the argument to forward (the same
 * object when it had none, so the SDK sees exactly what the user passed) and the call's tags.
 * Runs inside a tracked call, so bad values are dropped with a warning, never thrown.
 */
export function takeCallOptions(arg: unknown): { forward: unknown; tags: Tags | undefined } {
  if (arg === null || typeof arg !== 'object' || !Object.hasOwn(arg, KOSTRACK_KEY)) return { forward: arg, tags: undefined };
  const { [KOSTRACK_KEY]: own, ...rest } = arg as Record<string, unknown>;
  const tags = normalizeTags((own as PerCallOptions | null)?.tags, 'lenient', (reason) =>
    runtime.warn(`Kostrack dropped a per-call tag: ${reason}`),
  );
  return { forward: rest, tags };
}
