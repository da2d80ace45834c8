import { CATALOG_CORRECTIONS } from '../pricing/catalog.corrections.js';
import { FEE_BUCKETS, PRICE_BUCKETS } from '../pricing/price-table.js';

/**
 * `pricing_flags` holds two kinds of notes in one list: first what the provider's usage showed
 * (a tier the response named, tools billed outside tokens, a usage shape that could not be split),
 * then what the PriceBook said about the price it used (a bucket billed at another bucket's rate,
 * a fee with no price, a tier with no published price). A re-price replaces the second kind only:
 * the usage did not change, the price did. Rows do not say where one kind ends, so the PriceBook's
 * notes are recognised by their wording, which lib/pricing produces from a closed set of forms;
 * test/reprice/reprice-flags.spec.ts makes the PriceBook produce each form and checks it is
 * recognised here, and that the providers' usage notes are not. Anything else (a note of the
 * providers, or one a host passed to `recordCall`) is kept as it was.
 */
const BUCKET = `(?:${[...PRICE_BUCKETS].join('|')})`;
const FEE = `(?:${[...FEE_BUCKETS].join('|')})`;
const PRICE_FLAG_FORMS: readonly RegExp[] = [
  // compiled-price.ts rateSet(): a bucket with no rate of its own.
  new RegExp(`^(${BUCKET}) billed at the \\w+ rate \\(no \\1 price\\)$`),
  new RegExp(`^${BUCKET} not billed \\(no price\\)$`),
  // compiled-price.ts flagsOf(): fees seen with no price.
  new RegExp(`^\\d+(?:\\.\\d+)? ${FEE} not billed \\(no price\\)$`),
  // compiled-price.ts countable(): counts that are not counts.
  new RegExp(`^(?:${BUCKET}|${FEE}) is .+, not a count; not billed$`),
  /^token breakdown is not an object; nothing billed$/,
  // price-book.ts: a tier with no price, a tier price without long context.
  /^service tier "[^"]*" has no (?:price of your own; billed at your standard price|known price; billed at the standard rate)$/,
  /^long context \(over \d+ input tokens\) has no published .* price; billed at the flat tier rate$/,
  // price-book.ts searchFee(): two search tools offered, billed differently.
  /^webSearches: web_search and web_search_preview both offered, and \S+ bills them differently; priced at the web_search rate$/,
];
/** Fee notes of the catalog corrections (a price known to be an upper bound, say). */
const FEE_NOTES = new Set(CATALOG_CORRECTIONS.flatMap((c) => (c.feeNote ? [c.feeNote.note] : [])));

/** Whether `flag` is one the PriceBook produces (and so belongs to the price, not to the usage). */
export function isPriceFlag(flag: string): boolean {
  return FEE_NOTES.has(flag) || PRICE_FLAG_FORMS.some((form) => form.test(flag));
}

/**
 * The row's flags after a re-price: its own usage notes as they were, then the new price's flags
 * (the order the provider path writes them in); null when there are none.
 */
export function repricedFlags(stored: unknown, priceFlags: readonly string[] | null): string[] | null {
  const kept = Array.isArray(stored) ? stored.filter((f): f is string => typeof f === 'string' && !isPriceFlag(f)) : [];
  const all = priceFlags && priceFlags.length > 0 ? [...kept, ...priceFlags] : kept;
  return all.length > 0 ? all : null;
}
