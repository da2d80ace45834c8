export { PriceBook, type PricedCall, type PriceCallOptions, type PriceBookOptions } from './price-book.js';
export { InMemoryStoredPriceSource, type StoredPrice, type StoredPriceSource } from './stored-price.source.js';
export type { PriceOverride, ModelPriceSpec, PerMtok, PriceBucket, FeeBucket } from './price-table.js';
export { PROVIDERS, assertProviderName, catalogProviderOf } from './provider-catalog.js';
export { defaultPriceBook, setDefaultPriceBook } from './default-price-book.js';
export { loadCatalogFile, loadCatalogUrl, parseCatalog, bundledCatalog, type CatalogData } from './catalog.data.js';
export { CATALOG_CORRECTIONS, CORRECTIONS_VERSION, type CatalogCorrection } from './catalog.corrections.js';
export { SERVICE_TIER_PRICES, type ServiceTierPrice } from './service-tier.prices.js';
export { TOOL_FEE_PRICES, type ToolFeePrice, type WebSearchTool } from './tool-fee.prices.js';
