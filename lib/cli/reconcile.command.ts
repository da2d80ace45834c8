import { parseArgs } from 'node:util';
import { KostrackConfigError } from '../core/errors.js';
import { importProviderCosts } from '../reconcile/provider-costs.import.js';
import { KostrackProviderCostsError } from '../reconcile/provider-costs.error.js';
import { isCostProvider, resolveImportOptions, resolveReconcileOptions, type CostProvider, type ImportProviderCostsOptions } from '../reconcile/reconcile.options.js';
import { reconcile } from '../reconcile/reconcile.report.js';
import { describeError } from '../storage/error.classifier.js';
import { runMigrations } from '../storage/migrations/migration.runner.js';
import { PgSqlPool } from '../storage/pg.pool.js';
import { DEFAULT_SCHEMA, quoteSchema, validateSchemaName } from '../storage/schema.name.js';
import { EXIT, type CommandIo } from './reprice.command.js';

/** The environment variable each provider's admin key is read from (OpenAI's SDK reads the same one). */
export const ADMIN_KEY_ENV: Record<CostProvider, string> = { openai: 'OPENAI_ADMIN_KEY', anthropic: 'ANTHROPIC_ADMIN_KEY' };

export const IMPORT_COSTS_USAGE = `Usage: kostrack import-costs --provider <openai|anthropic> --from <day> --to <day> [options]

Imports the provider's own cost figures per UTC day and model for the days [from, to) from its
admin report API (OpenAI: organization Costs and Usage APIs; Anthropic: Admin API cost and usage
reports) into llm_provider_costs. The days the provider reports on replace what they held, in one
transaction: importing again is safe, and a failed import stores nothing. Prints what was stored
as JSON.

Options:
  --database <url>     PostgreSQL URL (default: KOSTRACK_DATABASE_URL, then DATABASE_URL)
  --schema <name>      Kostrack's schema (default: public)
  --provider <name>    openai or anthropic
  --from <day>         the first UTC day, e.g. 2026-08-03
  --to <day>           the day after the last, e.g. 2026-08-10
  --base-url <url>     the provider's API (default https://api.openai.com/v1, https://api.anthropic.com)
  --page-size <n>      days per page asked of the API (1 to 31, default 31)
  --migrate            bring the schema to this version first
  -h, --help           this text

The admin key is read from ${ADMIN_KEY_ENV.openai} or ${ADMIN_KEY_ENV.anthropic} (never a command-line
argument: those show in the process list and shell history).

Exit codes: 0 imported, 1 the provider or the database failed (nothing stored), 2 bad arguments.`;

export const RECONCILE_USAGE = `Usage: kostrack reconcile --from <day> --to <day> [options]

Compares tracked costs with the imported provider figures (kostrack import-costs) for the UTC days
[from, to): coverage (tracked / billed) overall and per provider, the untracked amount, and the
days and models whose gap is over the threshold. Prints the report as JSON.

Options:
  --database <url>     PostgreSQL URL (default: KOSTRACK_DATABASE_URL, then DATABASE_URL)
  --schema <name>      Kostrack's schema (default: public)
  --from <day>         the first UTC day, e.g. 2026-08-03
  --to <day>           the day after the last
  --threshold <usd>    list days x models whose |billed - tracked| is over this (default 0.01)
  -h, --help           this text

Exit codes: 0 reported, 1 the database failed, 2 bad arguments.`;

class UsageError extends Error {}

type Values = Record<string, string | boolean | undefined>;

function parse(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean'; short?: string }>): Values | 'help' {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return values;
}

