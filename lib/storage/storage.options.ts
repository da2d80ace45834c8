import type { DataSource, DataSourceOptions } from 'typeorm';
import { checkBudgets, type BudgetDeclaration, type CheckedBudget } from './budget.declaration.js';
import type { BudgetAlert } from './budget.ledger.js';
import { checkBudgetOptions, type BudgetOptions } from './budget.options.js';
import { KostrackConfigError } from '../core/errors.js';
import type { EmbeddedDatabaseOptions } from './embedded.database.js';
import { resolveRetention, type ResolvedRetention, type RetentionOptions } from './retention.options.js';
import { DEFAULT_SCHEMA, validateSchemaName } from './schema.name.js';
import { resolveWriterOptions, type ResolvedWriterOptions, type WriterOptions } from './writer.options.js';

/** TypeORM's PostgreSQL options (`type: 'postgres'`). */
export type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

/**
 * Where Kostrack stores calls:
 * - a `postgres://` / `postgresql://` URL;
 * - TypeORM PostgreSQL options (`{ type: 'postgres', host, ... }`);
 * - `{ dataSource: 'name' }`: the host's TypeORM DataSource registered under that name
 *   (`'default'` for the unnamed one), or the DataSource itself;
 * - `false`: no storage (calls are still traced in-process);
 * - nothing: `KOSTRACK_DATABASE_URL` if set, else the embedded PGlite database.
 */
export type DatabaseOption = string | PostgresConnectionOptions | { dataSource: string | DataSource } | false;

export interface StorageOptions {
  database?: DatabaseOption | undefined;
  /** Schema of Kostrack's tables and its migrations table. Default `public` (or the TypeORM options' schema). */
  schema?: string | undefined;
  writer?: WriterOptions | undefined;
  /**
   * The embedded database used when nothing else is configured (`true` or its options). With
   * `NODE_ENV=production` it is used only when given here: a production app whose `database` came
   * out undefined (an unset variable) refuses to start rather than write into its container.
   */
  embedded?: true | EmbeddedDatabaseOptions | undefined;
  /** Run Kostrack's migrations at start (its own `kostrack_migrations` table). Default true. */
  migrationsRun?: boolean | undefined;
  /**
   * Durable budgets per user, feature, tenant or service and period, written to `llm_budgets` at
   * start (by name) and shared by every replica: `[{ name: 'per-user-day', scope: 'user_id',
   * period: 'day', limit: '5.00' }]`. More can be added through the admin API.
   */
  budgets?: BudgetDeclaration[] | undefined;
  /** Called once per scope and period when spending crosses one of a budget's `alerts` thresholds. */
  onBudgetAlert?: ((alert: BudgetAlert) => unknown) | undefined;
  /**
   * How budgets are checked: `refreshMs` (re-read of the list, 5,000), `holdTtlMs` (600,000),
   * `timeoutMs` (2,000), and `lease` (off: a local lease of part of a hot scope's budget).
   */
  budgetOptions?: BudgetOptions | undefined;
  /** How long calls and hourly rollups are kept (off by default): `{ calls: '90d', rollups: '400d' }`. */
  retention?: RetentionOptions | undefined;
}

export type ResolvedDatabase =
  | { kind: 'off' }
  | { kind: 'url'; url: string }
  | { kind: 'options'; options: PostgresConnectionOptions }
  | { kind: 'dataSource'; dataSource: string | DataSource }
  | { kind: 'embedded'; options: EmbeddedDatabaseOptions };

export interface ResolvedStorageOptions {
  database: ResolvedDatabase;
  schema: string;
  writer: ResolvedWriterOptions;
  migrationsRun: boolean;
  budgets: CheckedBudget[];
  retention: ResolvedRetention;
}

const URL_SCHEME = /^postgres(ql)?:\/\//i;

