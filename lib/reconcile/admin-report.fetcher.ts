import { KostrackProviderCostsError } from './provider-costs.error.js';
import type { ResolvedImportOptions } from './reconcile.options.js';

/** A cursor that never ends is a bug on one side or the other; a year of days fits in 366 pages. */
const MAX_PAGES = 400;

/**
 * Reads every page of one admin report (`data`, `has_more`, `next_page`: both providers page this
 * way) and returns the buckets of all pages. Any failure throws {@link KostrackProviderCostsError}
 * before the caller has stored anything. No retries: an import is one transaction that is safe to
 * run again, so the host's scheduler (or a person) retries with the whole range.
 */
export async function readReport(
  o: ResolvedImportOptions,
  path: string,
  query: [string, string][],
  headers: Record<string, string>,
  counter: { pages: number },
): Promise<unknown[]> {
  const buckets: unknown[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (let n = 1; ; n++) {
    if (n > MAX_PAGES) throw new KostrackProviderCostsError(o.provider, 'pagination', `${path}: more than ${MAX_PAGES} pages; the cursor does not end`);
    const params = new URLSearchParams(query);
    if (cursor !== null) params.set('page', cursor);
    const page = await getJson(o, `${path}?${params}`, headers);
    counter.pages++;
    if (typeof page !== 'object' || page === null || Array.isArray(page) || !Array.isArray((page as { data?: unknown }).data))
      throw new KostrackProviderCostsError(o.provider, 'malformed', `${path} page ${n}: expected an object with a data array`);
    const { data, has_more: more, next_page: next } = page as { data: unknown[]; has_more?: unknown; next_page?: unknown };
    buckets.push(...data);
    if (more !== true && more !== false) throw new KostrackProviderCostsError(o.provider, 'malformed', `${path} page ${n}: has_more is missing`);
    if (!more) return buckets;
    if (typeof next !== 'string' || next.length === 0)
      throw new KostrackProviderCostsError(o.provider, 'pagination', `${path} page ${n}: has_more is true but next_page is ${JSON.stringify(next ?? null)}`);
    if (seen.has(next)) throw new KostrackProviderCostsError(o.provider, 'pagination', `${path} page ${n}: next_page repeats an earlier cursor`);
    seen.add(next);
    cursor = next;
  }
}

async function getJson(o: ResolvedImportOptions, pathAndQuery: string, headers: Record<string, string>): Promise<unknown> {
  const path = pathAndQuery.split('?')[0];
  let res: Response;
  let text: string;
  try {
    res = await o.fetch(`${o.baseUrl}${pathAndQuery}`, { method: 'GET', headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(o.timeoutMs) });
    text = await res.text();
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string }; message?: string };
    const why = err.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (err.cause?.code ?? err.message ?? String(e));
    throw new KostrackProviderCostsError(o.provider, 'network', `${path}: ${why}`);
  }
  if (!res.ok) {
    // The provider's own message says what to do (a wrong key, a missing scope); the key is never in it.
    let detail = '';
    try {
      const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } };
      if (typeof body?.error?.message === 'string') detail = `: ${body.error.message.slice(0, 300)}`;
    } catch {
      // Not JSON: the status says enough.
    }
    throw new KostrackProviderCostsError(o.provider, 'http', `${path} answered HTTP ${res.status}${detail}`, res.status);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new KostrackProviderCostsError(o.provider, 'malformed', `${path}: the answer is not complete JSON (${text.length} bytes; a truncated page?)`);
  }
}
