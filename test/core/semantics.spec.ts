import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  configureKostrack,
  currentTrace,
  KostrackConfigError,
  normalizeTags,
  parseTraceparent,
  recordCall,
  span,
  trace,
  traceHeaders,
} from '../../lib/core/index.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

describe('trace and span semantics', () => {
  const sink = useMemorySink();
  afterEach(() => configureKostrack({ enabled: true, tags: {} }));

  it('joins a nested trace() as a child span so its cost stays in the outer workflow', () => {
    const outer = trace({ name: 'outer' }, (o) => {
      trace({ name: 'inner', tags: { step: 'x' } }, (inner) => {
        expect(inner.traceId).toBe(o.traceId);
        expect(inner.parentSpanId).toBe(o.spanId);
        recordCall(callInput('0.25'));
      });
      return o;
    });
    expect(outer.totalCostDecimal).toBe('0.25');
    expect(sink.calls[0].tags).toEqual({ step: 'x', span_name: 'inner' });
  });

  it('starts a separate root with newTrace: true', () => {
    const [outer, inner] = trace((o) => [o, trace({ newTrace: true }, (i) => (recordCall(callInput('1')), i))]);
    expect(inner.traceId).not.toBe(outer.traceId);
    expect(inner.parentSpanId).toBeNull();
    expect(outer.callCount).toBe(0);
    expect(inner.callCount).toBe(1);
  });

  it('opens a standalone trace for a span outside any trace', () => {
    const s = span('orphan', (ctx) => (recordCall(callInput('0.1')), ctx));
    expect(s.isRoot).toBe(true);
    expect(sink.calls[0].traceId).toBe(s.traceId);
    expect(sink.calls[0].parentSpanId).toBeNull();
    expect(sink.spans).toMatchObject([{ name: 'orphan', isRoot: true, status: 'ok', costUsd: 100000000000000n, callCount: 1 }]);
  });

  it('continues a remote trace: same trace id, remote parent, calls point at the local root', () => {
    const traceId = '4bf92f35-77b3-4da6-a3ce-929d0e0e4736';
    const parentSpanId = '00f067aa-0ba9-02b7-0000-000000000000';
    const t = trace({ traceId, parentSpanId }, (ctx) => (recordCall(callInput('0.2')), ctx));
    expect(t.traceId).toBe(traceId);
    expect(t.parentSpanId).toBe(parentSpanId);
    // Not the trace's own root, so the call keeps its link to the span it ran in.
    expect(sink.calls[0].parentSpanId).toBe(t.spanId);
  });

  it('merges tags module < trace < span < call, with client tags lowest', () => {
    configureKostrack({ tags: { project: 'openmanagr', env: 'module' } });
    trace({ tags: { feature: 'month-end-close', env: 'trace' } }, () =>
      span('extract', { tags: { env: 'span' } }, () =>
        recordCall(callInput('0.1', { clientTags: { project: 'client', team: 'fin' }, tags: { user_id: 'u1' } })),
      ),
    );
    expect(sink.calls[0].tags).toEqual({
      project: 'openmanagr',
      team: 'fin',
      env: 'span',
      feature: 'month-end-close',
      user_id: 'u1',
      span_name: 'extract',
    });
  });

  it('records a thrown error on the span and rethrows it untouched', async () => {
    class BoomError extends Error {}
    const err = new BoomError('no');
    expect(() => trace(() => {
      throw err;
    })).toThrow(err);
    await expect(trace(async () => Promise.reject(err))).rejects.toBe(err);
    expect(sink.spans.map((s) => [s.status, s.errorClass])).toEqual([
      ['error', 'BoomError'],
      ['error', 'BoomError'],
    ]);
  });

  it('returns the very Promise object the body returned', () => {
    class TaggedPromise<T> extends Promise<T> {
      extra() {
        return 'kept';
      }
    }
    const p = TaggedPromise.resolve(5) as TaggedPromise<number>;
    const out = trace(() => p);
    expect(out).toBe(p);
    expect(out.extra()).toBe('kept');
  });

  it('never runs a lazy thenable (a query builder) on its own: only the caller awaits it, once', async () => {
    let executions = 0;
    const query = {
      then(onOk: (v: string) => unknown, onErr?: (e: unknown) => unknown) {
        executions += 1;
        return Promise.resolve('rows').then(onOk, onErr);
      },
    };
    const out = trace(() => span('insert', () => query));
    expect(out).toBe(query);
    expect(executions).toBe(0);
    expect(await out).toBe('rows');
    expect(executions).toBe(1);
    expect(sink.spans.map((s) => [s.name, s.status])).toEqual([
      ['insert', 'ok'],
      ['trace', 'ok'],
    ]);
  });

  it('keeps an async iterator in the trace for every next() and ends the span when it finishes', async () => {
    async function* gen() {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1));
        recordCall(callInput('0.01'));
        yield currentTrace()?.name;
      }
    }
    const it = trace({ name: 'streaming' }, () => gen());
    const names: unknown[] = [];
    for await (const n of it) names.push(n);
    expect(names).toEqual(['streaming', 'streaming', 'streaming']);
    expect(sink.calls.every((c) => c.traceId === sink.spans[0].traceId)).toBe(true);
    expect(sink.spans).toMatchObject([{ name: 'streaming', callCount: 3, status: 'ok' }]);
  });

  it('serialises call and span records with their merged tags, dates and exact cost', () => {
    const ctx = trace({ tags: { feature: 'f' } }, (t) => span('s', () => (recordCall(callInput('0.0047', { tags: { user_id: 'u' } })), t)));
    const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);
    const call = JSON.parse(JSON.stringify(sink.calls[0], replacer));
    expect(call).toMatchObject({ traceId: ctx.traceId, costUsd: '4700000000000n', tags: { feature: 'f', user_id: 'u', span_name: 's' } });
    expect(new Date(call.time).getTime()).toBe(sink.calls[0].time.getTime());
    const root = JSON.parse(JSON.stringify(sink.spans[1], replacer));
    expect(root).toMatchObject({ spanId: ctx.spanId, isRoot: true, costUsd: '4700000000000n', callCount: 1, tags: { feature: 'f' }, status: 'ok' });
    expect(Date.parse(root.endTime)).toBeGreaterThanOrEqual(Date.parse(root.startTime));
    expect(JSON.parse(JSON.stringify(ctx))).toMatchObject({ totalCostUsd: '0.0047', callCount: 1 });
  });

  it('records nothing and still runs the body when disabled', () => {
    configureKostrack({ enabled: false });
    expect(trace(() => 42)).toBe(42);
    expect(span('x', (ctx) => ctx.callCount)).toBe(0);
    expect(recordCall(callInput('1'))).toBeNull();
    expect(sink.calls).toHaveLength(0);
    expect(sink.spans).toHaveLength(0);
  });

  it('shares one context store between two loaded copies of the package', async () => {
    // After resetModules the next import evaluates a second, independent copy of the core.
    vi.resetModules();
    const copy = await import('../../lib/core/index.js');
    expect(copy.trace).not.toBe(trace);
    const seen = trace({ name: 'first-copy' }, () => copy.currentTrace()?.name);
    expect(seen).toBe('first-copy');
  });
});

