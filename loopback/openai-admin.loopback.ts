import { daysBetween, sendPage, type AdminReportFault } from './admin-report.pages.js';
import { json, type LoopbackServer } from './loopback.server.js';

/*
 * OpenAI's organization Costs and Completions usage APIs (openai 6.x
 * `resources/admin/organization/usage.ts`): pages of daily buckets `{ object: 'bucket',
 * start_time, end_time, results }`, `has_more`/`next_page` cursors, the admin key as a Bearer token.
 */

export interface OpenAiAdminScript {
  adminKey: string;
  /** `organization.costs.result` objects per UTC day (`YYYY-MM-DD`). */
  costs: Map<string, unknown[]>;
  /** `organization.usage.completions.result` objects per UTC day. */
  usage: Map<string, unknown[]>;
  fault: AdminReportFault | null;
}

export function openAiAdminScript(adminKey = 'sk-admin-loopback-0123456789'): OpenAiAdminScript {
  return { adminKey, costs: new Map(), usage: new Map(), fault: null };
}

/** A costs result grouped by line item ("<model>, input", "<model>, output", or a line naming no model). */
export function costResult(lineItem: string | null, value: unknown, currency: unknown = 'usd') {
  return { object: 'organization.costs.result', amount: { value, currency }, line_item: lineItem, project_id: null };
}

/** A completions usage result grouped by model. */
export function usageResult(model: string, input: number, output: number, cached = 0, requests = 0) {
  return {
    object: 'organization.usage.completions.result',
    input_tokens: input,
    output_tokens: output,
    input_cached_tokens: cached,
    input_audio_tokens: 0,
    output_audio_tokens: 0,
    num_model_requests: requests,
    project_id: null,
    user_id: null,
    api_key_id: null,
    model,
    batch: null,
    service_tier: null,
  };
}

/** Appends `results` to `day`'s list in `into`. */
export function addResults(into: Map<string, unknown[]>, day: string, ...results: unknown[]): void {
  into.set(day, [...(into.get(day) ?? []), ...results]);
}

/** `GET /v1/organization/costs` and `GET /v1/organization/usage/completions`. */
export function openAiAdminRoutes(server: LoopbackServer, script: OpenAiAdminScript): LoopbackServer {
  const report = (name: 'costs' | 'usage') => (req: { path: string; headers: Record<string, unknown> }, res: Parameters<Parameters<LoopbackServer['route']>[2]>[1]) => {
    if (req.headers.authorization !== `Bearer ${script.adminKey}`)
      return json(res, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, 401);
    const query = new URL(req.path, 'http://loopback').searchParams;
    const start = Number(query.get('start_time')) * 1000;
    const end = query.has('end_time') ? Number(query.get('end_time')) * 1000 : start + 7 * 86_400_000;
    const source = name === 'costs' ? script.costs : script.usage;
    const buckets = daysBetween(start, end).map((t) => ({
      object: 'bucket',
      start_time: t / 1000,
      end_time: t / 1000 + 86_400,
      results: source.get(new Date(t).toISOString().slice(0, 10)) ?? [],
    }));
    sendPage(res, query, buckets, name, script.fault, (bucket, value) => {
      const [first, ...rest] = bucket.results as { amount?: Record<string, unknown> }[];
      return { ...bucket, results: first ? [{ ...first, amount: { ...first.amount, value } }, ...rest] : [] };
    });
  };
  server.route('GET', /^\/v1\/organization\/costs(\?.*)?$/, report('costs'));
  server.route('GET', /^\/v1\/organization\/usage\/completions(\?.*)?$/, report('usage'));
  return server;
}
