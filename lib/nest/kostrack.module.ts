import { type DynamicModule, Inject, Module, type NestInterceptor, type OnModuleInit, type Provider } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { APP_FILTER, APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { BudgetExceededFilter } from './budget-exceeded.filter.js';
import { configureKostrack } from '../core/configure.js';
import { assertServiceId } from '../core/runtime.js';
import { normalizeTags } from '../core/tags.js';
import { KOSTRACK_ASYNC_OPTIONS_TYPE, KOSTRACK_OPTIONS, KOSTRACK_OPTIONS_TYPE, KostrackConfigurableModule } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';
import { TraceInterceptor } from './trace.interceptor.js';
import { storageProviders } from './storage.providers.js';
import { createLlmClientProviders, priceBookProvider, validateClientOptions } from './llm-clients.providers.js';
import { resolveStorageOptions } from '../storage/storage.options.js';
// The one upward import: `admin` is a KostrackModule option, so the module mounts the admin routes.
import { withAdmin } from '../admin/admin.module-parts.js';
import type { AdminOptions } from '../admin/admin.options.js';

/**
 * Tracks the cost of every LLM workflow run. Import once in the root module:
 * `KostrackModule.forRoot({ tags: { project: 'openmanagr' } })`.
 */
@Module({
  providers: [TraceInterceptor, ...storageProviders, priceBookProvider],
  exports: [TraceInterceptor, ...storageProviders, priceBookProvider],
})
export class KostrackModule extends KostrackConfigurableModule implements OnModuleInit {
  constructor(@Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions) {
    super();
  }

  static forRoot(options: typeof KOSTRACK_OPTIONS_TYPE = {}) {
    validateOptions(options);
    return withAdmin(withClients(withInterceptor(super.forRoot(options)), options), options.admin);
  }

  /** `admin` (enabled, path, guard) is given here because routes exist before the factory runs; its apiKey may come from the factory. */
  static forRootAsync(options: typeof KOSTRACK_ASYNC_OPTIONS_TYPE & { admin?: AdminOptions }) {
    const { admin, ...rest } = options;
    return withAdmin(withInterceptor(super.forRootAsync(rest)), admin, true);
  }

  onModuleInit(): void {
    const options = this.options;
    validateOptions(options);
    configureKostrack({
      enabled: options.enabled ?? true,
      serviceId: options.serviceId,
      tags: normalizeTags(options.tags),
    });
  }
}

const passThrough: NestInterceptor = { intercept: (_context, next) => next.handle() };

/** Options may come from an async factory, so whether to go global is decided when they resolve. */
function withInterceptor(definition: DynamicModule): DynamicModule {
  const global: Provider = {
    provide: APP_INTERCEPTOR,
    useFactory: (options: KostrackModuleOptions, interceptor: TraceInterceptor) =>
      options.globalInterceptor === false ? passThrough : interceptor,
    inject: [KOSTRACK_OPTIONS, TraceInterceptor],
  };
  // A budget refusal escaping a handler answers 402 (turned off with budgetErrorFilter: false).
  const filter: Provider = {
    provide: APP_FILTER,
    useFactory: (options: KostrackModuleOptions, adapterHost: HttpAdapterHost) => new BudgetExceededFilter(adapterHost, options.budgetErrorFilter !== false),
    inject: [KOSTRACK_OPTIONS, HttpAdapterHost],
  };
  return { ...definition, providers: [...(definition.providers ?? []), global, filter] };
}

/** Named LLM clients become global providers, injectable with `@InjectLlmClient(name)`. */
function withClients(definition: DynamicModule, options: KostrackModuleOptions): DynamicModule {
  const clients = createLlmClientProviders(options.clients);
  if (clients.length === 0) return definition;
  return {
    ...definition,
    imports: [...(definition.imports ?? []), ...(options.clientImports ?? [])],
    providers: [...(definition.providers ?? []), ...clients],
    exports: [...(definition.exports ?? []), ...clients],
  };
}

function validateOptions(options: KostrackModuleOptions): void {
  normalizeTags(options.tags);
  validateClientOptions(options);
  if (options.database !== false) resolveStorageOptions(options);
  if (options.serviceId !== undefined) assertServiceId(options.serviceId, 'KostrackModule');
  if (options.requestTags !== undefined && typeof options.requestTags !== 'function')
    throw new KostrackConfigError('KostrackModule: requestTags must be a function of the ExecutionContext');
}