describe('bad input', () => {
  it('rejects non-string, nested and oversized tags with a clear error', () => {
    expect(() => trace({ tags: { a: { b: 1 } as never } }, () => 1)).toThrow(/tag "a" must be a string/);
    expect(() => trace({ tags: { a: null as never } }, () => 1)).toThrow(KostrackConfigError);
    expect(() => span('s', { tags: { v: 'x'.repeat(257) } }, () => 1)).toThrow(/257 characters; the limit is 256/);
    expect(() => span('s', { tags: ['a'] as never }, () => 1)).toThrow(/got an array/);
    expect(() => trace({ tags: { 'bad key': 'x' } }, () => 1)).toThrow(/key "bad key"/);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    expect(() => trace({ tags: many }, () => 1)).toThrow(/more than 32 tags/);
  });

  it('coerces numbers and booleans to strings (documented)', () => {
    expect(normalizeTags({ n: 3, b: false, s: 'x', u: undefined })).toEqual({ n: '3', b: 'false', s: 'x' });
  });

  it('drops bad tags leniently where they are computed at run time', () => {
    const dropped: string[] = [];
    expect(normalizeTags({ ok: 'y', bad: [1] }, 'lenient', (r) => dropped.push(r))).toEqual({ ok: 'y' });
    expect(dropped).toEqual(['tag "bad" must be a string, finite number or boolean, got object']);
  });

  it('rejects empty span names, a missing body and malformed ids', () => {
    expect(() => span('', () => 1)).toThrow(/span name must be a non-empty string/);
    expect(() => span('   ', () => 1)).toThrow(KostrackConfigError);
    expect(() => span(42 as never, () => 1)).toThrow(/span name/);
    expect(() => trace({} as never)).toThrow(/trace\(\) needs a function/);
    expect(() => trace({ traceId: 'abc' }, () => 1)).toThrow(/traceId must be a UUID/);
    expect(() => span('x', { parent: {} as never }, () => 1)).toThrow(/span parent must be a TraceContext/);
  });
});

describe('W3C trace context', () => {
  it('round-trips our own headers losslessly, full span id included', () => {
    const ctx = { traceId: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', spanId: '00f067aa-0ba9-42b7-8a1b-0123456789ab' };
    const headers = traceHeaders(ctx);
    expect(headers.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba942b7-01');
    expect(parseTraceparent(headers.traceparent, headers.tracestate)).toEqual({
      traceId: ctx.traceId,
      parentSpanId: ctx.spanId,
    });
  });

  it("maps a foreign service's 16-hex parent into a UUID and rejects malformed headers", () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736',
      parentSpanId: '00f067aa-0ba9-02b7-0000-000000000000',
    });
    for (const bad of ['', 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 42])
      expect(parseTraceparent(bad)).toBeUndefined();
  });
});
