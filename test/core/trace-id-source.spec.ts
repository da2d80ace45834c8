import { afterEach, describe, expect, it } from 'vitest';
import { remoteParentFrom, setTraceIdSource, span, trace, traceHeaders } from '../../lib/core/index.js';

const AMBIENT = { traceId: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', parentSpanId: '00f067aa-0ba9-02b7-0000-000000000000' };
let undo = () => {};
afterEach(() => undo());

describe('core: traceIdSource (ambient trace ids for bridges)', () => {
  it('a new root takes the source id and records its caller; nested spans and explicit ids ignore it', () => {
    undo = setTraceIdSource(() => AMBIENT);
    trace((t) => {
      expect(t.traceId).toBe(AMBIENT.traceId);
      expect(t.parentSpanId).toBe(AMBIENT.parentSpanId);
      span('child', (s) => expect(s.parentSpanId).toBe(t.spanId));
      trace((inner) => expect(inner.root).toBe(t));
    });
    const remote = { traceId: '11111111-2222-4333-8444-555555555555', parentSpanId: '66666666-7777-4888-9999-000000000000' };
    trace(remote, (t) => expect([t.traceId, t.parentSpanId]).toEqual([remote.traceId, remote.parentSpanId]));
  });

  it('nothing, a malformed answer or a throwing source falls back to a fresh id', () => {
    for (const source of [() => undefined, () => ({ traceId: 'nope' }), () => { throw new Error('x'); }]) {
      undo = setTraceIdSource(source as never);
      trace((t) => {
        expect(t.traceId).not.toBe(AMBIENT.traceId);
        expect(t.parentSpanId).toBeNull();
      });
      undo();
    }
  });

  it('the remover only removes its own source', () => {
    const first = setTraceIdSource(() => AMBIENT);
    undo = setTraceIdSource(() => undefined);
    first();
    trace((t) => expect(t.traceId).not.toBe(AMBIENT.traceId));
  });
});

describe('core: remoteParentFrom (any header carrier)', () => {
  const ctx = { traceId: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', spanId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d' };
  const h = traceHeaders(ctx);
  const want = { traceId: ctx.traceId, parentSpanId: ctx.spanId };

  it('reads plain objects, Headers, Maps, Buffers (Kafka), arrays (Node, gRPC) and capitalised keys', () => {
    expect(remoteParentFrom(h)).toEqual(want);
    expect(remoteParentFrom(new Headers(h))).toEqual(want);
    expect(remoteParentFrom(new Map(Object.entries(h)))).toEqual(want);
    expect(remoteParentFrom({ traceparent: Buffer.from(h.traceparent), tracestate: Buffer.from(h.tracestate) })).toEqual(want);
    expect(remoteParentFrom({ traceparent: [h.traceparent], tracestate: [h.tracestate] })).toEqual(want);
    expect(remoteParentFrom({ Traceparent: h.traceparent, Tracestate: h.tracestate })).toEqual(want);
  });

  it('returns undefined for nothing, garbage and throwing getters', () => {
    expect(remoteParentFrom(undefined)).toBeUndefined();
    expect(remoteParentFrom('00-x')).toBeUndefined();
    expect(remoteParentFrom({ traceparent: 42 })).toBeUndefined();
    expect(remoteParentFrom({ get: () => { throw new Error('boom'); } })).toBeUndefined();
  });
});
