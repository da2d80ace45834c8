import type { DynamicModule, Provider } from '@nestjs/common';
import type { KostrackModuleOptions } from '../nest/kostrack.options.js';
import { KOSTRACK_OPTIONS } from '../nest/kostrack.module-definition.js';
import { KostrackStorageLifecycle } from '../nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../nest/llm-clients.providers.js';
import type { PriceBook } from '../pricing/price-book.js';
import { createAdminControllers } from './admin.controller.js';
import { KostrackAdminGuard } from './admin.guard.js';
import { KOSTRACK_ADMIN_OPTIONS, resolveAdminOptions, type AdminOptions } from './admin.options.js';
import { AdminBudgetsService } from './admin.budgets.service.js';
import { AdminPricesService } from './admin.prices.service.js';
import { AdminQueryService } from './admin.query.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { adminSecurityHeadersModule } from './security-headers.middleware.js';

/**
 * Adds the admin API to KostrackModule's definition when `admin.enabled`. Routes must be known
 * when the module is declared, so `enabled`, `path` and `guard` are read here (for
 * `forRootAsync`, from its static `admin`); the API key is read once options resolve, so it may
 * come from an async config factory.
 */
export function withAdmin(definition: DynamicModule, admin: AdminOptions | undefined, keyMayComeLater = false): DynamicModule {
  const declared = resolveAdminOptions(admin, !keyMayComeLater);
  if (!declared.enabled) return definition;
  const providers: Provider[] = [
    {
      provide: KOSTRACK_ADMIN_OPTIONS,
      useFactory: (options: KostrackModuleOptions) => resolveAdminOptions({ ...admin, ...(options.admin ?? {}), enabled: true }),
      inject: [KOSTRACK_OPTIONS],
    },
    {
      provide: KOSTRACK_ADMIN_STORE,
      useFactory: (lifecycle: KostrackStorageLifecycle, options: KostrackModuleOptions, book: PriceBook): AdminStore => ({
        storage: () => {
          const s = lifecycle.current;
          return s ? { pool: s.pool, schema: s.schema } : null;
        },
        health: () => lifecycle.health(),
        priceOverrides: () => options.prices ?? [],
        unpricedInProcess: () => book.unpricedModels(),
        pricesChanged: () => lifecycle.refreshPrices(),
        budgetsChanged: async () => {
          await lifecycle.budgets?.reload();
        },
      }),
      inject: [KostrackStorageLifecycle, KOSTRACK_OPTIONS, KOSTRACK_PRICE_BOOK],
    },
    AdminQueryService,
    AdminPricesService,
    AdminBudgetsService,
  ];
  const controllers = createAdminControllers(declared.path, declared.guard ?? KostrackAdminGuard);
  return {
    ...definition,
    imports: [...(definition.imports ?? []), adminSecurityHeadersModule(controllers)],
    controllers: [...(definition.controllers ?? []), ...controllers],
    providers: [...(definition.providers ?? []), ...providers],
  };
}
