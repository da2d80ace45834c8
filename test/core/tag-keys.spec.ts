import { describe, expect, it } from 'vitest';
import { KostrackConfigError, mergeTags, normalizeTags, recordCall, span, trace } from '../../lib/core/index.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

// JSON.parse (and a computed key) make `__proto__` an own property, the way tags parsed from a
// header or a request body arrive; an object literal's `__proto__:` would set the prototype instead.
const withProto = () => JSON.parse('{"feature":"search","__proto__":"x"}') as Record<string, string>;

describe('the __proto__ tag key', () => {
  it('is refused in strict mode with an error naming the key', () => {
    expect(Object.keys(withProto())).toEqual(['feature', '__proto__']);
    expect(() => normalizeTags(withProto())).toThrow(KostrackConfigError);
    expect(() => normalizeTags(withProto())).toThrow('Invalid tags: key "__proto__" is reserved');
    expect(() => normalizeTags({ ['__proto__']: 'x' })).toThrow('key "__proto__" is reserved');
  });

  it('is dropped and reported in lenient mode, keeping the other tags', () => {
    const reasons: string[] = [];
    const tags = normalizeTags(withProto(), 'lenient', (r) => reasons.push(r));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^key "__proto__" is reserved/);
    expect(tags).toEqual({ feature: 'search' });
    expect(Object.keys(tags)).toEqual(['feature']);
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
  });

  it('similar keys stay valid', () => {
    expect(normalizeTags({ __proto: 'a', __proto__x: 'b', proto__: 'c' })).toEqual({ __proto: 'a', __proto__x: 'b', proto__: 'c' });
  });
});

describe('tag keys named like Object.prototype members', () => {
  const sink = useMemorySink();

  it('constructor and toString are own string tags through normalizeTags and mergeTags', () => {
    const a = normalizeTags({ constructor: 'c1', toString: 't1', feature: 'f' });
    const b = normalizeTags({ toString: 't2', hasOwnProperty: 'h' });
    // Twice: the second read takes the fast path for keys already seen.
    expect(normalizeTags({ constructor: 'c1' })).toEqual({ constructor: 'c1' });
    expect(Object.getOwnPropertyNames(a)).toEqual(['constructor', 'toString', 'feature']);
    const merged = mergeTags(a, b);
    expect(merged).toEqual({ constructor: 'c1', toString: 't2', feature: 'f', hasOwnProperty: 'h' });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(merged))).toEqual({ constructor: 'c1', toString: 't2', feature: 'f', hasOwnProperty: 'h' });
  });

  it('reach the recorded call through trace, span and call tags', () => {
    trace({ tags: { constructor: 'from-trace', toString: 'from-trace' } }, () =>
      span('step', { tags: { toString: 'from-span', valueOf: 'from-span' } }, () =>
        recordCall(callInput('0.01', { tags: normalizeTags({ valueOf: 'from-call' }) })),
      ),
    );
    expect(sink.calls).toHaveLength(1);
    const tags = sink.calls[0].tags;
    expect(tags).toEqual({ constructor: 'from-trace', toString: 'from-span', valueOf: 'from-call', span_name: 'step' });
    expect(JSON.parse(JSON.stringify(tags))).toEqual(tags);
  });
});
