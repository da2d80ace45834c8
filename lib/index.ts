// The one public entry point. Sub-folder barrels are internal; only what is listed here is API.

// Tracing core (framework-free)
export { trace, span, currentTrace, type TraceOptions, type SpanOptions } from './core/trace.js';
export type { TraceContext, CostBreakdownItem } from './core/trace-context.js';
export { recordCall } from './core/record-call.js';
export { KostrackBudgetExceededError, type BudgetInput, type BudgetRefusal } from './core/run-budget.js';
export type { CallInput, CallRecord, SpanRecord, TelemetrySink, TokenBreakdown, CallStatus, SpanStatus } from './core/call-record.js';
export { setTraceIdSource, type RuntimeOptions, type TraceIdSource } from './core/runtime.js';
export { configureKostrack } from './core/configure.js';
export { addSink } from './core/sinks.js';
export { drainRecords } from './core/deferred-records.js';
export { MemorySink } from './core/memory.sink.js';
export { usd, usdToString, usdToNumber, USD_SCALE, type Usd } from './core/money.js';
export { KostrackConfigError } from './core/errors.js';
export { TAG_LIMITS, type Tags, type TagInput } from './core/tags.js';
export { parseTraceparent, remoteParentFrom, traceHeaders, type RemoteParent } from './core/traceparent.js';

// NestJS
export * from './nest/index.js';

// Pricing and tracked clients
export { PriceBook, type PricedCall, type PriceCallOptions, type PriceBookOptions } from './pricing/price-book.js';
export { InMemoryStoredPriceSource, type StoredPrice, type StoredPriceSource } from './pricing/stored-price.source.js';
export type { PriceOverride, ModelPriceSpec, PerMtok, PriceBucket, FeeBucket } from './pricing/price-table.js';
export { loadCatalogFile, loadCatalogUrl, type CatalogData } from './pricing/catalog.data.js';
export { CATALOG_CORRECTIONS, CORRECTIONS_VERSION, type CatalogCorrection } from './pricing/catalog.corrections.js';
export { SERVICE_TIER_PRICES, type ServiceTierPrice } from './pricing/service-tier.prices.js';
export { TOOL_FEE_PRICES, type ToolFeePrice, type WebSearchTool } from './pricing/tool-fee.prices.js';
export { PROVIDERS } from './pricing/provider-catalog.js';
export { defaultPriceBook, setDefaultPriceBook } from './pricing/default-price-book.js';
export * from './providers/index.js';

// Storage
export { startKostrack, type StartKostrackOptions, type KostrackHandle } from './storage/start-kostrack.js';
export { TelemetryStorage, type StorageHealth } from './storage/telemetry.storage.js';
export { KostrackFlushTimeoutError, type WriterHealth } from './storage/batch.writer.js';
export type { StorageOptions, DatabaseOption, PostgresConnectionOptions } from './storage/storage.options.js';
export type { BudgetOptions, BudgetLeaseOptions } from './storage/budget.options.js';
export type { BudgetDeclaration } from './storage/budget.declaration.js';
export type { BudgetAlert } from './storage/budget.ledger.js';
export { WRITER_DEFAULTS, type WriterOptions } from './storage/writer.options.js';
export { startEmbeddedDatabase, DEFAULT_EMBEDDED_DATA_DIR, type EmbeddedDatabase, type EmbeddedDatabaseOptions } from './storage/embedded.database.js';
export { kostrackMigrations } from './storage/migrations/typeorm.migrations.js';
export { kostrackEntities, LlmCallEntity, LlmSpanEntity, LlmTraceEntity, LlmPriceEntity } from './storage/entities/index.js';
export { reprice, repricingPriceBook, type RepriceTarget, type RepriceOptions, type RepriceReport, type RepriceProgress, type RepricingPriceBookOptions } from './storage/reprice.job.js';

// Reconciliation with what the providers billed
export { importProviderCosts, type ProviderCostsTarget } from './reconcile/provider-costs.import.js';
export { reconcile } from './reconcile/reconcile.report.js';
export { KostrackProviderCostsError, type ProviderCostsErrorKind } from './reconcile/provider-costs.error.js';
export {
  COST_PROVIDERS,
  type CostProvider,
  type ProviderAdminSource,
  type ImportProviderCostsOptions,
  type ImportProviderCostsReport,
  type ReconcileOptions,
  type ReconcileReport,
  type ReconcileTotals,
  type ReconcileProvider,
  type ReconcileGap,
} from './reconcile/reconcile.options.js';

// Admin API and cross-service propagation (OpenTelemetry and LangChain have their own entry points)
export * from './admin/index.js';
export * from './integrations/index.js';
