import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { centsToDollars } from '../../lib/reconcile/anthropic-costs.importer.js';
import { modelOfLineItem } from '../../lib/reconcile/openai-costs.importer.js';
import { importProviderCosts } from '../../lib/reconcile/provider-costs.import.js';
import { KostrackProviderCostsError } from '../../lib/reconcile/provider-costs.error.js';
import type { ImportProviderCostsOptions } from '../../lib/reconcile/reconcile.options.js';
import { coverage, reconcile } from '../../lib/reconcile/reconcile.report.js';
import { usd } from '../../lib/core/money.js';
import { anthropicAdminRoutes, anthropicAdminScript, costItem } from '../../loopback/anthropic-admin.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { addResults, costResult, openAiAdminRoutes, openAiAdminScript } from '../../loopback/openai-admin.loopback.js';
import { closedPortUrl } from '../storage/support/closed-port.js';
import { useTestDatabase } from '../support/database.js';
import { billAnthropic, billedState, billOpenAi, WEEK } from './support/week.js';

/** importProviderCosts: idempotent, a revised day replaces the old figures, and bad answers store nothing. */

const db = useTestDatabase('rc_import');
let pool: PgSqlPool;
const server = new LoopbackServer();
let openai = openAiAdminScript();
let anthropic = anthropicAdminScript();
let routes = 0;
const target = () => ({ pool, schema: db.schema });
const fromOpenAi = (extra: Partial<ImportProviderCostsOptions> = {}): ImportProviderCostsOptions => ({
  provider: 'openai',
  ...WEEK,
  adminKey: openai.adminKey,
  baseUrl: `${server.url}/v1`,
  pageSize: 3,
  ...extra,
});
const fromAnthropic = (extra: Partial<ImportProviderCostsOptions> = {}): ImportProviderCostsOptions => ({
  provider: 'anthropic',
  ...WEEK,
  adminKey: anthropic.adminKey,
  baseUrl: server.url,
  pageSize: 3,
  ...extra,
});

beforeAll(async () => {
  pool = new PgSqlPool({ connectionString: db.url, max: 2 }, () => undefined);
  await runMigrations(pool, db.schema);
  await server.start();
  routes = server.routeCount;
});
afterEach(() => {
  server.reset(routes);
  openai = openAiAdminScript();
  anthropic = anthropicAdminScript();
});
afterAll(async () => {
  await pool?.close();
  await server.close();
});

const serve = () => {
  openAiAdminRoutes(server, openai);
  anthropicAdminRoutes(server, anthropic);
};

