import { usd, type CallInput } from '../../lib/core/index.js';

/** A finished call as a provider wrapper would report it; costs are exact decimal strings. */
export function callInput(cost: string, overrides: Partial<CallInput> = {}): CallInput {
  return {
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
    operation: 'messages.create',
    inputTokens: 100,
    outputTokens: 20,
    cachedTokens: 0,
    tokenBreakdown: { inputUncached: 100, output: 20 },
    costUsd: usd(cost),
    pricingModel: 'test',
    pricingSource: 'override',
    latencyMs: 5,
    status: 'ok',
    streamed: false,
    ...overrides,
  };
}
