import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCostsCommand, reconcileCommand } from '../../lib/cli/reconcile.command.js';
import { EXIT } from '../../lib/cli/reprice.command.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { anthropicAdminRoutes, anthropicAdminScript } from '../../loopback/anthropic-admin.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { openAiAdminRoutes, openAiAdminScript } from '../../loopback/openai-admin.loopback.js';
import { closedPortUrl } from '../storage/support/closed-port.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { billAnthropic, billedState, billOpenAi, WEEK } from './support/week.js';

/** `kostrack import-costs` and `kostrack reconcile`: arguments, exit codes, errors that say what to do, JSON on stdout. */

const db = useTestDatabase('rc_cli');
const cli = fileURLToPath(new URL('../../lib/cli/kostrack.cli.ts', import.meta.url));
const server = new LoopbackServer();
const openai = openAiAdminScript();
const anthropic = anthropicAdminScript();
let env: Record<string, string>;

async function run(command: typeof importCostsCommand, args: string[], extraEnv: Record<string, string | undefined> = env) {
  let out = '';
  let err = '';
  const code = await command(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), env: extraEnv });
  return { code, out, err };
}
const at = () => ['--database', db.url, '--schema', db.schema];
const week = ['--from', WEEK.from, '--to', WEEK.to];

beforeAll(async () => {
  const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
  await runMigrations(pool, db.schema);
  await pool.close();
  await server.start();
  openAiAdminRoutes(server, openai);
  anthropicAdminRoutes(server, anthropic);
  billOpenAi(openai);
  billAnthropic(anthropic);
  env = { OPENAI_ADMIN_KEY: openai.adminKey, ANTHROPIC_ADMIN_KEY: anthropic.adminKey };
});
afterAll(async () => {
  await server.close();
});

describe('bad command lines: exit 2 and the reason, before any connection or request', () => {
  let down: string;
  beforeAll(async () => {
    down = await closedPortUrl();
  });
  const importCases: [string, string[], Record<string, string> | null, RegExp][] = [
    ['no provider', [...week], null, /--provider is required \(openai or anthropic\)/],
    ['an unknown provider', ['--provider', 'gemini', ...week], null, /--provider must be openai or anthropic, got "gemini"/],
    ['no admin key in the environment', ['--provider', 'anthropic', ...week], {}, /set ANTHROPIC_ADMIN_KEY to the organization's admin key/],
    ['no range', ['--provider', 'openai'], null, /from and to are required/],
    ['a day that does not exist', ['--provider', 'openai', '--from', '2026-02-30', '--to', '2026-03-02'], null, /from must be a UTC day like 2026-08-03/],
    ['a page size that is not a number', ['--provider', 'openai', ...week, '--page-size', 'all'], null, /--page-size must be a whole number/],
    ['an admin key as an option', ['--provider', 'openai', ...week, '--admin-key', 'sk-admin-x'], null, /Unknown option '--admin-key'/],
    ['a stray argument', ['--provider', 'openai', ...week, 'now'], null, /unexpected argument "now"/],
  ];
  for (const [what, args, withEnv, message] of importCases) {
    it(`import-costs: ${what}`, async () => {
      const sent = server.requests.length;
      const r = await run(importCostsCommand, ['--database', down, ...args], withEnv ?? env);
      expect(r).toMatchObject({ code: EXIT.usage, out: '' });
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/kostrack import-costs --help/);
      expect(r.err).not.toMatch(/ECONNREFUSED/);
      expect(server.requests.length).toBe(sent);
    });
  }
  const reconcileCases: [string, string[], RegExp][] = [
    ['no range', [], /from and to are required/],
    ['to before from', ['--from', WEEK.to, '--to', WEEK.from], /from \(2026-08-10\) must be before to \(2026-08-03\)/],
    ['a negative threshold', [...week, '--threshold=-0.01'], /threshold must be a non-negative decimal string/],
    ['a schema that is not an identifier', [...week, '--schema', 'a;b'], /schema must be a plain identifier/],
  ];
  for (const [what, args, message] of reconcileCases) {
    it(`reconcile: ${what}`, async () => {
      const r = await run(reconcileCommand, ['--database', down, ...args]);
      expect(r).toMatchObject({ code: EXIT.usage, out: '' });
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/kostrack reconcile --help/);
    });
  }
  it('--help prints the options', async () => {
    expect((await run(importCostsCommand, ['--help'])).out).toMatch(/^Usage: kostrack import-costs --provider <openai\|anthropic>/);
    expect((await run(reconcileCommand, ['--help'])).out).toMatch(/^Usage: kostrack reconcile --from <day> --to <day>[\s\S]*--threshold/);
  });
});

