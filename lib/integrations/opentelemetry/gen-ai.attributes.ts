import type { Attributes } from '@opentelemetry/api';
import type { CallRecord, SpanRecord } from '../../core/call-record.js';
import { usdToString } from '../../core/money.js';

/** Kostrack provider names → the GenAI semantic convention's `gen_ai.provider.name` values. */
const PROVIDER_NAMES: Record<string, string> = {
  gemini: 'gcp.gemini',
  google: 'gcp.gemini',
  vertex: 'gcp.vertex_ai',
  mistral: 'mistral_ai',
  xai: 'x_ai',
  bedrock: 'aws.bedrock',
  azure: 'azure.ai.openai',
};

/** `gen_ai.operation.name` from the SDK method that was called. */
export function genAiOperation(operation: string): string {
  const op = operation.toLowerCase();
  if (op.includes('embed')) return 'embeddings';
  if (op.includes('generatecontent')) return 'generate_content';
  if (op.startsWith('completions.')) return 'text_completion';
  return 'chat';
}

/** The model asked for: the row keeps it in metadata only when the response named another one. */
export function requestModelOf(call: CallRecord): string {
  const requested = call.metadata?.request_model;
  return typeof requested === 'string' && requested !== '' ? requested : call.model;
}

/** A call as OpenTelemetry GenAI attributes (token counts in the convention's meaning: input includes cache). */
export function callAttributes(call: CallRecord): Attributes {
  const b = call.tokenBreakdown ?? {};
  const attributes: Attributes = {
    'gen_ai.operation.name': genAiOperation(call.operation),
    'gen_ai.provider.name': PROVIDER_NAMES[call.provider] ?? call.provider,
    'gen_ai.request.model': requestModelOf(call),
    'gen_ai.response.model': call.model,
    'gen_ai.usage.input_tokens': call.inputTokens,
    'gen_ai.usage.output_tokens': call.outputTokens,
    'kostrack.trace_id': call.traceId ?? '',
    'kostrack.span_id': call.spanId,
    'kostrack.service_id': call.serviceId,
    'kostrack.operation': call.operation,
    'kostrack.streamed': call.streamed,
    'kostrack.pricing_source': call.pricingSource,
  };
  if (b.cacheRead) attributes['gen_ai.usage.cache_read.input_tokens'] = b.cacheRead;
  const written = (b.cacheWrite5m ?? 0) + (b.cacheWrite1h ?? 0);
  if (written) attributes['gen_ai.usage.cache_creation.input_tokens'] = written;
  if (b.reasoning) attributes['gen_ai.usage.reasoning.output_tokens'] = b.reasoning;
  // Exact decimal string: a float attribute would round the money the rows keep exact.
  if (call.costUsd !== null) attributes['kostrack.cost_usd'] = usdToString(call.costUsd);
  if (call.pricingModel) attributes['kostrack.pricing_model'] = call.pricingModel;
  if (call.serviceTier) {
    attributes['kostrack.service_tier'] = call.serviceTier;
    // The semantic convention names OpenAI's tier only.
    if (call.provider === 'openai' || call.provider === 'azure') attributes['openai.response.service_tier'] = call.serviceTier;
  }
  if (call.pricingFlags?.length) attributes['kostrack.pricing_flags'] = [...call.pricingFlags];
  if (call.errorClass) attributes['error.type'] = call.errorClass;
  addTags(attributes, call.tags);
  return attributes;
}

/** A named Kostrack span: its subtree's cost and call count, and its tags. */
export function spanAttributes(span: SpanRecord): Attributes {
  const attributes: Attributes = {
    'kostrack.trace_id': span.traceId,
    'kostrack.span_id': span.spanId,
    'kostrack.service_id': span.serviceId,
    'kostrack.cost_usd': usdToString(span.costUsd),
    'kostrack.call_count': span.callCount,
  };
  if (span.errorClass) attributes['error.type'] = span.errorClass;
  addTags(attributes, span.tags);
  return attributes;
}

function addTags(attributes: Attributes, tags: Readonly<Record<string, string>> | undefined): void {
  if (!tags) return;
  for (const key in tags) attributes[`kostrack.tag.${key}`] = tags[key];
}
