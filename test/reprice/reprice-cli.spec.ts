import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureKostrack } from '../../lib/core/configure.js';
import { addSink } from '../../lib/core/sinks.js';
import { EXIT, repriceCommand } from '../../lib/cli/reprice.command.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import type { RepriceReport } from '../../lib/storage/reprice.options.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { closedPortUrl } from '../storage/support/closed-port.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { rollupMismatches } from './support/consistency.js';
import { CORRECTED, writeDataset } from './support/dataset.js';
import { fingerprint } from './support/snapshot.js';

/** `kostrack reprice`: arguments, exit codes, errors that say what to do, the report on stdout. */

const db = useTestDatabase('rp_cli');
const cli = fileURLToPath(new URL('../../lib/cli/kostrack.cli.ts', import.meta.url));
let storage: TelemetryStorage;
let detach: () => void;
const range = ['--from', '2026-07-01', '--to', '2026-07-02T00:00:00Z'];
const defaultWarn = (message: string) => process.emitWarning(message, { code: 'KOSTRACK' });

/** Runs the command in this process: exit code, stdout, stderr. */
async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await repriceCommand(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), env });
  return { code, out, err };
}
const at = () => ['--database', db.url, '--schema', db.schema];

beforeAll(async () => {
  configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  detach = addSink(storage.writer);
  writeDataset({ traces: 12, callsPerTrace: 10, start: new Date('2026-07-01T01:00:00Z'), stepMs: 9 * 60_000, book: new PriceBook() });
  await storage.writer.drain();
  await db.pool.query(
    `INSERT INTO "${db.schema}".llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from) VALUES ($1, $2, 0.2, 0.8, '2026-01-01')`,
    [CORRECTED.provider, CORRECTED.model],
  );
});
afterAll(async () => {
  detach?.();
  configureKostrack({ serviceId: 'default', tags: {}, warn: defaultWarn });
  await storage?.close();
});

describe('bad command lines: exit 2 and the reason, before any connection', () => {
  let down: string;
  beforeAll(async () => {
    down = await closedPortUrl();
  });
  const cases: [string, string[], RegExp][] = [
    ['no range', ['--from', '2026-07-01'], /--from and --to are required/],
    ['from after to', ['--from', '2026-07-02', '--to', '2026-07-01'], /reprice: from \(2026-07-02T00:00:00.000Z\) must be before to/],
    ['a date that does not exist', ['--from', '2026-06-31', '--to', '2026-07-01'], /from must be an ISO-8601 date/],
    ['an unknown provider', [...range, '--provider', 'opneai'], /unknown provider "opneai"/],
    ['an unknown option', [...range, '--dryrun'], /Unknown option '--dryrun'/],
    ['a batch size that is not a number', [...range, '--batch-size', 'lots'], /--batch-size must be a whole number/],
    ['a schema that is not an identifier', [...range, '--schema', 'a;b'], /schema must be a plain identifier/],
    ['a stray argument', [...range, 'now'], /unexpected argument "now"/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await run(['--database', down, ...args]);
      expect(r).toMatchObject({ code: EXIT.usage, out: '' });
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/kostrack reprice --help/);
      expect(r.err).not.toMatch(/ECONNREFUSED/);
    });
  }
  it('no database anywhere', async () => {
    const r = await run(range);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/--database <url> is required \(or set KOSTRACK_DATABASE_URL\)/);
  });
  it('--help prints the options', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^Usage: kostrack reprice --from <iso> --to <iso>/);
    expect(r.out).toMatch(/--dry-run/);
  });
});

describe('what cannot run: exit 1 and what to do', () => {
  it('a database that does not answer', async () => {
    const r = await run([...range], { KOSTRACK_DATABASE_URL: await closedPortUrl() });
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(/failed \(ECONNREFUSED\)/);
  });
  it('a schema with no Kostrack tables', async () => {
    const r = await run(['--database', db.url, '--schema', 'no_such_schema_here', ...range]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(/schema "no_such_schema_here" holds no Kostrack tables/);
  });
  it('a schema from before re-pricing: refused, unless --migrate', async () => {
    const old = freshSchemaName('rp_cli_v5');
    const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
    try {
      await runMigrations(pool, old, 5);
      const refused = await run(['--database', db.url, '--schema', old, ...range]);
      expect(refused.code).toBe(EXIT.failed);
      expect(refused.err).toMatch(/predates re-pricing: start the app once with this version \(it migrates\), or pass --migrate/);
      // A dry run reads only what every version has.
      expect((await run(['--database', db.url, '--schema', old, ...range, '--dry-run', '--quiet'])).code).toBe(EXIT.ok);
      const migrated = await run(['--database', db.url, '--schema', old, ...range, '--migrate', '--quiet']);
      expect(migrated.code).toBe(EXIT.ok);
      expect(JSON.parse(migrated.out)).toMatchObject({ status: 'done', rowsScanned: 0 });
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${old}" CASCADE`);
      await pool.close();
    }
  });
});

describe('runs', () => {
  it('--dry-run prints the report as JSON, progress on stderr, and writes nothing', async () => {
    const before = await fingerprint(db.pool, db.schema);
    const r = await run([...at(), ...range, '--dry-run', '--batch-size', '25']);
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out) as RepriceReport;
    expect(report).toMatchObject({ id: null, dryRun: true, status: 'done', by: expect.stringMatching(/^cli:/) });
    expect(report.rowsChanged).toBeGreaterThan(0);
    expect(r.err).toMatch(/kostrack reprice: dry run, batch 1: 25 calls read, \d+ changed/);
    expect(await fingerprint(db.pool, db.schema)).toEqual(before);
  });

  it('a run prints its report; run again, it changes nothing', async () => {
    const first = await run([...at(), ...range, '--by', 'ops@acme.test', '--quiet']);
    expect(first.code).toBe(EXIT.ok);
    expect(JSON.parse(first.out)).toMatchObject({ dryRun: false, status: 'done', by: 'ops@acme.test', resumed: false });
    expect(JSON.parse(first.out).rowsChanged).toBeGreaterThan(0);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
    const again = await run([...at(), ...range, '--quiet']);
    expect(JSON.parse(again.out)).toMatchObject({ rowsChanged: 0, deltaUsd: '0' });
  });

  it("--prices: the app's prices option is part of the prices the calls are re-priced with", async () => {
    // Without it, a call the app prices through its option would be re-priced at the catalog's rates.
    const dir = mkdtempSync(join(tmpdir(), 'kostrack-cli-'));
    const file = join(dir, 'prices.json');
    writeFileSync(file, JSON.stringify([{ provider: 'anthropic', model: 'claude-haiku-4-5-20251001', input: '2', output: '8', cacheRead: '0.2' }]));
    const without = JSON.parse((await run([...at(), ...range, '--provider', 'anthropic', '--dry-run', '--quiet'])).out) as RepriceReport;
    const withPrices = JSON.parse((await run([...at(), ...range, '--provider', 'anthropic', '--dry-run', '--quiet', '--prices', file])).out) as RepriceReport;
    expect(without.rowsChanged).toBe(0);
    expect(withPrices.rowsChanged).toBe(withPrices.rowsScanned);
    writeFileSync(file, '{"not": "an array"}');
    const bad = await run([...at(), ...range, '--prices', file]);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/--prices .* must hold a JSON array of prices/);
  });

  it('the kostrack binary: an unknown command is exit 2 with the list of commands', async () => {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'reprise']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/unknown command "reprise"[\s\S]*reprice/);
  });
});