describe('idempotent imports', () => {
  it('importing the same week twice stores it once', async () => {
    billOpenAi(openai);
    billAnthropic(anthropic);
    serve();
    await importProviderCosts(target(), fromOpenAi());
    await importProviderCosts(target(), fromAnthropic());
    const once = await billedState(db.pool, db.schema);
    expect(once.costs).toHaveLength(21);
    expect(once.days).toHaveLength(14);
    const again = await importProviderCosts(target(), fromOpenAi());
    await importProviderCosts(target(), fromAnthropic());
    expect(again).toMatchObject({ rows: 14, billedUsd: '0.1218' });
    expect(await billedState(db.pool, db.schema)).toEqual(once);
  });

  it('a revised day replaces the old figures: changed amounts, a model gone, a cost tied to no model', async () => {
    const before = await billedState(db.pool, db.schema);
    addResults(openai.costs, '2026-08-05', costResult('gpt-4o-mini-2024-07-18, input', 0.001), costResult('gpt-4o-mini-2024-07-18, cached input', 0.0002), costResult('web search tool calls', 0.025));
    serve();
    const r = await importProviderCosts(target(), fromOpenAi({ from: '2026-08-05', to: '2026-08-06' }));
    expect(r).toMatchObject({ days: ['2026-08-05'], rows: 2, billedUsd: '0.0262', pages: 2 });
    const after = await billedState(db.pool, db.schema);
    expect(after.costs.filter((c) => c.startsWith('openai 2026-08-05'))).toEqual([
      'openai 2026-08-05  0.025 USD - - - - openai:organization/costs',
      'openai 2026-08-05 gpt-4o-mini-2024-07-18 0.0012 USD - - - - openai:organization/costs',
    ]);
    // Every other day, and the other provider's same day, kept their figures.
    const others = (rows: string[]) => rows.filter((c) => !c.startsWith('openai 2026-08-05'));
    expect(others(after.costs)).toEqual(others(before.costs));
    expect(after.days).toEqual(before.days);
    const report = await reconcile(target(), { from: '2026-08-05', to: '2026-08-06', threshold: '0' });
    expect(report.gaps.filter((g) => g.provider === 'openai')).toEqual([
      { day: '2026-08-05', provider: 'openai', model: 'gpt-4o-mini', trackedUsd: '0', billedUsd: '0.0012', gapUsd: '0.0012', coverage: '0', calls: 0, unpricedCalls: 0, retriedCalls: 0, extraAttempts: 0 },
      { day: '2026-08-05', provider: 'openai', model: null, trackedUsd: '0', billedUsd: '0.025', gapUsd: '0.025', coverage: '0', calls: 0, unpricedCalls: 0, retriedCalls: 0, extraAttempts: 0 },
    ]);
  });

  it('a day the provider reports nothing for is stored as reported on (billed zero); a day it sends no bucket for is left alone', async () => {
    // The loopback sends a bucket for every day asked for; an empty week replaces the figures with none.
    serve();
    const r = await importProviderCosts(target(), fromAnthropic({ from: '2026-08-08', to: '2026-08-10' }));
    expect(r).toMatchObject({ days: ['2026-08-08', '2026-08-09'], missingDays: [], rows: 0, billedUsd: '0' });
    const state = await billedState(db.pool, db.schema);
    expect(state.costs.filter((c) => c.startsWith('anthropic 2026-08-08') || c.startsWith('anthropic 2026-08-09'))).toEqual([]);
    expect(state.days.filter((d) => d.startsWith('anthropic'))).toHaveLength(7);
  });
});

