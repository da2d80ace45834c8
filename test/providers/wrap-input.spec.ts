import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { KostrackConfigError } from '../../lib/core/index.js';
import { wrap } from '../../lib/providers/index.js';

const openai = new OpenAI({ apiKey: 'sk', baseURL: 'http://127.0.0.1:9/v1' });

describe('wrap() bad input fails at wrap time with KostrackConfigError', () => {
  it.each([
    ['null', null],
    ['a string', 'openai'],
    ['a plain object', {}],
    ['a fetch-like function', () => undefined],
  ])('%s is not a client', (_name, value) => {
    expect(() => wrap(value as never)).toThrow(KostrackConfigError);
  });

  it('unknown provider names, bad tags and bad options', () => {
    expect(() => wrap(openai, { provider: 'openia' })).toThrow(/unknown provider "openia"/);
    expect(() => wrap(openai, { tags: { 'has space': 'x' } })).toThrow(KostrackConfigError);
    expect(() => wrap(openai, { tags: { ok: { nested: 1 } as never } })).toThrow(KostrackConfigError);
    expect(() => wrap(openai, { tags: 'team=a' as never })).toThrow(KostrackConfigError);
    expect(() => wrap(openai, { priceBook: {} as never })).toThrow(KostrackConfigError);
    expect(() => wrap(openai, { metadata: 'all' as never })).toThrow(KostrackConfigError);
    expect(() => wrap(openai, { tgas: {} } as never)).toThrow(/unknown option "tgas"/);
    expect(() => wrap(new Anthropic({ apiKey: 'k' }), { provider: 'openai' })).toThrow(KostrackConfigError);
    expect(() => wrap(new GoogleGenAI({ apiKey: 'k' }), { provider: 'anthropic' })).toThrow(KostrackConfigError);
  });

  it('accepts known names, custom:<name>, infers OpenAI-compatible hosts, and re-wrapping replaces options', () => {
    expect(wrap(openai, { provider: 'custom:vllm' })).toBeInstanceOf(OpenAI);
    const twice = wrap(wrap(openai, { tags: { a: '1' } }), { tags: { b: '2' } });
    expect(twice).toBeInstanceOf(OpenAI);
    expect(wrap(new Anthropic({ apiKey: 'k' }))).toBeInstanceOf(Anthropic);
    expect(wrap(new GoogleGenAI({ apiKey: 'k' })).models).toBeTruthy();
  });
});
