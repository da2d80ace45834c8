import { hexToUuid, uuidToHex } from './ids.js';
import type { TraceContext } from './trace-context.js';

/** Where a remote caller left off: the ids to continue with `trace({ traceId, parentSpanId })`. */
export interface RemoteParent {
  traceId: string;
  parentSpanId: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZEROS = /^0+$/;
/** Our vendor key in `tracestate`: the full span UUID, which W3C's 16-hex parent id cannot hold. */
const STATE_KEY = 'kostrack';

/**
 * Reads W3C `traceparent` (and our `tracestate` entry). Returns undefined for anything malformed,
 * so a bad header starts a fresh trace instead of failing the request.
 */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): RemoteParent | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 512) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!m || m[1] === 'ff' || ZEROS.test(m[2]) || ZEROS.test(m[3])) return undefined;
  const parentHex = m[3];
  let fullParent: string | undefined;
  if (typeof tracestate === 'string') {
    for (const entry of tracestate.split(',')) {
      const [key, value] = entry.trim().split('=');
      if (key === STATE_KEY && /^[0-9a-f]{32}$/.test(value ?? '') && value.startsWith(parentHex)) fullParent = value;
    }
  }
  return { traceId: hexToUuid(m[2]), parentSpanId: hexToUuid(fullParent ?? parentHex) };
}

/** Headers that let another service continue `context`'s trace (`traceparent` and `tracestate`). */
export function traceHeaders(context: Pick<TraceContext, 'traceId' | 'spanId'>): { traceparent: string; tracestate: string } {
  const spanHex = uuidToHex(context.spanId);
  return {
    traceparent: `00-${uuidToHex(context.traceId)}-${spanHex.slice(0, 16)}-01`,
    tracestate: `${STATE_KEY}=${spanHex}`,
  };
}

/**
 * Reads `traceparent`/`tracestate` from any header carrier a transport hands over: a plain object
 * (Node/Express headers, Kafka headers with Buffer values, RabbitMQ properties), or anything with
 * `get(name)` (fetch `Headers`, a `Map`, NATS `MsgHdrs`, gRPC `Metadata`).
 */
export function remoteParentFrom(carrier: unknown): RemoteParent | undefined {
  if (carrier === null || typeof carrier !== 'object') return undefined;
  return parseTraceparent(headerValue(carrier, 'traceparent'), headerValue(carrier, 'tracestate'));
}

function headerValue(carrier: object, name: string): string | undefined {
  let raw: unknown;
  try {
    const get = (carrier as { get?: unknown }).get;
    raw = typeof get === 'function' ? (get as (k: string) => unknown).call(carrier, name) : undefined;
    if (raw === undefined || raw === null) {
      const record = carrier as Record<string, unknown>;
      raw = record[name] ?? record[name.charAt(0).toUpperCase() + name.slice(1)];
    }
  } catch {
    return undefined;
  }
  // Node joins repeated headers into arrays, gRPC metadata returns arrays; the first one counts.
  if (Array.isArray(raw)) raw = raw[0];
  if (typeof raw === 'string') return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
  return undefined;
}
