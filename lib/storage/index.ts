export { TelemetryStorage, type StorageHealth, type OpenStorageContext } from './telemetry.storage.js';
export { BatchWriter, type WriterHealth } from './batch.writer.js';
export { resolveStorageOptions, type StorageOptions, type DatabaseOption, type PostgresConnectionOptions } from './storage.options.js';
export { resolveWriterOptions, WRITER_DEFAULTS, type WriterOptions } from './writer.options.js';
export { startEmbeddedDatabase, DEFAULT_EMBEDDED_DATA_DIR, type EmbeddedDatabase, type EmbeddedDatabaseOptions } from './embedded.database.js';
export { runMigrations, MIGRATIONS_TABLE } from './migrations/migration.runner.js';
export { kostrackMigrations } from './migrations/typeorm.migrations.js';
export { kostrackEntities, LlmCallEntity, LlmSpanEntity, LlmTraceEntity, LlmPriceEntity } from './entities/index.js';
export type { SqlPool, SqlRunner } from './sql.pool.js';
