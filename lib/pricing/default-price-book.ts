import { PriceBook } from './price-book.js';

const KEY = Symbol.for('kostrack.priceBook.v1');
type Holder = { [KEY]?: PriceBook };

/**
 * The process-wide PriceBook used by wrapped clients that were not given one. Lives on
 * `globalThis` (like the core runtime) so two loaded copies of the package share one cache and
 * one list of unpriced models. The Nest module replaces it with one holding the options' overrides.
 */
export function defaultPriceBook(): PriceBook {
  return ((globalThis as Holder)[KEY] ??= new PriceBook());
}

export function setDefaultPriceBook(book: PriceBook): void {
  (globalThis as Holder)[KEY] = book;
}
