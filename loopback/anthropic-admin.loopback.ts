import { daysBetween, sendPage, type AdminReportFault } from './admin-report.pages.js';
import { json, type LoopbackServer } from './loopback.server.js';

/*
 * Anthropic's Admin API cost and usage reports (API reference "Get Cost Report", "Get Messages
 * Usage Report"): pages of daily buckets `{ starting_at, ending_at, results }`, `has_more`/
 * `next_page`, the admin key in `x-api-key`. Cost amounts are cents as decimal strings.
 */

export interface AnthropicAdminScript {
  adminKey: string;
  /** cost_report results per UTC day (`YYYY-MM-DD`). */
  costs: Map<string, unknown[]>;
  /** usage_report/messages results per UTC day. */
  usage: Map<string, unknown[]>;
  fault: AdminReportFault | null;
}

export function anthropicAdminScript(adminKey = 'sk-ant-admin01-loopback-0123456789'): AnthropicAdminScript {
  return { adminKey, costs: new Map(), usage: new Map(), fault: null };
}

/** A cost_report result grouped by description: `cents` is the amount in cents as a decimal string. */
export function costItem(model: string | null, cents: unknown, tokenType = 'output_tokens', currency: unknown = 'USD') {
  return {
    amount: cents,
    currency,
    cost_type: model === null ? 'web_search' : 'tokens',
    description: model === null ? 'Web Search' : `${model} ${tokenType}`,
    model,
    service_tier: model === null ? null : 'standard',
    token_type: model === null ? null : tokenType,
    context_window: model === null ? null : '0-200k',
    inference_geo: null,
    workspace_id: null,
  };
}

/** A usage_report/messages result grouped by model. */
export function messagesUsage(model: string, uncached: number, output: number, cacheRead = 0, write5m = 0, write1h = 0) {
  return {
    api_key_id: null,
    workspace_id: null,
    model,
    service_tier: null,
    context_window: null,
    uncached_input_tokens: uncached,
    cache_read_input_tokens: cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: write5m, ephemeral_1h_input_tokens: write1h },
    output_tokens: output,
    server_tool_use: { web_search_requests: 0 },
  };
}

/** `GET /v1/organizations/cost_report` and `GET /v1/organizations/usage_report/messages`. */
export function anthropicAdminRoutes(server: LoopbackServer, script: AnthropicAdminScript): LoopbackServer {
  const report = (name: 'cost_report' | 'usage_report') => (req: { path: string; headers: Record<string, unknown> }, res: Parameters<Parameters<LoopbackServer['route']>[2]>[1]) => {
    if (req.headers['x-api-key'] !== script.adminKey)
      return json(res, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }, 401);
    if (typeof req.headers['anthropic-version'] !== 'string')
      return json(res, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } }, 400);
    const query = new URL(req.path, 'http://loopback').searchParams;
    const start = Date.parse(query.get('starting_at') ?? '');
    const end = query.has('ending_at') ? Date.parse(query.get('ending_at')!) : start + 7 * 86_400_000;
    const source = name === 'cost_report' ? script.costs : script.usage;
    const buckets = daysBetween(start, end).map((t) => ({
      starting_at: new Date(t).toISOString().replace('.000Z', 'Z'),
      ending_at: new Date(t + 86_400_000).toISOString().replace('.000Z', 'Z'),
      results: source.get(new Date(t).toISOString().slice(0, 10)) ?? [],
    }));
    sendPage(res, query, buckets, name, script.fault, (bucket, value) => {
      const [first, ...rest] = bucket.results as Record<string, unknown>[];
      return { ...bucket, results: first ? [{ ...first, amount: value }, ...rest] : [] };
    });
  };
  server.route('GET', /^\/v1\/organizations\/cost_report(\?.*)?$/, report('cost_report'));
  server.route('GET', /^\/v1\/organizations\/usage_report\/messages(\?.*)?$/, report('usage_report'));
  return server;
}
