import { readReport } from './admin-report.fetcher.js';
import type { ResolvedImportOptions } from './reconcile.options.js';
import { addRow, addTokens, Shape, type BilledReport, type BilledRow } from './report.shape.js';

/*
 * Anthropic's Admin API usage and cost reports, as documented (API reference "Get Cost Report",
 * "Get Messages Usage Report"):
 *
 * GET /v1/organizations/cost_report?starting_at&ending_at&bucket_width=1d&group_by[]=description&limit&page
 *   → { data: [{ starting_at, ending_at, results: [{ amount: '123.45', currency: 'USD', model, cost_type,
 *        token_type, service_tier, context_window, description, workspace_id }] }], has_more, next_page }
 *   `amount` is in the currency's lowest units (cents) as a decimal string: "123.45" is $1.2345.
 *   `model` is null for costs tied to no model (web search, code execution).
 * GET /v1/organizations/usage_report/messages?…&group_by[]=model
 *   → buckets of `{ model, uncached_input_tokens, cache_read_input_tokens, cache_creation:
 *        { ephemeral_5m_input_tokens, ephemeral_1h_input_tokens }, output_tokens, server_tool_use }`.
 * Headers: `x-api-key` (the admin key) and `anthropic-version`.
 */

export const ANTHROPIC_COST_PATH = '/v1/organizations/cost_report';
export const ANTHROPIC_USAGE_PATH = '/v1/organizations/usage_report/messages';
export const ANTHROPIC_VERSION = '2023-06-01';

/** Cents as a decimal string → dollars, exactly (moving the point, no division). */
export function centsToDollars(cents: string): string {
  const [whole, frac = ''] = cents.trim().split('.');
  const digits = whole.padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}${frac}`;
}

export async function fetchAnthropicCosts(o: ResolvedImportOptions): Promise<BilledReport> {
  const shape = new Shape('anthropic');
  const range = new Set(o.days);
  const counter = { pages: 0 };
  const headers = { 'x-api-key': o.adminKey, 'anthropic-version': ANTHROPIC_VERSION };
  const window: [string, string][] = [
    ['starting_at', `${o.fromDay}T00:00:00Z`],
    ['ending_at', `${o.toDay}T00:00:00Z`],
    ['bucket_width', '1d'],
    ['limit', String(o.pageSize)],
  ];
  const costs = await readReport(o, ANTHROPIC_COST_PATH, [...window, ['group_by[]', 'description']], headers, counter);
  const usage = await readReport(o, ANTHROPIC_USAGE_PATH, [...window, ['group_by[]', 'model']], headers, counter);

  const rows = new Map<string, BilledRow>();
  const days = new Set<string>();
  costs.forEach((b, i) => {
    const { day, results } = bucketOf(shape, b, range, `cost_report bucket ${i}`);
    days.add(day);
    results.forEach((r, j) => {
      const where = `cost_report ${day} result ${j}`;
      const result = shape.object(r, where);
      shape.usdCurrency(result.currency, `${where}.currency`);
      // Cents as a string per the reference; checked as an amount first, so "-5", "NaN" or 12 in cents never pass.
      const cents = typeof result.amount === 'string' ? result.amount : shape.fail('amount', `${where}.amount: expected a decimal string of cents, got ${JSON.stringify(result.amount ?? null)}`);
      shape.amount(cents, `${where}.amount`);
      const model = result.model;
      if (model !== undefined && model !== null && typeof model !== 'string') shape.fail('malformed', `${where}.model: expected a string`);
      addRow(rows, {
        day,
        model: (model as string | null | undefined) ?? '',
        amount: shape.amount(centsToDollars(cents), `${where}.amount`),
        inputTokens: null,
        outputTokens: null,
        cachedTokens: null,
        requests: null,
      });
    });
  });
  usage.forEach((b, i) => {
    const { day, results } = bucketOf(shape, b, range, `usage_report bucket ${i}`);
    results.forEach((r, j) => {
      const where = `usage_report ${day} result ${j}`;
      const result = shape.object(r, where);
      const model = typeof result.model === 'string' ? result.model : '';
      const uncached = shape.count(result.uncached_input_tokens, `${where}.uncached_input_tokens`);
      const read = shape.count(result.cache_read_input_tokens, `${where}.cache_read_input_tokens`);
      const creation = result.cache_creation === undefined || result.cache_creation === null ? {} : shape.object(result.cache_creation, `${where}.cache_creation`);
      const write5m = shape.count(creation.ephemeral_5m_input_tokens, `${where}.cache_creation.ephemeral_5m_input_tokens`);
      const write1h = shape.count(creation.ephemeral_1h_input_tokens, `${where}.cache_creation.ephemeral_1h_input_tokens`);
      const parts = [uncached, read, write5m, write1h];
      addTokens(rows, day, model, {
        // Every input token, as Kostrack counts input_tokens: uncached, cache reads and cache writes.
        inputTokens: parts.every((p) => p === null) ? null : parts.reduce<number>((a, p) => a + (p ?? 0), 0),
        outputTokens: shape.count(result.output_tokens, `${where}.output_tokens`),
        cachedTokens: read,
        requests: null,
      });
    });
  });
  return { rows: [...rows.values()], days, pages: counter.pages, source: 'anthropic:organizations/cost_report' };
}

function bucketOf(shape: Shape, value: unknown, range: ReadonlySet<string>, where: string): { day: string; results: unknown[] } {
  const bucket = shape.object(value, where);
  if (typeof bucket.starting_at !== 'string' || typeof bucket.ending_at !== 'string') shape.fail('malformed', `${where}: starting_at and ending_at must be RFC 3339 times`);
  const day = shape.day(Date.parse(bucket.starting_at), Date.parse(bucket.ending_at), range, where);
  return { day, results: shape.array(bucket.results, `${where} (${day}).results`) };
}
