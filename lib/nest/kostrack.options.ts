import type { ExecutionContext, ModuleMetadata } from '@nestjs/common';
import type { TagInput } from '../core/tags.js';
import type { PriceOverride } from '../pricing/price-table.js';
import type { LlmClientDefinition } from './llm-clients.providers.js';
import type { StorageOptions } from '../storage/storage.options.js';
import type { AdminOptions } from '../admin/admin.options.js';

/** Options of `KostrackModule.forRoot()` / `forRootAsync()`. */
/** Storage options (`database`, `schema`, `writer`, `embedded`, `migrationsRun`) are documented on {@link StorageOptions}. */
export interface KostrackModuleOptions extends StorageOptions {
  /** Turns all tracking off (calls run untouched, nothing is recorded). Default true. */
  enabled?: boolean | undefined;
  /** Stored on every row as `service_id`; tells replicas and services apart. Default `KOSTRACK_SERVICE_ID` or `default`. */
  serviceId?: string | undefined;
  /** Module-level tags, e.g. `{ project: 'openmanagr' }`: above client tags, below trace tags. */
  tags?: TagInput | undefined;
  /**
   * Tags computed per request by the trace interceptor, e.g. the user id:
   * `(ctx) => ({ user_id: ctx.switchToHttp().getRequest().user?.id })`. Invalid values are dropped
   * with a warning; the request is never failed because of them.
   */
  requestTags?: (context: ExecutionContext) => TagInput | undefined;
  /** Response header that carries the trace id; `false` sends none. Default `x-kostrack-trace-id`. */
  traceIdHeader?: string | false | undefined;
  /** Continue an incoming W3C `traceparent`. Default true. */
  acceptTraceparent?: boolean | undefined;
  /** Register the trace interceptor globally (it only acts on `@Trace()` controllers). Default true. */
  globalInterceptor?: boolean | undefined;
  /**
   * Tracked LLM clients, any number, by name: `{ drafts: { provider: 'openai', factory: (cfg) => new OpenAI(...), inject: [ConfigService], tags } }`.
   * Inject with `@InjectLlmClient('drafts')`. Declared in `forRoot` (provider tokens must be known up front).
   */
  clients?: Record<string, LlmClientDefinition> | undefined;
  /** Modules that provide the `inject` dependencies of client factories (e.g. `ConfigModule`), unless they are global. */
  clientImports?: NonNullable<ModuleMetadata['imports']> | undefined;
  /** Price overrides (negotiated rates, fine-tuned models, service tiers); they beat the genai-prices catalog. */
  prices?: PriceOverride[] | undefined;
  /**
   * A newer price catalog than the installed `@pydantic/genai-prices` carries, loaded once at start
   * (opt-in): `file` is a genai-prices `data.json` on disk; `url` downloads one (e.g. genai-prices'
   * `REMOTE_DATA_JSON_URL`). A bad file fails the start; a failed download is warned about and the
   * bundled catalog is used. Each row stores the catalog version that priced it.
   */
  catalog?: { file?: string; url?: string } | undefined;
  /**
   * Answer HTTP 402 with a JSON body (limit, spent, reserved, estimate, resets at) when a
   * `KostrackBudgetExceededError` escapes a handler. Default true; `false` leaves it to your filters.
   */
  budgetErrorFilter?: boolean | undefined;
  /** The admin REST API and dashboard under `/<path>` (default `kostrack`); off unless `enabled`, guarded by `apiKey` or `guard`. */
  admin?: AdminOptions | undefined;
}
