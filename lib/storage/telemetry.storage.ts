import type { DataSource } from 'typeorm';
import pg from 'pg';
import { KostrackConfigError } from '../core/errors.js';
import { BatchWriter, type WriterHealth } from './batch.writer.js';
import { describeDatabase } from './database.description.js';
import { DataSourceSqlPool } from './datasource.pool.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.database.js';
import { describeError, isConnectionError } from './error.classifier.js';
import { runMigrations } from './migrations/migration.runner.js';
import { StorageMaintenance } from './storage.maintenance.js';
import { PgSqlPool } from './pg.pool.js';
import type { SqlPool } from './sql.pool.js';
import { resolveStorageOptions, type PostgresConnectionOptions, type StorageOptions } from './storage.options.js';

/** Health of storage as a whole; `enabled: false` when `database: false`. */
export interface StorageHealth extends Partial<WriterHealth> {
  enabled: boolean;
  schema?: string | undefined;
}

export interface OpenStorageContext {
  /** Finds the host's DataSource by name (the Nest layer looks it up in the container). */
  resolveDataSource?: (name: string) => DataSource | undefined;
  warn?: ((message: string) => void) | undefined;
  /** Told once, at start, which database is in use (password masked). */
  info?: ((message: string) => void) | undefined;
}

/**
 * The database, its migrations and the writer, opened and closed together. Framework-free:
 * the Nest layer wraps it in a lifecycle provider; scripts use it directly with `addSink`.
 */
export class TelemetryStorage {
  /** Run by close() after the writer's last flush, while the connections are still open. */
  private readonly disconnecting = new Set<() => Promise<void>>();

  private constructor(
    readonly writer: BatchWriter,
    readonly pool: SqlPool,
    readonly schema: string,
    /** The URL when Kostrack opened the connection itself (embedded or configured by URL). */
    readonly url: string | null,
    private readonly embedded: EmbeddedDatabase | null,
    /** Partitions ahead, and retention; runs every few hours while storage is open. */
    readonly maintenance: StorageMaintenance,
  ) {}

  /**
   * Opens storage and starts the writer. Bad options throw a `KostrackConfigError`. An
   * unreachable database does not: the writer keeps retrying (migrations included) and spools,
   * because an app must boot and serve even while its cost database is away.
   * Returns null for `database: false`.
   */
  static async open(options: StorageOptions = {}, context: OpenStorageContext = {}): Promise<TelemetryStorage | null> {
    const resolved = resolveStorageOptions(options);
    const warn = context.warn ?? ((m: string) => process.emitWarning(m, { code: 'KOSTRACK' }));
    const db = resolved.database;
    if (db.kind === 'off') {
      context.info?.(`Kostrack storage: ${describeDatabase(db, { schema: resolved.schema })}`);
      return null;
    }

    let pool: SqlPool;
    let url: string | null = null;
    let embedded: EmbeddedDatabase | null = null;
    const onIdleError = (e: Error) => warn(`Kostrack lost an idle database connection: ${describeError(e).message}`);
    if (db.kind === 'dataSource') {
      const ds = typeof db.dataSource === 'string' ? context.resolveDataSource?.(db.dataSource) : db.dataSource;
      if (!ds)
        throw new KostrackConfigError(
          `Kostrack storage: no TypeORM DataSource named "${String(db.dataSource)}" was found; register it with TypeOrmModule, or pass a URL or options as \`database\``,
        );
      pool = new DataSourceSqlPool(ds);
    } else {
      if (db.kind === 'embedded') {
        embedded = await startEmbeddedDatabase(db.options);
        url = embedded.url;
      } else if (db.kind === 'url') url = db.url;
      // The embedded engine's socket server mixes up the messages of connections used at once
      // (electric-sql/pglite#1046): one connection, every statement in turn.
      const config = db.kind === 'options' ? poolConfigOf(db.options) : { connectionString: url!, max: db.kind === 'embedded' ? 1 : 4 };
      pool = new PgSqlPool({ connectionTimeoutMillis: 5000, query_timeout: 120_000, ...config }, onIdleError);
    }

    const migrate = resolved.migrationsRun ? () => runMigrations(pool, resolved.schema) : undefined;
    let prepare = migrate;
    // Health knows from the start whether the database answers (terminus must not say up before that).
    let reachableAtStart: boolean;
    try {
      if (migrate) await migrate();
      else await pool.query('SELECT 1');
      prepare = undefined;
      reachableAtStart = true;
    } catch (e) {
      if (migrate && !isConnectionError(e)) {
        await pool.close().catch(() => undefined);
        await embedded?.stop();
        throw e;
      }
      reachableAtStart = false;
      warn(`Kostrack storage: database unreachable at start (${describeError(e).message}); ${migrate ? 'migrations and writes' : 'writes'} will retry`);
    }
    context.info?.(`Kostrack storage: ${describeDatabase(db, { schema: resolved.schema, embeddedUrl: url, dataSource: pool instanceof DataSourceSqlPool ? pool.describe() : undefined })}`);
    const writer = new BatchWriter({ pool, schema: resolved.schema, options: resolved.writer, prepare, warn, reachableAtStart });
    writer.start();
    const maintenance = new StorageMaintenance(pool, resolved.schema, resolved.retention, warn);
    maintenance.start();
    return new TelemetryStorage(writer, pool, resolved.schema, url, embedded, maintenance);
  }

  /**
   * Runs `fn` when storage closes, after the writer's last flush and before the connections
   * close (durable budgets give back their leases then). Returns what removes it.
   */
  beforeDisconnect(fn: () => Promise<void>): () => void {
    this.disconnecting.add(fn);
    return () => this.disconnecting.delete(fn);
  }

  health(): StorageHealth {
    return { enabled: true, schema: this.schema, ...this.writer.health() };
  }

  /** Flushes within `deadlineMs` (the rest is spooled for the next start), then closes connections. */
  async close(deadlineMs?: number): Promise<void> {
    await this.maintenance.stop();
    await this.writer.close(deadlineMs);
    for (const fn of this.disconnecting) await fn().catch(() => undefined);
    // A pool stuck on an unreachable server must not hold shutdown hostage.
    await Promise.race([this.pool.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.embedded?.stop();
  }
}

/** TypeORM PostgreSQL options as a `pg` pool configuration. */
function poolConfigOf(o: PostgresConnectionOptions): pg.PoolConfig {
  return {
    ...(o.extra ?? {}),
    connectionString: o.url,
    host: o.host,
    port: o.port,
    user: o.username,
    password: o.password as pg.PoolConfig['password'],
    database: o.database,
    ssl: o.ssl as pg.PoolConfig['ssl'],
    application_name: o.applicationName,
    max: o.poolSize ?? 4,
    ...(o.connectTimeoutMS !== undefined ? { connectionTimeoutMillis: o.connectTimeoutMS } : {}),
  };
}