function connection(values: Values, env: CommandIo['env']): { url: string; schema: string } {
  const url = (values.database as string | undefined) ?? env.KOSTRACK_DATABASE_URL ?? env.DATABASE_URL;
  if (!url) throw new UsageError('--database <url> is required (or set KOSTRACK_DATABASE_URL)');
  try {
    return { url, schema: validateSchemaName((values.schema as string | undefined) ?? DEFAULT_SCHEMA) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Whether the schema has the reconciliation tables (and, for the report, `llm_calls.attempts`,
 * version 9); `--migrate` adds what is missing.
 */
async function ready(pool: PgSqlPool, schema: string, migrate: boolean, report = false): Promise<string | null> {
  if (migrate) {
    await runMigrations(pool, schema);
    return null;
  }
  const s = quoteSchema(schema);
  const [found] = await pool.query<{ calls: boolean; costs: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS calls, to_regclass($2) IS NOT NULL AS costs`, [
    `${s}.llm_calls`,
    `${s}.llm_provider_costs`,
  ]);
  if (!found.calls) return `schema "${schema}" holds no Kostrack tables (wrong --schema or --database?)`;
  if (!found.costs) return `schema "${schema}" predates reconciliation: start the app once with this version (it migrates), or pass --migrate`;
  if (report) {
    const [col] = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'llm_calls' AND column_name = 'attempts'`,
      [schema],
    );
    if (col.n === 0) return `schema "${schema}" predates call attempts (llm_calls.attempts): start the app once with this version (it migrates)`;
  }
  return null;
}

/** Runs `work` on a one-connection pool, mapping failures to exit codes and messages. */
async function withPool(name: string, url: string, io: CommandIo, work: (pool: PgSqlPool) => Promise<number>): Promise<number> {
  const pool = new PgSqlPool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 }, (e) => io.err(`kostrack ${name}: ${describeError(e).message}`));
  try {
    return await work(pool);
  } catch (e) {
    if (e instanceof KostrackProviderCostsError) {
      io.err(`kostrack ${name}: ${e.message}\nNothing was stored; run the same command again once the provider answers.`);
      return EXIT.failed;
    }
    const { code, message } = describeError(e);
    io.err(`kostrack ${name}: failed${code ? ` (${code})` : ''}: ${message}`);
    return EXIT.failed;
  } finally {
    await pool.close().catch(() => undefined);
  }
}

function usageFailure(name: string, e: unknown, io: CommandIo): number {
  if (e instanceof KostrackConfigError || e instanceof UsageError) {
    io.err(`kostrack ${name}: ${e.message.replace(/^(importProviderCosts|reconcile): /, '')}\nRun kostrack ${name} --help for the options.`);
    return EXIT.usage;
  }
  throw e;
}

/** `kostrack import-costs …`: returns the exit code. */
export async function importCostsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let values: Values | 'help';
  let options: ImportProviderCostsOptions;
  let db: { url: string; schema: string };
  try {
    values = parse(argv, {
      database: { type: 'string' },
      schema: { type: 'string' },
      provider: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'base-url': { type: 'string' },
      'page-size': { type: 'string' },
      migrate: { type: 'boolean' },
    });
    if (values === 'help') {
      io.out(IMPORT_COSTS_USAGE);
      return EXIT.ok;
    }
    db = connection(values, io.env);
    const provider = values.provider as string | undefined;
    if (provider === undefined) throw new UsageError('--provider is required (openai or anthropic)');
    if (!isCostProvider(provider)) throw new UsageError(`--provider must be openai or anthropic, got ${JSON.stringify(provider)}`);
    const adminKey = io.env[ADMIN_KEY_ENV[provider]];
    if (!adminKey) throw new UsageError(`set ${ADMIN_KEY_ENV[provider]} to the organization's admin key (an inference key cannot read the cost reports)`);
    const size = values['page-size'] as string | undefined;
    if (size !== undefined && !/^\d+$/.test(size)) throw new UsageError(`--page-size must be a whole number, got ${JSON.stringify(size)}`);
    options = {
      provider,
      from: values.from as string,
      to: values.to as string,
      adminKey,
      baseUrl: values['base-url'] as string | undefined,
      pageSize: size === undefined ? undefined : Number(size),
    };
    // Checked before connecting: a typo never waits on the database or the provider.
    resolveImportOptions(options);
  } catch (e) {
    return usageFailure('import-costs', e, io);
  }
  const migrate = values.migrate === true;
  return withPool('import-costs', db.url, io, async (pool) => {
    const notReady = await ready(pool, db.schema, migrate);
    if (notReady) {
      io.err(`kostrack import-costs: ${notReady}`);
      return EXIT.failed;
    }
    io.out(JSON.stringify(await importProviderCosts({ pool, schema: db.schema }, options), null, 2));
    return EXIT.ok;
  });
}

/** `kostrack reconcile …`: returns the exit code. */
export async function reconcileCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let values: Values | 'help';
  let db: { url: string; schema: string };
  let range: { from: string; to: string; threshold: string | undefined };
  try {
    values = parse(argv, { database: { type: 'string' }, schema: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, threshold: { type: 'string' } });
    if (values === 'help') {
      io.out(RECONCILE_USAGE);
      return EXIT.ok;
    }
    db = connection(values, io.env);
    range = { from: values.from as string, to: values.to as string, threshold: values.threshold as string | undefined };
    resolveReconcileOptions(range);
  } catch (e) {
    return usageFailure('reconcile', e, io);
  }
  return withPool('reconcile', db.url, io, async (pool) => {
    const notReady = await ready(pool, db.schema, false, true);
    if (notReady) {
      io.err(`kostrack reconcile: ${notReady}`);
      return EXIT.failed;
    }
    io.out(JSON.stringify(await reconcile({ pool, schema: db.schema }, range), null, 2));
    return EXIT.ok;
  });
}
