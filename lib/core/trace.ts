import { KostrackConfigError } from './errors.js';
import { parseBudget, type BudgetInput } from './run-budget.js';
import { isUuid } from './ids.js';
import { runtime } from './runtime.js';
import { openSpan, runInSpan } from './span-lifecycle.js';
import { EMPTY_TAGS, normalizeTags, type TagInput } from './tags.js';
import { TraceContext } from './trace-context.js';

export interface TraceOptions {
  /** The root span's name (default `trace`); also the child span's name when nested. */
  name?: string | undefined;
  tags?: TagInput | undefined;
  /** Start a separate root even when a trace is active. */
  newTrace?: boolean | undefined;
  /** Continue a trace begun elsewhere (a UUID), e.g. from an incoming `traceparent`. */
  traceId?: string | undefined;
  /** The remote span that called us (a UUID), with `traceId`. */
  parentSpanId?: string | undefined;
  /**
   * A spending limit on this run, e.g. `'0.50'` USD: every tracked call inside reserves its
   * worst-case cost before its request is sent and is refused with `KostrackBudgetExceededError`
   * when that does not fit what is left. Nested budgets: the smallest remainder wins.
   */
  budget?: BudgetInput | undefined;
}

export interface SpanOptions {
  tags?: TagInput | undefined;
  /** A spending limit on this span (and what runs in it), within its parents' (see {@link TraceOptions.budget}). */
  budget?: BudgetInput | undefined;
  /** Attach to this span instead of the active one (for callbacks that lost their context). */
  parent?: TraceContext | undefined;
}

type Body<T> = (context: TraceContext) => T;

/**
 * Runs `fn` in a trace. Every tracked call inside it, across awaits, timers and emitters, is
 * linked by the trace id. Opened inside another trace, it joins it as a child span unless
 * `newTrace` is set. Returns what `fn` returns (the same Promise object, if it returns one).
 */
export function trace<T>(fn: Body<T>): T;
export function trace<T>(options: TraceOptions, fn: Body<T>): T;
export function trace<T>(optionsOrFn: TraceOptions | Body<T>, maybeFn?: Body<T>): T {
  const [options, fn] = typeof optionsOrFn === 'function' ? [{}, optionsOrFn] : [optionsOrFn ?? {}, maybeFn];
  if (typeof fn !== 'function') throw new KostrackConfigError('trace() needs a function to run');
  const spec = validateTraceOptions(options);
  const node = openSpan(spec);
  return node ? runInSpan(node, fn) : fn(disabledContext());
}

/**
 * Runs `fn` in a named child span of the active trace (or of `options.parent`). Outside any
 * trace it opens a standalone trace, so no cost is lost.
 */
export function span<T>(name: string, fn: Body<T>): T;
export function span<T>(name: string, options: SpanOptions, fn: Body<T>): T;
export function span<T>(name: string, optionsOrFn: SpanOptions | Body<T>, maybeFn?: Body<T>): T {
  const [options, fn] = typeof optionsOrFn === 'function' ? [{}, optionsOrFn] : [optionsOrFn ?? {}, maybeFn];
  if (typeof fn !== 'function') throw new KostrackConfigError('span() needs a function to run');
  const spec = validateSpanOptions(name, options);
  const node = openSpan(spec);
  return node ? runInSpan(node, fn) : fn(disabledContext());
}

/** The innermost active span (the trace root when no span is open), or undefined. */
export function currentTrace(): TraceContext | undefined {
  return runtime.als.getStore();
}

/** @internal Validates once (decorators call it at decoration time). */
export function validateTraceOptions(options: TraceOptions) {
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError('trace options must be an object');
  if (options.name !== undefined) validateName(options.name, 'trace name');
  if (options.traceId !== undefined && !isUuid(options.traceId))
    throw new KostrackConfigError(`traceId must be a UUID, got ${JSON.stringify(options.traceId)}`);
  if (options.parentSpanId !== undefined && !isUuid(options.parentSpanId))
    throw new KostrackConfigError(`parentSpanId must be a UUID, got ${JSON.stringify(options.parentSpanId)}`);
  return {
    name: options.name ?? 'trace',
    tags: normalizeTags(options.tags),
    newTrace: options.newTrace === true,
    traceId: options.traceId?.toLowerCase(),
    parentSpanId: options.parentSpanId?.toLowerCase() ?? null,
    budget: parseBudget(options.budget, 'trace'),
  };
}

/** @internal */
export function validateSpanOptions(name: unknown, options: SpanOptions) {
  validateName(name, 'span name');
  if (typeof options !== 'object' || options === null) throw new KostrackConfigError('span options must be an object');
  if (options.parent !== undefined && (typeof options.parent !== 'object' || typeof options.parent?.spanId !== 'string'))
    throw new KostrackConfigError('span parent must be a TraceContext (the value trace() or span() passed you)');
  return { name: name as string, tags: normalizeTags(options.tags), parent: options.parent ?? null, budget: parseBudget(options.budget, `span "${name as string}"`) };
}

function validateName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '')
    throw new KostrackConfigError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  if (name.length > 200) throw new KostrackConfigError(`${what} must be at most 200 characters`);
}

const NIL = '00000000-0000-0000-0000-000000000000';
let disabled: TraceContext | undefined;
/** When Kostrack is disabled the body still gets a context to read; it stays empty. */
function disabledContext(): TraceContext {
  return (disabled ??= new TraceContext(NIL, NIL, null, null, 'disabled', EMPTY_TAGS, EMPTY_TAGS, 'disabled'));
}
