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
// The one upward import: `admin` is a KostrackModule option, so the module mounts the admin routes
// (loaded only when enabled: its optional peers are never required otherwise).
import { withAdmin } from '../admin/admin.loader.js';
import type { AdminOptions } from '../admin/admin.options.js';

/**
 * `forRootAsync`: the factory resolves the options; what Nest must know when the module is
 * declared sits beside it (like `@nestjs/typeorm` keeps `name` outside its factory): `admin`
 * (routes; its `apiKey` may still come from the factory), `clients` (provider tokens; each
 * factory has its own `inject`) and `clientImports`.
 */
export type KostrackModuleAsyncOptions = Omit<typeof KOSTRACK_ASYNC_OPTIONS_TYPE, 'useFactory'> & {
  useFactory?: ((...args: any[]) => KostrackFactoryOptions | Promise<KostrackFactoryOptions>) | undefined;
  admin?: AdminOptions | undefined;
  clients?: KostrackModuleOptions['clients'] | undefined;
  clientImports?: KostrackModuleOptions['clientImports'] | undefined;
};

/** What a `forRootAsync` factory returns: every option but those declared beside it. */
export type KostrackFactoryOptions = Omit<KostrackModuleOptions, 'clients' | 'clientImports'>;

/**
 * The builder's class, its statics hidden from the type checker: our forRoot may return a promise
 * (the lazily loaded admin API), which TypeScript would not let an override of its forRoot do.
 * At run time the builder's statics are still there and used through `.call(this, …)`.
 */
const ConfigurableBase = KostrackConfigurableModule as new () => object;

/**
 * Tracks the cost of every LLM workflow run. Import once in the root module:
 * `KostrackModule.forRoot({ tags: { project: 'openmanagr' } })`.
 */
@Module({
  providers: [TraceInterceptor, ...storageProviders, priceBookProvider],
  exports: [TraceInterceptor, ...storageProviders, priceBookProvider],
})
export class KostrackModule extends ConfigurableBase implements OnModuleInit {
  constructor(@Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions) {
    super();
  }

  /** A module definition, or with `admin.enabled` a promise of one (Nest awaits `imports`). */
  static forRoot(options: typeof KOSTRACK_OPTIONS_TYPE = {}): DynamicModule | Promise<DynamicModule> {
    validateOptions(options);
    return withAdmin(withClients(withInterceptor(KostrackConfigurableModule.forRoot.call(this, options)), options), options.admin);
  }

  static forRootAsync(options: KostrackModuleAsyncOptions): DynamicModule | Promise<DynamicModule> {
    const { admin, clients, clientImports, ...rest } = options;
    validateClientOptions({ clients });
    const useFactory = rest.useFactory;
    // Clients the factory returns would type-check in JavaScript and then never exist as providers.
    if (useFactory)
      rest.useFactory = async (...deps: unknown[]) => {
        const resolved = await useFactory(...deps);
        for (const key of ['clients', 'clientImports'] as const)
          if ((resolved as KostrackModuleOptions | undefined)?.[key] !== undefined)
            throw new KostrackConfigError(`KostrackModule.forRootAsync: declare \`${key}\` beside useFactory, not in what it returns (provider tokens must be known when the module is declared)`);
        // Routes exist before the factory runs: only the admin key may come from it.
        const admin = (resolved as KostrackModuleOptions | undefined)?.admin;
        for (const key of ['enabled', 'path', 'guard'] as const)
          if (admin?.[key] !== undefined)
            throw new KostrackConfigError(`KostrackModule.forRootAsync: declare \`admin.${key}\` beside useFactory (\`admin: { ${key}: … }\`); the factory may only give admin.apiKey`);
        return resolved;
      };
    const definition = withClients(withInterceptor(KostrackConfigurableModule.forRootAsync.call(this, rest as typeof KOSTRACK_ASYNC_OPTIONS_TYPE)), { clients, clientImports });
    return withAdmin(definition, admin, true);
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
function withClients(definition: DynamicModule, options: Pick<KostrackModuleOptions, 'clients' | 'clientImports'>): DynamicModule {
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
