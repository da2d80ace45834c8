import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import type { PriceBook } from '../pricing/price-book.js';
import { attachStorage, type StorageAttachment } from '../storage/storage.attachment.js';
import { TelemetryStorage, type StorageHealth } from '../storage/telemetry.storage.js';
import { resolveStorageOptions } from '../storage/storage.options.js';
import { KOSTRACK_OPTIONS } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';
import { KOSTRACK_PRICE_BOOK } from './llm-clients.providers.js';

/**
 * Opens storage when the module starts (migrations in Kostrack's own table, then the writer as a
 * sink of the core) and flushes it on shutdown within `writer.shutdownDeadlineMs`; what does not
 * make it is spooled and replayed at the next start. Call `app.enableShutdownHooks()` so SIGTERM
 * takes this path too.
 */
@Injectable()
export class KostrackStorageLifecycle implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Kostrack');
  private storage: TelemetryStorage | null = null;
  private attachment: StorageAttachment | null = null;

  constructor(
    @Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(KOSTRACK_PRICE_BOOK) private readonly priceBook: PriceBook,
  ) {}

  /** The open storage, or null when storage is off (`database: false` or `enabled: false`). */
  get current(): TelemetryStorage | null {
    return this.storage;
  }

  async onModuleInit(): Promise<void> {
    if (this.options.enabled === false || this.options.database === false) return;
    resolveStorageOptions(this.options); // bad options fail the boot before anything opens
    this.storage = await TelemetryStorage.open(this.options, {
      resolveDataSource: (name) => this.findDataSource(name),
      warn: (message) => this.logger.warn(message),
    });
    if (!this.storage) return;
    // The module's PriceBook also prices from llm_prices, loaded before the app serves.
    this.attachment = await attachStorage(this.storage, this.priceBook, (message) => this.logger.warn(message));
  }

  /** Re-reads llm_prices now; resolves once the module's PriceBook applies them. */
  async refreshPrices(): Promise<void> {
    await this.attachment?.refreshPrices();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const storage = this.storage;
    if (!storage) return;
    // Rows recorded while closing still reach the writer, which spools them once closed.
    try {
      await storage.close();
    } finally {
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
