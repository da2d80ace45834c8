import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';

interface RawRequest {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The admin API's bodies: JSON only, refused the same way (415) on both platforms. Left to them,
 * Express parses only `application/json` and hands the handler an empty body for anything else
 * (a form, `text/plain`, `application/vnd.api+json`), which then fails validation as if fields
 * were missing, while Fastify answers 415 for types it has no parser for and parses forms. Only
 * JSON also means a cross-site form (`text/plain`, urlencoded, multipart: no CORS preflight)
 * cannot write prices or budgets where a host guard accepts cookies. A body must be
 * `application/json`, in UTF-8 (RFC 8259) if a charset is given; requests without one pass, and
 * validation answers them.
 */
export function jsonBodiesOnly(req: RawRequest, _res: unknown, next: () => void): void {
  if (!WITH_BODY.has(req.method ?? '') || !hasBody(req)) return next();
  if (!isJson(req.headers['content-type'])) throw new UnsupportedMediaTypeException('Kostrack admin API bodies must be JSON (Content-Type: application/json)');
  // Express has parsed the body by now; Fastify parses it after middleware, and its parser
  // refuses these keys itself (secure-json-parse). class-transformer drops them before
  // validation sees them, so on Express they would pass silently where every other unknown
  // property is refused.
  const key = prototypeKey(req.body, 0);
  if (key !== undefined) throw new BadRequestException(`property ${key} should not exist`);
  next();
}

function hasBody(req: RawRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isJson(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string') return false;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

/**
 * The first key of a parsed JSON value that Fastify's parser refuses: `__proto__`, or
 * `constructor` holding a `prototype` (bodies are small and shallow).
 */
function prototypeKey(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value !== 'object' || depth > 8) return undefined;
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (key === '__proto__' || (key === 'constructor' && inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype'))) return key;
    const nested = prototypeKey(inner, depth + 1);
    if (nested !== undefined) return nested;
  }
  return undefined;
}