describe('bad answers: a typed error, and nothing of the import stored', () => {
  let before: Awaited<ReturnType<typeof billedState>>;
  beforeAll(async () => {
    before = await billedState(db.pool, db.schema);
  });

  const cases: [string, () => void, () => ImportProviderCostsOptions, { kind: string; status?: number | null; message: RegExp }][] = [
    ['OpenAI answers HTTP 500 on the second costs page', () => (openai.fault = { report: 'costs', page: 2, mode: 'http500' }), fromOpenAi, { kind: 'http', status: 500, message: /\/organization\/costs answered HTTP 500: The server had an error/ }],
    ['OpenAI truncates the second usage page', () => (openai.fault = { report: 'usage', page: 2, mode: 'truncate' }), fromOpenAi, { kind: 'malformed', message: /usage\/completions: the answer is not complete JSON/ }],
    ['OpenAI announces more pages without a cursor', () => (openai.fault = { report: 'costs', page: 1, mode: 'no-cursor' }), fromOpenAi, { kind: 'pagination', message: /has_more is true but next_page is null/ }],
    ['OpenAI sends a negative amount', () => (openai.fault = { report: 'costs', page: 3, mode: 'nonsense', value: -0.5 }), fromOpenAi, { kind: 'amount', message: /costs 2026-08-09 result 0\.amount\.value: expected a non-negative amount, got -0\.5/ }],
    ['OpenAI sends an amount past what a double holds exactly', () => (openai.fault = { report: 'costs', page: 2, mode: 'nonsense', value: 1e21 }), fromOpenAi, { kind: 'amount', message: /expected an amount below 10\^15, got 1e\+21/ }],
    ['OpenAI sends "NaN" as an amount', () => (openai.fault = { report: 'costs', page: 1, mode: 'nonsense', value: 'NaN' }), fromOpenAi, { kind: 'amount', message: /got "NaN"/ }],
    ['OpenAI sends a non-numeric amount', () => (openai.fault = { report: 'costs', page: 2, mode: 'nonsense', value: { cents: 5 } }), fromOpenAi, { kind: 'amount', message: /got \{"cents":5\}/ }],
    ['OpenAI bills in euros', () => addResults(openai.costs, '2026-08-06', costResult('gpt-4o-2024-08-06, input', 1, 'eur')), fromOpenAi, { kind: 'currency', message: /amounts in "eur" cannot be compared with tracked USD/ }],
    ['OpenAI refuses the key', () => (openai.adminKey = 'sk-admin-other-key-000'), () => fromOpenAi({ adminKey: 'sk-admin-wrong-key-000' }), { kind: 'http', status: 401, message: /HTTP 401: Incorrect API key provided/ }],
    ['Anthropic answers HTTP 500 on the third cost_report page', () => (anthropic.fault = { report: 'cost_report', page: 3, mode: 'http500' }), fromAnthropic, { kind: 'http', status: 500, message: /cost_report answered HTTP 500/ }],
    ['Anthropic truncates a page', () => (anthropic.fault = { report: 'cost_report', page: 2, mode: 'truncate' }), fromAnthropic, { kind: 'malformed', message: /not complete JSON/ }],
    ['Anthropic sends negative cents', () => (anthropic.fault = { report: 'cost_report', page: 1, mode: 'nonsense', value: '-12.5' }), fromAnthropic, { kind: 'amount', message: /cost_report 2026-08-03 result 0\.amount: expected a non-negative amount, got "-12\.5"/ }],
    ['Anthropic sends cents as a number', () => (anthropic.fault = { report: 'cost_report', page: 1, mode: 'nonsense', value: 12.5 }), fromAnthropic, { kind: 'amount', message: /expected a decimal string of cents, got 12\.5/ }],
    ['Anthropic sends a negative token count', () => addResults(anthropic.usage, '2026-08-04', { model: 'claude-haiku-4-5-20251001', uncached_input_tokens: -3, output_tokens: 1 }), fromAnthropic, { kind: 'amount', message: /uncached_input_tokens: expected a non-negative whole number, got -3/ }],
    ['Anthropic bills in another currency', () => addResults(anthropic.costs, '2026-08-07', costItem('claude-haiku-4-5-20251001', '10', 'output_tokens', 'GBP')), fromAnthropic, { kind: 'currency', message: /"GBP"/ }],
  ];
  for (const [what, arrange, options, expected] of cases) {
    it(what, async () => {
      billOpenAi(openai);
      billAnthropic(anthropic);
      arrange();
      serve();
      const e = await importProviderCosts(target(), options()).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(KostrackProviderCostsError);
      const err = e as KostrackProviderCostsError;
      expect({ kind: err.kind, provider: err.provider }).toEqual({ kind: expected.kind, provider: options().provider });
      if (expected.status !== undefined) expect(err.status).toBe(expected.status);
      expect(err.message).toMatch(expected.message);
      expect(err.message).not.toContain(options().adminKey);
      expect(await billedState(db.pool, db.schema)).toEqual(before);
    });
  }

  it('a provider that does not answer: network error, nothing stored', async () => {
    const down = (await closedPortUrl()).replace(/^postgresql:\/\/nobody@/, 'http://').replace(/\/none$/, '');
    const e = await importProviderCosts(target(), fromOpenAi({ baseUrl: down })).then(() => null, (x: unknown) => x);
    expect(e).toMatchObject({ name: 'KostrackProviderCostsError', kind: 'network', message: expect.stringMatching(/openai cost import: \/organization\/costs: ECONNREFUSED/) });
    expect(await billedState(db.pool, db.schema)).toEqual(before);
  });

  it('a database that fails mid-import rolls the whole import back', async () => {
    billOpenAi(openai);
    serve();
    // The first insert of the transaction succeeds (the days are deleted), the second is refused.
    await db.pool.query(`ALTER TABLE "${db.schema}".llm_provider_cost_days ADD CONSTRAINT no_more CHECK (day < '2026-01-01') NOT VALID`);
    try {
      await expect(importProviderCosts(target(), fromOpenAi())).rejects.toThrow(/no_more/);
    } finally {
      await db.pool.query(`ALTER TABLE "${db.schema}".llm_provider_cost_days DROP CONSTRAINT no_more`);
    }
    expect(await billedState(db.pool, db.schema)).toEqual(before);
  });
});

