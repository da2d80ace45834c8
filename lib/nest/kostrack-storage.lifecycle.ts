import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import type { PriceBook } from '../pricing/price-book.js';
import { attachStorage, type StorageAttachment } from '../storage/storage.attachment.js';
import type { BudgetLedger } from '../storage/budget.ledger.js';
import { TelemetryStorage, type StorageHealth } from '../storage/telemetry.storage.js';
import { resolveStorageOptions } from '../storage/storage.options.js';
import { budgetAlertHandler, findEventEmitter } from './budget-alert.emitter.js';
import { KOSTRACK_OPTIONS } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';
import { KOSTRACK_PRICE_BOOK } from './llm-clients.providers.js';

/**
 * Opens storage when the module starts (migrations in Kostrack's own table, then the writer as a
 * sink of the core) and closes it once the app has stopped serving, within
 * `writer.shutdownDeadlineMs`; what does not make it is spooled and replayed at the next start.
 * Call `app.enableShutdownHooks()` so SIGTERM takes this path too.
 *
 * Why storage closes in onApplicationShutdown: Nest shuts down in the order onModuleDestroy,
 * beforeApplicationShutdown, dispose() (the HTTP server stops accepting and waits for the
 * requests it is serving), onApplicationShutdown. Requests accepted before dispose() record until
 * they finish, so storage closed any earlier would get their last rows after close. Closed after
 * dispose(), it gets after close only what the host itself keeps running, and spools that.
 */
@Injectable()
export class KostrackStorageLifecycle implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Kostrack');
  private storage: TelemetryStorage | null = null;
  private attachment: StorageAttachment | null = null;
  /** The host's DataSource when storage writes through it (`database: { dataSource }`). */
  private hostDataSource: DataSource | null = null;
  private shutdownDeadlineMs = 0;

  constructor(
    @Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(KOSTRACK_PRICE_BOOK) private readonly priceBook: PriceBook,
  ) {}

  /** Durable budgets on the open storage; null when storage is off. */
  get budgets(): BudgetLedger | null {
    return this.attachment?.budgets ?? null;
  }

  /** The open storage, or null when storage is off (`database: false` or `enabled: false`). */
  get current(): TelemetryStorage | null {
    return this.storage;
  }

  async onModuleInit(): Promise<void> {
    if (this.options.enabled === false || this.options.database === false) {
      this.logger.log(`Kostrack storage: off (${this.options.enabled === false ? 'enabled: false' : 'database: false'}), nothing is stored`);
      return;
    }
    const resolved = resolveStorageOptions(this.options); // bad options fail the boot before anything opens
    this.storage = await TelemetryStorage.open(this.options, {
      resolveDataSource: (name) => this.findDataSource(name),
      warn: (message) => this.logger.warn(message),
      info: (message) => this.logger.log(message),
    });
    if (!this.storage) return;
    this.shutdownDeadlineMs = resolved.writer.shutdownDeadlineMs;
    const db = resolved.database;
    if (db.kind === 'dataSource') this.hostDataSource = (typeof db.dataSource === 'string' ? this.findDataSource(db.dataSource) : db.dataSource) ?? null;
    // Budget alerts go to onBudgetAlert and, when the app has EventEmitterModule, to `kostrack.budget.alert`.
    const emitter = await findEventEmitter(this.moduleRef);
    // The module's PriceBook also prices from llm_prices, loaded before the app serves.
    const storage = this.storage;
    this.attachment = await attachStorage(storage, this.priceBook, (message) => this.logger.warn(message), {
      budgets: resolved.budgets,
      onBudgetAlert: budgetAlertHandler(this.options.onBudgetAlert, emitter),
      budgetOptions: this.options.budgetOptions,
    }).catch(async (e: unknown) => {
      // The app does not start (a declared budget the database refuses); storage must not keep it alive.
      this.storage = null;
      await storage.close().catch(() => undefined);
      throw e;
    });
  }

  /** Re-reads llm_prices now; resolves once the module's PriceBook applies them. */
  async refreshPrices(): Promise<void> {
    await this.attachment?.refreshPrices();
  }

  /**
   * Only with a host DataSource: @nestjs/typeorm destroys it in its own onApplicationShutdown, and
   * as both modules are global, whose hook runs first depends on the order of the root imports.
   * So what is queued is written now, while the connection surely exists; close() then has only
   * the rows of the last requests. Our own pool needs no such step, and under steady traffic a
   * drain lasts its whole deadline, which would only delay shutdown.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const storage = this.storage;
    if (!storage || !this.hostDataSource || this.hostDataSource.isInitialized === false) return;
    // A database known to be down would only burn the deadline; close() spools without waiting.
    if (storage.writer.health().databaseReachable === false) return;
    // Never fails shutdown: on timeout or error the rows stay queued for close().
    await storage.writer.drain(this.shutdownDeadlineMs).catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    const storage = this.storage;
    if (!storage) return;
    // A host DataSource its owner already destroyed takes no more writes, and one it destroyed
    // under a write in flight may never answer it: spool at once instead of waiting out the deadline.
    const hostGone = this.hostDataSource?.isInitialized === false;
    try {
      await storage.close(hostGone ? 0 : undefined);
    } finally {
      // The closed writer stays the sink and spools what the host still records after this.
      this.attachment?.detach();
      this.attachment = null;
    }
  }

  health(): StorageHealth {
    return this.storage ? this.storage.health() : { enabled: false };
  }

  /** The naming of @nestjs/typeorm: the `DataSource` class for "default", `<name>DataSource` otherwise. */
  private findDataSource(name: string): DataSource | undefined {
    const tokens: unknown[] = name === 'default' ? [DataSource, 'defaultDataSource'] : [`${name}DataSource`, name];
    for (const token of tokens) {
      try {
        const found = this.moduleRef.get(token as string, { strict: false });
        if (found instanceof DataSource || typeof (found as DataSource)?.query === 'function') return found as DataSource;
      } catch {
        // Not registered under this token; try the next.
      }
    }
    return undefined;
  }
}
