import { addStorageSink, retireSink } from '../core/sinks.js';
import type { PriceBook } from '../pricing/price-book.js';
import { SqlStoredPriceSource } from './stored-prices.source.js';
import type { TelemetryStorage } from './telemetry.storage.js';
import { setBudgetGate } from '../core/budget-gate.js';
import type { CheckedBudget } from './budget.declaration.js';
import { BudgetLedger } from './budget.ledger.js';
import { resolveLease } from './budget.options.js';
import type { StorageOptions } from './storage.options.js';

/** What {@link attachStorage} connected; `detach()` undoes it (before the storage closes). */
export interface StorageAttachment {
  /** Durable budgets on this storage (the gate tracked calls ask). */
  readonly budgets: BudgetLedger;
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
export async function attachStorage(
  storage: TelemetryStorage,
  priceBook: PriceBook,
  warn: (message: string) => void,
  options: Pick<StorageOptions, 'onBudgetAlert' | 'budgetOptions'> & { budgets?: CheckedBudget[] | undefined } = {},
): Promise<StorageAttachment> {
  addStorageSink(storage.writer);
  const prices = new SqlStoredPriceSource(storage.pool, storage.schema, { warn });
  const unsubscribe = prices.subscribe(() => priceBook.refresh(prices));
  await prices.refresh();
  // Durable budgets: declared ones written, the list loaded, the gate installed before any call.
  const budgets = new BudgetLedger(storage.pool, storage.schema, { ...options.budgetOptions, lease: resolveLease(options.budgetOptions?.lease), onAlert: options.onBudgetAlert, warn });
  try {
    await budgets.start(options.budgets ?? []);
  } catch (e) {
    // A declared budget the database refuses: nothing stays wired to storage the caller will close.
    unsubscribe();
    budgets.close();
    retireSink(storage.writer);
    throw e;
  }
  // A lease learns from the writer which calls landed, and gives back what it holds at shutdown.
  budgets.watch(storage.writer);
  const unhook = storage.beforeDisconnect(() => budgets.returnLeases());
  const removeGate = setBudgetGate(budgets);
  return {
    budgets,
    refreshPrices: () => prices.refresh(),
    detach() {
      unsubscribe();
      unhook();
      removeGate();
      budgets.close();
      retireSink(storage.writer);
    },
  };
}
