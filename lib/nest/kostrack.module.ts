import { type DynamicModule, Inject, Module, type NestInterceptor, type OnModuleInit, type Provider } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { configureKostrack } from '../core/runtime.js';
import { normalizeTags } from '../core/tags.js';
import { KOSTRACK_ASYNC_OPTIONS_TYPE, KOSTRACK_OPTIONS, KOSTRACK_OPTIONS_TYPE, KostrackConfigurableModule } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';
import { TraceInterceptor } from './trace.interceptor.js';
import { storageProviders } from './storage.providers.js';
import { resolveStorageOptions } from '../storage/storage.options.js';

/**
 * Tracks the cost of every LLM workflow run. Import once in the root module:
 * `KostrackModule.forRoot({ tags: { project: 'openmanagr' } })`.
 */
@Module({ providers: [TraceInterceptor, ...storageProviders], exports: [TraceInterceptor, ...storageProviders] })
export class KostrackModule extends KostrackConfigurableModule implements OnModuleInit {
  constructor(@Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions) {
    super();
  }

  static forRoot(options: typeof KOSTRACK_OPTIONS_TYPE = {}) {
    validateOptions(options);
    return withInterceptor(super.forRoot(options));
  }

  static forRootAsync(options: typeof KOSTRACK_ASYNC_OPTIONS_TYPE) {
    return withInterceptor(super.forRootAsync(options));
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
  return { ...definition, providers: [...(definition.providers ?? []), global] };
}

function validateOptions(options: KostrackModuleOptions): void {
  normalizeTags(options.tags);
  if (options.database !== false) resolveStorageOptions(options);
  if (options.serviceId !== undefined && (typeof options.serviceId !== 'string' || options.serviceId === ''))
    throw new KostrackConfigError('KostrackModule: serviceId must be a non-empty string');
  if (options.requestTags !== undefined && typeof options.requestTags !== 'function')
    throw new KostrackConfigError('KostrackModule: requestTags must be a function of the ExecutionContext');
}
