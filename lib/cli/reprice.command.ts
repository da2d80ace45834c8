import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { configureKostrack } from '../core/configure.js';
import { KostrackConfigError } from '../core/errors.js';
import { loadCatalogFile, type CatalogData } from '../pricing/catalog.data.js';
import type { PriceOverride } from '../pricing/price-table.js';
import { describeError } from '../storage/error.classifier.js';
import { runMigrations } from '../storage/migrations/migration.runner.js';
import { PgSqlPool } from '../storage/pg.pool.js';
import { reprice } from '../storage/reprice.job.js';
import { resolveRepriceOptions, type RepriceOptions } from '../storage/reprice.options.js';
import { repricingPriceBook } from '../storage/reprice.price-book.js';
import { DEFAULT_SCHEMA, quoteSchema, validateSchemaName } from '../storage/schema.name.js';

/** Where the command writes: stdout gets the report (JSON), stderr progress and errors. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

/** Exit codes: the run finished; it failed (database, run); the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const REPRICE_USAGE = `Usage: kostrack reprice --from <iso> --to <iso> [options]

Recomputes the cost of the calls made in [from, to) from their token buckets with the prices in
force now (the catalog, llm_prices, and --prices), and adjusts traces, spans, hourly rollups and
budget usage by the exact differences. Prints the run's report as JSON. A run that stopped (a
crash, Ctrl-C) is resumed by running the same command again.

Options:
  --database <url>     PostgreSQL URL (default: KOSTRACK_DATABASE_URL, then DATABASE_URL)
  --schema <name>      Kostrack's schema (default: public)
  --from <iso>         calls made from this time (inclusive), e.g. 2026-10-01 or 2026-10-01T00:00:00Z
  --to <iso>           until this time (exclusive)
  --provider <name>    only this provider's calls (openai, anthropic, gemini, …, custom:<name>)
  --model <name>       only this model's calls
  --dry-run            report what would change; write nothing
  --batch-size <n>     calls per transaction (default 5000)
  --by <who>           recorded on the run (default cli:<login>)
  --prices <file>      the app's \`prices\` option as a JSON array, so calls they price keep them
  --catalog <file>     the app's catalog file (genai-prices data.json), if it loads one
  --migrate            bring the schema to this version first (else it must be, or the run stops)
  --quiet              no progress lines on stderr
  -h, --help           this text

Exit codes: 0 done, 1 the run failed (it can be resumed), 2 bad arguments.`;

/** A mistake on the command line: exit code 2 with the message. */
class UsageError extends Error {}

interface Parsed {
  url: string;
  schema: string;
  from: string;
  to: string;
  provider: string | undefined;
  model: string | undefined;
  dryRun: boolean;
  batchSize: number | undefined;
  by: string;
  prices: PriceOverride[] | undefined;
  catalogData: CatalogData | undefined;
  migrate: boolean;
  quiet: boolean;
}

