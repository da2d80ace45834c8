import { readReport } from './admin-report.fetcher.js';
import type { ResolvedImportOptions } from './reconcile.options.js';
import { addRow, addTokens, Shape, type BilledReport, type BilledRow } from './report.shape.js';

/*
 * OpenAI's organization reports, as documented (openai 6.x `resources/admin/organization/usage.ts`,
 * the API reference "Costs" and "Completions usage"):
 *
 * GET /v1/organization/costs?start_time&end_time&bucket_width=1d&group_by[]=line_item&limit&page
 *   → { object: 'page', data: [{ object: 'bucket', start_time, end_time, results: [
 *        { object: 'organization.costs.result', amount: { value: 0.06, currency: 'usd' }, line_item, project_id } ] }],
 *       has_more, next_page }
 * GET /v1/organization/usage/completions?…&group_by[]=model
 *   → the same page of buckets, results `{ model, input_tokens, output_tokens, input_cached_tokens, num_model_requests }`.
 *
 * Costs carry no model field: a line item names the model and what was billed ("gpt-4o-mini-2024-07-18,
 * input"); a line item naming no model (web search, an image line) is a cost tied to no model ('').
 * Usage has the tokens per model; they go on the cost row of the same day and model.
 */

export const OPENAI_COSTS_PATH = '/organization/costs';
export const OPENAI_USAGE_PATH = '/organization/usage/completions';
const LINE_ITEM = /^(.+?),\s*(.+)$/;

/** The model a costs line item is for; '' when it names none. */
export function modelOfLineItem(lineItem: string | null): string {
  if (lineItem === null) return '';
  const m = LINE_ITEM.exec(lineItem.trim());
  return m ? m[1].trim() : '';
}

export async function fetchOpenAiCosts(o: ResolvedImportOptions): Promise<BilledReport> {
  const shape = new Shape('openai');
  const range = new Set(o.days);
  const counter = { pages: 0 };
  const headers = { authorization: `Bearer ${o.adminKey}` };
  const window: [string, string][] = [
    ['start_time', String(Date.parse(`${o.fromDay}T00:00:00Z`) / 1000)],
    ['end_time', String(Date.parse(`${o.toDay}T00:00:00Z`) / 1000)],
    ['bucket_width', '1d'],
    ['limit', String(o.pageSize)],
  ];
  // Both reports are read and checked before anything is stored.
  const costs = await readReport(o, OPENAI_COSTS_PATH, [...window, ['group_by[]', 'line_item']], headers, counter);
  const usage = await readReport(o, OPENAI_USAGE_PATH, [...window, ['group_by[]', 'model']], headers, counter);

  const rows = new Map<string, BilledRow>();
  const days = new Set<string>();
  costs.forEach((b, i) => {
    const { day, results } = bucketOf(shape, b, range, `costs bucket ${i}`);
    days.add(day);
    results.forEach((r, j) => {
      const where = `costs ${day} result ${j}`;
      const result = shape.object(r, where);
      const amount = shape.object(result.amount, `${where}.amount`);
      shape.usdCurrency(amount.currency, `${where}.amount.currency`);
      const line = result.line_item;
      if (line !== undefined && line !== null && typeof line !== 'string') shape.fail('malformed', `${where}.line_item: expected a string`);
      addRow(rows, {
        day,
        model: modelOfLineItem((line as string | null | undefined) ?? null),
        amount: shape.amount(amount.value, `${where}.amount.value`),
        inputTokens: null,
        outputTokens: null,
        cachedTokens: null,
        requests: null,
      });
    });
  });
  usage.forEach((b, i) => {
    const { day, results } = bucketOf(shape, b, range, `usage bucket ${i}`);
    results.forEach((r, j) => {
      const where = `usage ${day} result ${j}`;
      const result = shape.object(r, where);
      const model = typeof result.model === 'string' ? result.model : '';
      addTokens(rows, day, model, {
        inputTokens: shape.count(result.input_tokens, `${where}.input_tokens`),
        outputTokens: shape.count(result.output_tokens, `${where}.output_tokens`),
        cachedTokens: shape.count(result.input_cached_tokens, `${where}.input_cached_tokens`),
        requests: shape.count(result.num_model_requests, `${where}.num_model_requests`),
      });
    });
  });
  return { rows: [...rows.values()], days, pages: counter.pages, source: 'openai:organization/costs' };
}

function bucketOf(shape: Shape, value: unknown, range: ReadonlySet<string>, where: string): { day: string; results: unknown[] } {
  const bucket = shape.object(value, where);
  const start = bucket.start_time;
  const end = bucket.end_time;
  if (typeof start !== 'number' || typeof end !== 'number') shape.fail('malformed', `${where}: start_time and end_time must be Unix seconds`);
  const day = shape.day(start * 1000, end * 1000, range, where);
  // The reference shows the list as `result` in places; the API and SDK send `results`.
  return { day, results: shape.array(bucket.results ?? bucket.result, `${where} (${day}).results`) };
}
