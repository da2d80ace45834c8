export { PriceBook, type PricedCall, type PriceCallOptions, type PriceBookOptions } from './price-book.js';
export { InMemoryStoredPriceSource, type StoredPrice, type StoredPriceSource } from './stored-price.source.js';
export type { PriceOverride, ModelPriceSpec, PerMtok, PriceBucket } from './price-table.js';
export { PROVIDERS, assertProviderName, catalogProviderOf } from './provider-catalog.js';
export { defaultPriceBook, setDefaultPriceBook } from './default-price-book.js';
