import type { ServerResponse } from 'node:http';
import { json } from './loopback.server.js';

/** A fault a report page answers with, for the import's failure paths. */
export interface AdminReportFault {
  /** Which report: OpenAI `costs` / `usage`, Anthropic `cost_report` / `usage_report`. */
  report: string;
  /** The page (1-based) that fails; earlier pages answer normally. */
  page: number;
  /**
   * `http500`: an error status; `truncate`: the body cut off halfway (a dropped connection);
   * `no-cursor`: has_more without next_page; `nonsense`: the page's first amount becomes `value`.
   */
  mode: 'http500' | 'truncate' | 'no-cursor' | 'nonsense';
  value?: unknown;
}

const DAY_MS = 86_400_000;

/** Every UTC day in [from, to) in ms: the reports send a bucket per day, empty or not. */
export function daysBetween(fromMs: number, toMs: number): number[] {
  const days: number[] = [];
  for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t < toMs; t += DAY_MS) days.push(t);
  return days;
}

/**
 * One page of buckets the way both APIs page: `limit` buckets from the opaque `page` cursor on,
 * `has_more` and `next_page` for the rest. Applies `fault` when it names this report and page.
 */
export function sendPage(
  res: ServerResponse,
  query: URLSearchParams,
  buckets: Record<string, unknown>[],
  report: string,
  fault: AdminReportFault | null,
  amountOf: (bucket: Record<string, unknown>, value: unknown) => Record<string, unknown>,
): void {
  const limit = Number(query.get('limit') ?? 7);
  const cursor = query.get('page');
  const offset = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString('utf8').replace(/^offset:/, ''));
  const page = Math.floor(offset / limit) + 1;
  let data = buckets.slice(offset, offset + limit);
  const more = offset + limit < buckets.length;
  const faulty = fault && fault.report === report && fault.page === page ? fault : null;
  if (faulty?.mode === 'http500') return json(res, { error: { message: 'The server had an error while processing your request.', type: 'server_error' } }, 500);
  if (faulty?.mode === 'nonsense' && data.length > 0) data = [amountOf(data[0], faulty.value), ...data.slice(1)];
  const body = {
    object: 'page',
    data,
    has_more: more,
    next_page: more && faulty?.mode !== 'no-cursor' ? Buffer.from(`offset:${offset + limit}`).toString('base64url') : null,
  };
  if (faulty?.mode === 'truncate') {
    const text = JSON.stringify(body);
    const half = text.slice(0, Math.floor(text.length / 2));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(half) });
    res.end(half);
    return;
  }
  json(res, body);
}
