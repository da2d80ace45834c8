import { drainRecords } from './deferred-records.js';
import { newId } from './ids.js';
import { ambientTrace, runtime } from './runtime.js';
import type { Tags } from './tags.js';
import { TraceContext } from './trace-context.js';
import type { SpanRecord } from './call-record.js';
import type { RunBudget } from './run-budget.js';

/** What opens a span: the public `trace()`/`span()` and the decorators all come through here. */
export interface SpanSpec {
  name: string;
  /** Already normalised tags of this span. */
  tags: Tags;
  /** Explicit parent; otherwise the active context (unless `newTrace`). */
  parent?: TraceContext | null | undefined;
  newTrace?: boolean | undefined;
  /** Continue a remote trace: its id, and the remote span that called us. */
  traceId?: string | undefined;
  parentSpanId?: string | null | undefined;
  /** A spending limit on this span, already validated. */
  budget?: RunBudget | null | undefined;
}

/** Opens a span; null when Kostrack is disabled (callers then run the function bare). */
export function openSpan(spec: SpanSpec): TraceContext | null {
  if (!runtime.enabled) return null;
  const parent = spec.newTrace || spec.traceId ? null : (spec.parent ?? runtime.als.getStore() ?? null);
  if (parent) {
    const child = new TraceContext(parent.traceId, newId(), parent.spanId, parent, spec.name, parent.tags, spec.tags, runtime.serviceId);
    if (spec.budget) child.setBudget(spec.budget);
    return child;
  }
  // An explicit (remote) trace id wins; else an ambient one (OpenTelemetry), else a fresh id.
  const ambient = spec.traceId || !runtime.traceIdSource ? undefined : ambientTrace();
  const traceId = spec.traceId ?? ambient?.traceId ?? newId();
  const parentSpanId = ambient ? ambient.parentSpanId : (spec.parentSpanId ?? null);
  const root = new TraceContext(traceId, newId(), parentSpanId, null, spec.name, runtime.tags, spec.tags, runtime.serviceId);
  if (spec.budget) root.setBudget(spec.budget);
  return root;
}

/** Ends a span once and hands its record to the sinks. */
export function closeSpan(node: TraceContext, error?: unknown): void {
  if (node.endMs !== null) return;
  node.endMs = Date.now();
  // Calls that finished inside the span reach the sinks, and its totals, before the span does.
  drainRecords();
  node.status = error === undefined ? 'ok' : 'error';
  node.errorClass = error === undefined ? null : errorClassOf(error);
  const record = new FinishedSpan(node);
  for (const sink of runtime.sinks) {
    try {
      sink.recordSpan(record);
    } catch (e) {
      runtime.warn(`Kostrack sink failed to take a span: ${errorClassOf(e)}`);
    }
  }
}

/** A span as the sinks get it; Dates are built when read (by the writer, in a batch). */
class FinishedSpan implements SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly isRoot: boolean;
  readonly name: string;
  readonly serviceId: string;
  readonly status: 'ok' | 'error';
  readonly errorClass: string | null;
  readonly costUsd: bigint;
  readonly callCount: number;
  readonly startMs: number;
  readonly endMs: number;
  private readonly node: TraceContext;

  constructor(node: TraceContext) {
    this.node = node;
    this.traceId = node.traceId;
    this.spanId = node.spanId;
    this.parentSpanId = node.parentSpanId;
    this.isRoot = node.parent === null;
    this.name = node.name;
    this.serviceId = node.serviceId;
    this.status = node.status === 'error' ? 'error' : 'ok';
    this.errorClass = node.errorClass;
    this.costUsd = node.totalCost;
    this.callCount = node.callCount;
    this.startMs = node.startMs;
    this.endMs = node.endMs!;
  }

  get tags(): Tags {
    return this.node.tags;
  }

  get startTime(): Date {
    return new Date(this.startMs);
  }

  get endTime(): Date {
    return new Date(this.endMs);
  }

  /** The record's fields (money stays a bigint of 1e-15 USD; serialise it with a replacer). */
  toJSON(): SpanRecord {
    const { node: _node, ...fields } = this;
    return { ...fields, tags: this.tags, startTime: this.startTime, endTime: this.endTime };
  }
}

/** The class name of a thrown value, e.g. `RateLimitError`; never its message. */
export function errorClassOf(error: unknown): string {
  if (error instanceof Error) return error.constructor?.name || error.name || 'Error';
  return error === null ? 'null' : typeof error;
}

/**
 * Runs `fn` inside `node` and closes the span when its result settles: at once for plain values,
 * when a Promise settles (the same Promise object is returned, so subclasses keep their methods),
 * and when an async iterator finishes (it re-enters the context at every `next`).
 */
export function runInSpan<T>(node: TraceContext, fn: (context: TraceContext) => T): T {
  let result: T;
  try {
    // run() passes `node` on to fn: no closure per span on the hot path.
    result = runtime.als.run(node, fn, node);
  } catch (error) {
    closeSpan(node, error);
    throw error;
  }
  return settle(node, result);
}

/** Closes `node` when `result` completes; see {@link runInSpan}. */
export function settle<T>(node: TraceContext, result: T): T {
  // Only real Promises (subclasses included) are followed: calling then() on a lazy thenable (a
  // Knex or Drizzle query builder, a Mongoose Query) would run it once more for every span.
  if (result instanceof Promise) {
    // A second branch off the same promise: the caller's promise is returned untouched.
    result.then(
      () => closeSpan(node),
      (error: unknown) => closeSpan(node, error),
    );
    return result;
  }
  if (isAsyncIterator(result)) return wrapAsyncIterator(node, result) as T;
  closeSpan(node);
  return result;
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' &&
    typeof (value as AsyncIterator<unknown>).next === 'function'
  );
}

function wrapAsyncIterator<V>(node: TraceContext, it: AsyncIterator<V> & AsyncIterable<V>): AsyncGenerator<V> {
  const step = (call: () => Promise<IteratorResult<V>>): Promise<IteratorResult<V>> =>
    runtime.als.run(node, call).then(
      (r) => {
        if (r.done) closeSpan(node);
        return r;
      },
      (error: unknown) => {
        closeSpan(node, error);
        throw error;
      },
    );
  const wrapped: AsyncGenerator<V> = {
    next: (...args: [] | [unknown]) => step(() => it.next(...args)),
    return: (value?: unknown) =>
      it.return ? step(() => it.return!(value)) : (closeSpan(node), Promise.resolve({ done: true, value } as IteratorResult<V>)),
    throw: (error?: unknown) => (it.throw ? step(() => it.throw!(error)) : (closeSpan(node, error), Promise.reject(error))),
    [Symbol.asyncIterator]() {
      return wrapped;
    },
    [Symbol.asyncDispose]: async () => {
      await wrapped.return(undefined);
    },
  } as AsyncGenerator<V>;
  return wrapped;
}
