import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import { CallScope } from '../../providers/call-tracker.js';
import { resolveWrapOptions, type WrapOptions } from '../../providers/wrap-options.js';
import { langchainUsage } from './langchain.usage.js';

export interface KostrackCallbackOptions extends Pick<WrapOptions, 'tags' | 'priceBook' | 'metadata'> {
  /**
   * Provider name for rows and pricing; default what the model reports (`ls_provider`:
   * `openai`, `anthropic`, …). Set it for OpenAI-compatible servers, e.g. `deepseek` behind ChatOpenAI.
   */
  provider?: string | undefined;
}

/** LangChain's `ls_provider` values that differ from Kostrack's provider names. */
const PROVIDERS: Record<string, string> = { google_genai: 'gemini', 'google-genai': 'gemini', google_vertexai: 'gemini', mistralai: 'mistral' };

/**
 * Tracks every LangChain chat model call (ChatOpenAI, ChatAnthropic, …) without wrapping the
 * model: pass it as a callback (`callbacks: [new KostrackCallbackHandler()]` on the model, or in
 * `graph.invoke(input, { callbacks })`). Calls join the active `trace()` and are priced by the same
 * PriceBook and usage normalisation as the tracked SDK clients. Don't also wrap a client the model
 * uses internally, or the call is counted twice.
 */
export class KostrackCallbackHandler extends BaseCallbackHandler {
  name = 'kostrack';
  private readonly options: KostrackCallbackOptions;
  private readonly resolved: ReturnType<typeof resolveWrapOptions>;
  private readonly runs = new Map<string, CallScope>();
  private readonly streamedRuns = new Set<string>();

  constructor(options: KostrackCallbackOptions = {}) {
    super();
    // LangChain's copy() passes the old handler back in; keep only our own options.
    const own = options instanceof KostrackCallbackHandler ? options.options : options;
    this.options = own;
    this.resolved = resolveWrapOptions({ provider: own.provider, tags: own.tags, priceBook: own.priceBook, metadata: own.metadata });
    // Run inline, not on LangChain's background queue: the call must see the caller's trace.
    this.awaitHandlers = true;
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.start(llm, runId, extraParams, metadata);
  }

  override handleLLMStart(llm: Serialized, _prompts: string[], runId: string, _parentRunId?: string, extraParams?: Record<string, unknown>, _tags?: string[], metadata?: Record<string, unknown>): void {
    this.start(llm, runId, extraParams, metadata);
  }

  override handleLLMNewToken(_token: string, _idx: unknown, runId: string): void {
    this.streamedRuns.add(runId);
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const scope = this.take(runId);
    if (!scope) return;
    const generation = output.generations?.[0]?.[0] as { message?: { response_metadata?: Record<string, unknown>; usage_metadata?: unknown } } | undefined;
    const meta = generation?.message?.response_metadata;
    const usage = langchainUsage(scope.init.provider, meta, generation?.message?.usage_metadata ?? legacyTokenUsage(output));
    const model = meta?.model_name ?? meta?.model;
    scope.ok(usage, typeof model === 'string' ? model : undefined);
  }

  override handleLLMError(error: unknown, runId: string): void {
    this.take(runId)?.fail(error);
  }

  private start(llm: Serialized, runId: string, extraParams: Record<string, unknown> | undefined, metadata: Record<string, unknown> | undefined): void {
    const invocation = (extraParams?.invocation_params ?? {}) as Record<string, unknown>;
    const lsProvider = typeof metadata?.ls_provider === 'string' ? metadata.ls_provider : undefined;
    const provider = this.options.provider ?? (lsProvider ? (PROVIDERS[lsProvider] ?? lsProvider) : 'langchain');
    const model = [metadata?.ls_model_name, invocation.model, invocation.model_name].find((m): m is string => typeof m === 'string') ?? 'unknown';
    const className = Array.isArray(llm?.id) ? String(llm.id[llm.id.length - 1]) : 'ChatModel';
    this.runs.set(
      runId,
      // CallScope captures the active trace now, and prices and records exactly like wrap().
      new CallScope({
        provider,
        operation: `langchain.${className}`,
        requestModel: model,
        streamed: invocation.stream === true || invocation.streaming === true,
        params: invocation,
        callTags: undefined,
        options: this.resolved,
      }),
    );
  }

  private take(runId: string): CallScope | undefined {
    const scope = this.runs.get(runId);
    this.runs.delete(runId);
    if (scope && this.streamedRuns.delete(runId)) scope.init.streamed = true;
    return scope;
  }
}

/** Older integrations report only `llmOutput.tokenUsage` ({ promptTokens, completionTokens }). */
function legacyTokenUsage(output: LLMResult): unknown {
  const t = (output.llmOutput as { tokenUsage?: { promptTokens?: number; completionTokens?: number } } | undefined)?.tokenUsage;
  return t ? { input_tokens: t.promptTokens, output_tokens: t.completionTokens } : undefined;
}
