import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { firstValueFrom, map, timer, toArray, type Observable } from 'rxjs';
import { currentTrace, KostrackConfigError, recordCall, Span, Trace } from '../../lib/index.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

class TaggedPromise<T> extends Promise<T> {
  withResponse() {
    return 'still here';
  }
}

class Pipeline {
  factor = 3;

  @Trace({ tags: { feature: 'invoice-pipeline' } })
  async run(id: string): Promise<string> {
    await this.validate();
    await this.classify();
    return `${id}:${this.factor}`;
  }

  @Span('validate')
  async validate(): Promise<void> {
    recordCall(callInput('0.001'));
  }

  @Span('classify', { tags: { step: 'classify' } })
  async classify(): Promise<void> {
    await new Promise((r) => setTimeout(r, 2));
    recordCall(callInput('0.0025', { provider: 'openai', model: 'gpt-4o-mini' }));
  }

  @Trace()
  sync(a: number, b: number): number {
    recordCall(callInput('0.5'));
    return a * b * this.factor;
  }

  @Trace()
  tagged(): TaggedPromise<number> {
    return TaggedPromise.resolve(7) as TaggedPromise<number>;
  }

  @Span('fails')
  async fails(): Promise<never> {
    throw new RangeError('bad');
  }

  @Span('watch')
  watch(): Observable<string | undefined> {
    return timer(3).pipe(
      map(() => {
        recordCall(callInput('0.01'));
        return currentTrace()?.name;
      }),
    );
  }

  @Span('iterate')
  async *iterate(): AsyncGenerator<string | undefined> {
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 1));
      recordCall(callInput('0.02'));
      yield currentTrace()?.name;
    }
  }
}

describe('@Trace and @Span on methods', () => {
  const sink = useMemorySink();

  it("keeps the method's name, length, this and return value and rolls spans up to the trace", async () => {
    const p = new Pipeline();
    expect(Pipeline.prototype.run.name).toBe('run');
    expect(Pipeline.prototype.run.length).toBe(1);
    expect(await p.run('inv-1')).toBe('inv-1:3');
    expect(p.sync(2, 5)).toBe(30);
    const root = sink.spans.find((s) => s.name === 'Pipeline.run')!;
    expect(root).toMatchObject({ isRoot: true, callCount: 2, costUsd: 3500000000000n, tags: { feature: 'invoice-pipeline' } });
    const names = sink.spans.filter((s) => s.traceId === root.traceId).map((s) => s.name).sort();
    expect(names).toEqual(['Pipeline.run', 'classify', 'validate']);
    expect(sink.calls.find((c) => c.model === 'gpt-4o-mini')!.tags).toEqual({
      feature: 'invoice-pipeline',
      step: 'classify',
      span_name: 'classify',
    });
  });

  it('returns a Promise subclass as-is and rethrows errors untouched', async () => {
    const p = new Pipeline();
    const result = p.tagged();
    expect(result).toBeInstanceOf(TaggedPromise);
    expect(result.withResponse()).toBe('still here');
    expect(await result).toBe(7);
    await expect(p.fails()).rejects.toThrow(RangeError);
    await new Promise((r) => setImmediate(r));
    expect(sink.spans.find((s) => s.name === 'fails')).toMatchObject({ status: 'error', errorClass: 'RangeError' });
  });

  it('keeps Observables and async iterators in the span until they complete', async () => {
    const p = new Pipeline();
    expect(await firstValueFrom(p.watch())).toBe('watch');
    const items: unknown[] = [];
    for await (const v of p.iterate()) items.push(v);
    expect(items).toEqual(['iterate', 'iterate']);
    expect(sink.spans.map((s) => [s.name, s.callCount, s.status])).toEqual([
      ['watch', 1, 'ok'],
      ['iterate', 2, 'ok'],
    ]);
    // The Observable's call landed in the watch span's (standalone) trace.
    expect(sink.calls[0].traceId).toBe(sink.spans[0].traceId);
    expect(await firstValueFrom(p.watch().pipe(toArray()))).toEqual(['watch']);
  });

  it('rejects misuse at decoration time with a clear error', () => {
    expect(() => {
      class A {
        @Span('') m() {}
      }
      return A;
    }).toThrow(/span name must be a non-empty string/);
    expect(() => {
      class B {
        @Trace({ tags: { user: { id: 1 } as never } }) m() {}
      }
      return B;
    }).toThrow(KostrackConfigError);
    expect(() => {
      const decorate = Span('x') as (t: object, k: string, d?: PropertyDescriptor) => void;
      decorate({}, 'notAMethod', { value: 5, writable: true });
    }).toThrow(/@Span\(\) must decorate a method; Object.notAMethod is not one/);
    expect(() => {
      const decorate = Trace() as (t: object, k: string, d?: PropertyDescriptor) => void;
      decorate(Pipeline.prototype, 'factor', undefined);
    }).toThrow(/@Trace\(\) must decorate a method/);
  });
});