/** Validates storage options up front, so a typo fails the boot with a message instead of losing rows later. */
export function resolveStorageOptions(options: StorageOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedStorageOptions {
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError('Kostrack storage options must be an object');
  const database = resolveDatabase(options.database, env);
  let schema = DEFAULT_SCHEMA;
  if (database.kind === 'options' && database.options.schema !== undefined) schema = database.options.schema;
  if (options.schema !== undefined) schema = options.schema;
  validateSchemaName(schema);
  if (options.migrationsRun !== undefined && typeof options.migrationsRun !== 'boolean')
    throw new KostrackConfigError(`Kostrack storage: migrationsRun must be a boolean, got ${JSON.stringify(options.migrationsRun)}`);
  if (options.embedded !== undefined && options.embedded !== true && (typeof options.embedded !== 'object' || options.embedded === null))
    throw new KostrackConfigError('Kostrack storage: embedded must be true or an object like { dataDir: ".kostrack/pgdata" }');
  const budgets = checkBudgets(options.budgets, 'Kostrack budgets');
  if (options.onBudgetAlert !== undefined && typeof options.onBudgetAlert !== 'function') throw new KostrackConfigError('Kostrack: onBudgetAlert must be a function');
  checkBudgetOptions(options.budgetOptions);
  const retention = resolveRetention(options.retention);
  return { database, schema, writer: resolveWriterOptions(options.writer), migrationsRun: options.migrationsRun ?? true, budgets, retention };

  function resolveDatabase(value: unknown, env: NodeJS.ProcessEnv): ResolvedDatabase {
    if (value === false) return { kind: 'off' };
    if (value === undefined || value === null) {
      const fromEnv = env.KOSTRACK_DATABASE_URL;
      if (fromEnv) return resolveDatabase(fromEnv, {});
      if (options.embedded === undefined && env.NODE_ENV === 'production')
        throw new KostrackConfigError(
          'Kostrack storage: no database configured and NODE_ENV=production. Set `database` (a postgres:// URL, TypeORM postgres options or { dataSource }) or KOSTRACK_DATABASE_URL; ' +
            '`embedded: true` to use the embedded database on purpose; or `database: false` to store nothing. (Is the variable you pass as `database` unset?)',
        );
      return { kind: 'embedded', options: options.embedded === true || options.embedded === undefined ? {} : options.embedded };
    }
    if (typeof value === 'string') {
      if (!URL_SCHEME.test(value))
        throw new KostrackConfigError(
          `Kostrack storage: database must be a postgres:// or postgresql:// URL, got ${JSON.stringify(redact(value))}`,
        );
      return { kind: 'url', url: value };
    }
    if (typeof value !== 'object' || Array.isArray(value))
      throw new KostrackConfigError(`Kostrack storage: database must be a URL, TypeORM postgres options, { dataSource } or false; got ${typeof value}`);
    const object = value as Record<string, unknown>;
    if ('dataSource' in object) {
      const ds = object.dataSource;
      const isDataSource = typeof ds === 'object' && ds !== null && typeof (ds as DataSource).query === 'function';
      if (!(typeof ds === 'string' && ds !== '') && !isDataSource)
        throw new KostrackConfigError('Kostrack storage: database.dataSource must be a DataSource name (e.g. "default") or a TypeORM DataSource');
      return { kind: 'dataSource', dataSource: ds as string | DataSource };
    }
    if (object.type !== 'postgres')
      throw new KostrackConfigError(
        `Kostrack storage: database options must have type: 'postgres' (Kostrack stores in PostgreSQL), got ${JSON.stringify(object.type)}`,
      );
    if (object.url !== undefined && (typeof object.url !== 'string' || !URL_SCHEME.test(object.url)))
      throw new KostrackConfigError('Kostrack storage: database.url must be a postgres:// URL');
    return { kind: 'options', options: value as PostgresConnectionOptions };
  }
}

/** A URL with its password masked, for error messages. */
export function redact(url: string): string {
  const secretParams = /^(password|sslpassword|sslkey|passfile)$/i;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (secretParams.test(key)) u.searchParams.set(key, '***');
    return decodeURIComponent(u.toString());
  } catch {
    // Not parseable: hide everything up to the last '@' (a password may itself hold '@'), and any secret parameter.
    return url.replace(/\/\/[^/]*@/, '//***@').replace(/([?&](?:password|sslpassword|sslkey|passfile)=)[^&]*/gi, '$1***');
  }
}