describe('bad options: KostrackConfigError before any request', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown provider', { provider: 'gemini' }, /provider must be one of openai, anthropic .*got "gemini"/],
    ['no range', { from: undefined }, /from and to are required/],
    ['to before from', { from: '2026-08-10', to: '2026-08-03' }, /from \(2026-08-10\) must be before to \(2026-08-03\)/],
    ['a day that does not exist', { from: '2026-02-30' }, /from must be a UTC day like 2026-08-03/],
    ['a time that is not midnight', { to: '2026-08-10T12:00:00Z' }, /to must be a UTC day/],
    ['a Date that is not midnight UTC', { from: new Date('2026-08-03T01:00:00Z') }, /from must be a whole UTC day \(00:00Z\), got 2026-08-03T01:00:00.000Z/],
    ['more than a year', { from: '2025-01-01', to: '2026-08-10' }, /the range holds 586 days; at most 366/],
    ['no admin key', { adminKey: undefined }, /adminKey must be the organization's admin key/],
    ['an admin key with a newline', { adminKey: 'sk-admin-abc\n' }, /adminKey must be/],
    ['a base URL that is not http', { baseUrl: 'ftp://example.com' }, /baseUrl must be an http\(s\) URL/],
    ['a page size over 31', { pageSize: 32 }, /pageSize must be a whole number from 1 to 31/],
    ['a timeout of 0', { timeoutMs: 0 }, /timeoutMs must be a whole number of milliseconds/],
  ];
  for (const [what, patch, message] of cases) {
    it(what, async () => {
      serve();
      const e = await importProviderCosts(target(), { ...fromOpenAi(), ...patch } as ImportProviderCostsOptions).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(KostrackConfigError);
      expect((e as Error).message).toMatch(message);
      expect(server.requests).toEqual([]);
    });
  }
  it('a schema that is not an identifier', async () => {
    serve();
    await expect(importProviderCosts({ pool, schema: 'a;b' }, fromOpenAi())).rejects.toThrow(KostrackConfigError);
    expect(server.requests).toEqual([]);
  });

  it('reconcile: bad ranges and thresholds', async () => {
    await expect(reconcile(target(), { from: '2026-08-03', to: '2026-08-03' })).rejects.toThrow(/reconcile: from \(2026-08-03\) must be before to/);
    await expect(reconcile(target(), { from: 'yesterday', to: '2026-08-03' })).rejects.toThrow(/reconcile: from must be a UTC day/);
    await expect(reconcile(target(), { ...WEEK, threshold: '-1' })).rejects.toThrow(/threshold must be a non-negative decimal string of USD like '0.01', got "-1"/);
    await expect(reconcile(target(), { ...WEEK, threshold: 0.5 as unknown as string })).rejects.toThrow(/threshold must be .* got 0.5/);
    await expect(reconcile(target(), null as never)).rejects.toThrow(KostrackConfigError);
  });
});

describe('pieces', () => {
  it('OpenAI line items name the model before the comma', () => {
    expect(modelOfLineItem('gpt-4o-mini-2024-07-18, input')).toBe('gpt-4o-mini-2024-07-18');
    expect(modelOfLineItem('ft:gpt-4o-mini-2024-07-18:acme::abc, cached input')).toBe('ft:gpt-4o-mini-2024-07-18:acme::abc');
    expect(modelOfLineItem('web search tool calls')).toBe('');
    expect(modelOfLineItem(null)).toBe('');
  });
  it('Anthropic cents become dollars exactly', () => {
    expect(['123.45', '5', '0.5', '12345', '0', '7.000001'].map(centsToDollars)).toEqual(['1.2345', '0.05', '0.005', '123.45', '0.00', '0.07000001']);
  });
  it('coverage rounds half-up to 6 decimals, like the view', () => {
    expect(coverage(usd('2'), usd('3'))).toBe('0.666667');
    expect(coverage(usd('1'), usd('3'))).toBe('0.333333');
    expect(coverage(usd('0.1801'), usd('0.1953'))).toBe('0.922171');
    expect(coverage(usd('5'), usd('4'))).toBe('1.25');
    expect(coverage(usd('1'), 0n)).toBeNull();
  });
});
