import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd } from '../../lib/core/index.js';
import { PriceBook } from '../../lib/pricing/index.js';
import { useOpenAITokenizer } from '../../lib/providers/openai.tokenizer.js';
import { requestBound } from '../../lib/providers/request-bound.js';

// With gpt-tokenizer installed (an optional peer; a dev dependency here), OpenAI requests are
// bounded by their real token counts, not their UTF-8 size: texts count exactly, the JSON
// structure around them still counts as an allowance for the chat template.
describe('OpenAI requests bounded with the real tokenizer', () => {
  beforeAll(() => useOpenAITokenizer(true));
  afterAll(() => useOpenAITokenizer(false));
  const book = new PriceBook();
  const text = 'Reconcile the October ledger against the bank statement, list every difference with its account and amount, and explain each one.';

  it('counts texts with o200k_base: the bound is the tokens plus the structure allowance, and far below the size bound', () => {
    const params = { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: text }] };
    const withTokenizer = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o-mini', params)!;
    // Walk: array 2 + 1; keys "role" 4+4 and "content" 7+4; values "user" and the text count their
    // tokens + 2 for quotes; + 64 base tokens.
    const expected = 3 + 8 + (countTokens('user') + 2) + 11 + (countTokens(text) + 2) + 64;
    expect(withTokenizer.inputTokens).toBe(expected);
    useOpenAITokenizer(false);
    const bySize = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o-mini', params)!;
    useOpenAITokenizer(true);
    expect(bySize.inputTokens).toBe(3 + 8 + 6 + 11 + (Buffer.byteLength(text) + 2) + 64);
    expect(countTokens(text)).toBeLessThan(Buffer.byteLength(text) / 3);
    // The worst case priced from it (gpt-4o-mini $0.15 in, $0.60 out; 100 output tokens).
    expect(book.worstCase('openai', 'gpt-4o-mini', withTokenizer)).toBe((BigInt(expected) * usd('0.15') + 100n * usd('0.60')) / 1_000_000n);
  });

  it('a text that spells a special token is counted as plain text, not refused as unpriced', () => {
    const params = { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'explain <|endoftext|> please' }] };
    const b = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o-mini', params)!;
    const plain = countTokens('explain <|endoftext|> please', { disallowedSpecial: new Set() });
    expect(b.inputTokens).toBe(3 + 8 + (countTokens('user') + 2) + 11 + (plain + 2) + 64);
    expect(book.worstCase('openai', 'gpt-4o-mini', b)).not.toBeNull();
  });

  it('models and providers without an OpenAI encoding keep the size bound', () => {
    const params = { model: 'deepseek-chat', max_tokens: 100, messages: [{ role: 'user', content: text }] };
    const deepseek = requestBound(book, 'deepseek', 'chat.completions.create', 'deepseek-chat', params)!;
    expect(deepseek.inputTokens).toBe(3 + 8 + 6 + 11 + (Buffer.byteLength(text) + 2) + 64);
  });
});
