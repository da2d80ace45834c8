import type { DynamicModule, Provider } from '@nestjs/common';
import type { KostrackModuleOptions } from '../nest/kostrack.options.js';
import { KOSTRACK_OPTIONS } from '../nest/kostrack.module-definition.js';
import { KostrackStorageLifecycle } from '../nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../nest/llm-clients.providers.js';
import type { PriceBook } from '../pricing/price-book.js';
import { createAdminControllers } from './admin.controller.js';
import { KostrackAdminGuard } from './admin.guard.js';
import { KOSTRACK_ADMIN_OPTIONS, resolveAdminOptions, type AdminOptions, type ResolvedAdminOptions } from './admin.options.js';
import { AdminBudgetsService } from './admin.budgets.service.js';
import { AdminInsightsService } from './admin.insights.service.js';
import { AdminPricesService } from './admin.prices.service.js';
import { AdminQueryService } from './admin.query.service.js';
import { AdminReconcileService } from './admin.reconcile.service.js';
import { AdminRepriceService } from './admin.reprice.service.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { dashboardSlashModule } from './dashboard-slash.middleware.js';
import { DashboardController } from './dashboard.controller.js';
import { adminSecurityHeadersModule } from './security-headers.middleware.js';

/**
 * The admin API's routes and services, added to KostrackModule's definition. Loaded only when
 * `admin.enabled` (see admin.loader.ts). Routes must be known when the module is declared, so
 * `path` and `guard` come from `declared` (for `forRootAsync`, its static `admin`); the API key is
 * read once options resolve, so it may come from an async config factory.
 */
export function withAdminParts(definition: DynamicModule, admin: AdminOptions | undefined, declared: ResolvedAdminOptions): DynamicModule {
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
        priceBook: () => book,
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
    AdminRepriceService,
    AdminReconcileService,
    AdminInsightsService,
  ];
  const controllers = createAdminControllers(declared.path, declared.guard ?? KostrackAdminGuard);
  const dashboard = controllers.find((c) => c.prototype instanceof DashboardController)!;
  const api = controllers.filter((c) => c !== dashboard);
  return {
    ...definition,
    imports: [...(definition.imports ?? []), adminSecurityHeadersModule(controllers, api), dashboardSlashModule(dashboard, declared.path)],
    controllers: [...(definition.controllers ?? []), ...controllers],
    providers: [...(definition.providers ?? []), ...providers],
  };
}