function parse(argv: readonly string[], env: CommandIo['env']): Parsed | 'help' {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        database: { type: 'string' },
        schema: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        provider: { type: 'string' },
        model: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'batch-size': { type: 'string' },
        by: { type: 'string' },
        prices: { type: 'string' },
        catalog: { type: 'string' },
        migrate: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const url = (values.database as string | undefined) ?? env.KOSTRACK_DATABASE_URL ?? env.DATABASE_URL;
  if (!url) throw new UsageError('--database <url> is required (or set KOSTRACK_DATABASE_URL)');
  if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are required');
  let schema: string;
  try {
    schema = validateSchemaName((values.schema as string | undefined) ?? DEFAULT_SCHEMA);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const size = values['batch-size'] as string | undefined;
  if (size !== undefined && !/^\d+$/.test(size)) throw new UsageError(`--batch-size must be a whole number, got ${JSON.stringify(size)}`);
  return {
    url,
    schema,
    from: values.from as string,
    to: values.to as string,
    provider: values.provider as string | undefined,
    model: values.model as string | undefined,
    dryRun: values['dry-run'] === true,
    batchSize: size === undefined ? undefined : Number(size),
    by: (values.by as string | undefined) ?? `cli:${login()}`,
    prices: values.prices === undefined ? undefined : readPrices(values.prices as string),
    catalogData: values.catalog === undefined ? undefined : loadCatalog(values.catalog as string),
    migrate: values.migrate === true,
    quiet: values.quiet === true,
  };
}

function login(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function readPrices(file: string): PriceOverride[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--prices ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new UsageError(`--prices ${file} must hold a JSON array of prices, like the prices option`);
  return parsed as PriceOverride[];
}

function loadCatalog(file: string): CatalogData {
  try {
    return loadCatalogFile(file);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Whether the schema has the re-pricing tables (by the tables themselves: a host that runs the
 * migrations through its own TypeORM DataSource keeps no `kostrack_migrations`); `--migrate`
 * applies what is missing.
 */
async function ready(pool: PgSqlPool, schema: string, migrate: boolean, dryRun: boolean): Promise<string | null> {
  if (migrate) {
    await runMigrations(pool, schema);
    return null;
  }
  const s = quoteSchema(schema);
  const [found] = await pool.query<{ calls: boolean; runs: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS calls, to_regclass($2) IS NOT NULL AS runs`,
    [`${s}.llm_calls`, `${s}.llm_repricings`],
  );
  if (!found.calls) return `schema "${schema}" holds no Kostrack tables (wrong --schema or --database?)`;
  // A dry run reads only what every version has.
  if (!found.runs && !dryRun) return `schema "${schema}" predates re-pricing: start the app once with this version (it migrates), or pass --migrate`;
  return null;
}

/** `kostrack reprice …`: returns the exit code. */
export async function repriceCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let args: Parsed | 'help';
  let options: RepriceOptions;
  try {
    args = parse(argv, io.env);
    if (args === 'help') {
      io.out(REPRICE_USAGE);
      return EXIT.ok;
    }
    options = { from: args.from, to: args.to, provider: args.provider, model: args.model, dryRun: args.dryRun, batchSize: args.batchSize, by: args.by };
    // Checked before connecting: a typo never waits on the database, and never touches it.
    resolveRepriceOptions(options);
  } catch (e) {
    if (e instanceof KostrackConfigError) io.err(`kostrack ${e.message}\nRun kostrack reprice --help for the options.`);
    else if (e instanceof UsageError) io.err(`kostrack reprice: ${e.message}\nRun kostrack reprice --help for the options.`);
    else throw e;
    return EXIT.usage;
  }
  // The PriceBook names each model it has no price for once; here that belongs on stderr, not in a process warning.
  configureKostrack({ warn: (message) => io.err(`kostrack reprice: warning: ${message}`) });
  const pool = new PgSqlPool({ connectionString: args.url, max: 1, connectionTimeoutMillis: 10_000 }, (e) => io.err(`kostrack reprice: ${describeError(e).message}`));
  try {
    const notReady = await ready(pool, args.schema, args.migrate, args.dryRun);
    if (notReady) {
      io.err(`kostrack reprice: ${notReady}`);
      return EXIT.failed;
    }
    const priceBook = await repricingPriceBook(pool, args.schema, { prices: args.prices, catalogData: args.catalogData });
    const report = await reprice(
      { pool, schema: args.schema, priceBook },
      {
        ...options,
        onBatch: args.quiet
          ? undefined
          : (p) => io.err(`kostrack reprice: ${p.id === null ? 'dry run' : `run ${p.id}`}, batch ${p.batches}: ${p.rowsScanned} calls read, ${p.rowsChanged} changed`),
      },
    );
    io.out(JSON.stringify(report, null, 2));
    return EXIT.ok;
  } catch (e) {
    // A --prices entry the PriceBook refuses.
    if (e instanceof KostrackConfigError) {
      io.err(`kostrack reprice: ${e.message}`);
      return EXIT.usage;
    }
    const { code, message } = describeError(e);
    io.err(`kostrack reprice: failed${code ? ` (${code})` : ''}: ${message}\nWhatever was done is kept; the same command resumes the run.`);
    return EXIT.failed;
  } finally {
    await pool.close().catch(() => undefined);
  }
}
