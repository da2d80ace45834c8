import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallInput } from '../../../lib/core/call-record.js';
import { usd } from '../../../lib/core/money.js';
import type { WriterOptions } from '../../../lib/storage/writer.options.js';

/** A finished call as a provider wrapper would report it; no SDK involved. */
export function syntheticCall(overrides: Partial<CallInput> = {}): CallInput {
  return {
    provider: 'anthropic',
    model: 'claude-haiku-4-5-20251001',
    operation: 'messages.create',
    inputTokens: 1200,
    outputTokens: 300,
    cachedTokens: 200,
    tokenBreakdown: { inputUncached: 1000, cacheRead: 200, output: 300 },
    costUsd: usd('0.002345'),
    pricingModel: 'genai-prices:claude-haiku-4-5',
    pricingSource: 'catalog',
    latencyMs: 850,
    status: 'ok',
    streamed: false,
    ...overrides,
  };
}

/** Writer options with a spool and dead-letter file of the test's own. */
export function tempWriterOptions(overrides: WriterOptions = {}): WriterOptions & { spoolDir: string; deadLetterFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-'));
  return { spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead-letter.jsonl'), flushIntervalMs: 20, retryBaseMs: 20, retryMaxMs: 200, ...overrides };
}
