import { BadRequestException } from '@nestjs/common';

/** Position after the last row of a page: its sort value and trace id (the tie-breaker). */
export interface TraceCursor {
  sort: 'time' | 'cost';
  order: 'asc' | 'desc';
  /** `total_cost_usd` as text, or `started_at` as ISO text with microseconds (Date would drop them). */
  value: string;
  traceId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COST = /^\d{1,20}(?:\.\d{1,20})?$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Opaque to clients: base64url JSON. It carries the sort so a cursor cannot be replayed under another one. */
export function encodeCursor(c: TraceCursor): string {
  return Buffer.from(JSON.stringify([c.sort, c.order, c.value, c.traceId])).toString('base64url');
}

export function decodeCursor(text: string, sort: TraceCursor['sort'], order: TraceCursor['order']): TraceCursor {
  const invalid = () => new BadRequestException('cursor is invalid, or was made for another sort or order');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw invalid();
  const [s, o, value, traceId] = parsed as unknown[];
  if (s !== sort || o !== order || typeof value !== 'string' || typeof traceId !== 'string' || !UUID.test(traceId)) throw invalid();
  if (!(sort === 'cost' ? COST : TIME).test(value)) throw invalid();
  return { sort, order, value, traceId };
}
