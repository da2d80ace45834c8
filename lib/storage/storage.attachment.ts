import { addStorageSink, retireSink } from '../core/sinks.js';
import type { PriceBook } from '../pricing/price-book.js';
import { SqlStoredPriceSource } from './stored-prices.source.js';
import type { TelemetryStorage } from './telemetry.storage.js';

/** What {@link attachStorage} connected; `detach()` undoes it (before the storage closes). */
export interface StorageAttachment {
  /** Re-reads `llm_prices` now; resolves once the PriceBook applies the rows. */
  refreshPrices(): Promise<void>;
  /**
   * Stops re-reading prices and retires the writer: it stays the sink (closed, it spools every
   * row) until another storage attaches, so rows recorded after shutdown are kept, not dropped.
   */
  detach(): void;
}

/**
 * Makes open storage the sink of every traced call and `llm_prices` a price source of
 * `priceBook` (loaded before this resolves, then re-read periodically). The one wiring step
 * shared by `KostrackModule` and `startKostrack()`; loading prices never throws.
 */
export async function attachStorage(storage: TelemetryStorage, priceBook: PriceBook, warn: (message: string) => void): Promise<StorageAttachment> {
  addStorageSink(storage.writer);
  const prices = new SqlStoredPriceSource(storage.pool, storage.schema, { warn });
  const unsubscribe = prices.subscribe(() => priceBook.refresh(prices));
  await prices.refresh();
  return {
    refreshPrices: () => prices.refresh(),
    detach() {
      unsubscribe();
      retireSink(storage.writer);
    },
  };
}
