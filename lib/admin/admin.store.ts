import type { PriceBook } from '../pricing/price-book.js';
import type { PriceOverride } from '../pricing/price-table.js';
import type { SqlPool } from '../storage/sql.pool.js';
import type { StorageHealth } from '../storage/telemetry.storage.js';

/** What the admin API reads: the open storage (null while off), health, and in-process pricing facts. */
export interface AdminStore {
  storage(): { pool: SqlPool; schema: string } | null;
  health(): StorageHealth;
  /** The module's `prices` option. */
  priceOverrides(): readonly PriceOverride[];
  /** Unpriced models this process has seen (used when storage is off). */
  unpricedInProcess(): { provider: string; model: string; calls: number; firstSeen: Date }[];
  /** The module's PriceBook, to put a price on aggregated token counts (cache savings); absent: no savings computed. */
  priceBook?(): PriceBook;
  /** Makes the module's PriceBook re-read llm_prices (after a price was added). */
  pricesChanged?(): Promise<void>;
  /** Makes this process's budget ledger re-read llm_budgets (after a budget was created, changed or deleted). */
  budgetsChanged?(): Promise<void>;
}

export const KOSTRACK_ADMIN_STORE = Symbol.for('kostrack:admin-store');
