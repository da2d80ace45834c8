import type { CatalogData } from '../pricing/catalog.data.js';
import { PriceBook } from '../pricing/price-book.js';
import type { PriceOverride } from '../pricing/price-table.js';
import { SqlStoredPriceSource } from './stored-prices.source.js';
import type { SqlRunner } from './sql.pool.js';

export interface RepricingPriceBookOptions {
  /** The app's `prices` option: without it, calls its overrides priced would be re-priced at the catalog's prices. */
  prices?: readonly PriceOverride[] | undefined;
  /** The app's catalog, when it loads a newer one than the bundled catalog. */
  catalogData?: CatalogData | undefined;
}

/**
 * A PriceBook for re-pricing outside an app (scripts, the CLI): the catalog, `prices`, and
 * `llm_prices` as stored now. Unlike the app's book, which keeps its last prices when the table
 * cannot be read, this one throws: re-pricing without the stored corrections would undo them.
 */
export async function repricingPriceBook(db: SqlRunner, schema: string, options: RepricingPriceBookOptions = {}): Promise<PriceBook> {
  let failure: string | null = null;
  const source = new SqlStoredPriceSource(db, schema, { refreshMs: 0, warn: (message) => (failure ??= message) });
  const book = new PriceBook({ overrides: options.prices, catalogData: options.catalogData });
  await book.refresh(source);
  if (failure !== null) throw new Error(`reprice: ${failure}`);
  return book;
}