describe('what cannot run: exit 1 and what to do', () => {
  it('the provider fails: exit 1, the typed reason, nothing stored', async () => {
    const before = await billedState(db.pool, db.schema);
    anthropic.fault = { report: 'usage_report', page: 1, mode: 'http500' };
    try {
      const r = await run(importCostsCommand, [...at(), '--provider', 'anthropic', ...week, '--base-url', server.url]);
      expect(r.code).toBe(EXIT.failed);
      expect(r.err).toMatch(/kostrack import-costs: anthropic cost import: \/v1\/organizations\/usage_report\/messages answered HTTP 500[\s\S]*Nothing was stored; run the same command again/);
    } finally {
      anthropic.fault = null;
    }
    expect(await billedState(db.pool, db.schema)).toEqual(before);
  });
  it('a database that does not answer', async () => {
    const r = await run(reconcileCommand, [...week], { KOSTRACK_DATABASE_URL: await closedPortUrl() });
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(/kostrack reconcile: failed \(ECONNREFUSED\)/);
  });
  it('a schema from before reconciliation: refused, unless --migrate', async () => {
    const old = freshSchemaName('rc_cli_v6');
    const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
    try {
      await runMigrations(pool, old, 6);
      const refused = await run(importCostsCommand, ['--database', db.url, '--schema', old, '--provider', 'openai', ...week, '--base-url', `${server.url}/v1`]);
      expect(refused.code).toBe(EXIT.failed);
      expect(refused.err).toMatch(/predates reconciliation: start the app once with this version \(it migrates\), or pass --migrate/);
      const migrated = await run(importCostsCommand, ['--database', db.url, '--schema', old, '--provider', 'openai', ...week, '--base-url', `${server.url}/v1`, '--migrate']);
      expect(migrated.code).toBe(EXIT.ok);
      expect(JSON.parse(migrated.out)).toMatchObject({ rows: 14, billedUsd: '0.1218' });
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${old}" CASCADE`);
      await pool.close();
    }
  });
});

it('reconcile on a schema from before call attempts (version 8): refused with what to do', async () => {
  const old = freshSchemaName('rc_cli_v8');
  const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
  try {
    await runMigrations(pool, old, 8);
    const refused = await run(reconcileCommand, ['--database', db.url, '--schema', old, ...week]);
    expect(refused.code).toBe(EXIT.failed);
    expect(refused.err).toMatch(/predates call attempts \(llm_calls\.attempts\): start the app once with this version \(it migrates\)/);
  } finally {
    await db.pool.query(`DROP SCHEMA IF EXISTS "${old}" CASCADE`);
    await pool.close();
  }
});

describe('runs', () => {
  it('imports both providers, then reconciles: JSON on stdout, exact amounts', async () => {
    const o = await run(importCostsCommand, [...at(), '--provider', 'openai', ...week, '--base-url', `${server.url}/v1`, '--page-size', '4']);
    expect(o.code).toBe(EXIT.ok);
    expect(JSON.parse(o.out)).toMatchObject({ provider: 'openai', rows: 14, billedUsd: '0.1218', pages: 4 });
    const a = await run(importCostsCommand, [...at(), '--provider', 'anthropic', ...week, '--base-url', server.url]);
    expect(JSON.parse(a.out)).toMatchObject({ provider: 'anthropic', rows: 7, billedUsd: '0.0735', pages: 2 });
    // Nothing tracked in this schema: everything billed is untracked.
    const r = await run(reconcileCommand, [...at(), ...week, '--threshold', '0.01']);
    expect(r.code).toBe(EXIT.ok);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ billedUsd: '0.1953', trackedUsd: '0', coverage: '0', untrackedUsd: '0.1953', threshold: '0.01' });
    // Over 0.01 a day: haiku ($0.0105) and gpt-4o ($0.015); gpt-4o-mini ($0.0024) is under it.
    expect(report.gaps.map((g: { day: string; model: string; gapUsd: string }) => `${g.day} ${g.model} ${g.gapUsd}`)).toEqual(
      ['2026-08-03', '2026-08-04', '2026-08-05', '2026-08-06', '2026-08-07', '2026-08-08', '2026-08-09'].flatMap((d) => [`${d} claude-haiku-4-5 0.0105`, `${d} gpt-4o 0.015`]),
    );
  });

  it('the kostrack binary lists the new commands', async () => {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, '--help']);
    expect(r.stdout).toMatch(/import-costs[\s\S]*reconcile/);
  });
});
