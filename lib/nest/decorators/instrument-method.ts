import 'reflect-metadata';
import { isObservable, Observable } from 'rxjs';
import { KostrackConfigError } from '../../core/errors.js';
import { runtime } from '../../core/runtime.js';
import { closeSpan, openSpan, settle, type SpanSpec } from '../../core/span-lifecycle.js';
import type { TraceContext } from '../../core/trace-context.js';

/**
 * Replaces a method with a Proxy that runs it in a span. The Proxy keeps the method's name and
 * length; reflect-metadata is copied so route, Swagger and event decorators applied before ours
 * still see their metadata (those applied after write onto the Proxy directly).
 */
export function instrumentMethod(
  decorator: string,
  target: object,
  key: string | symbol | undefined,
  descriptor: PropertyDescriptor | undefined,
  spec: SpanSpec,
): PropertyDescriptor {
  const original: unknown = descriptor?.value;
  if (key === undefined || typeof original !== 'function') {
    const where = `${(target as { name?: string }).name ?? target.constructor?.name ?? 'class'}${key ? '.' + String(key) : ''}`;
    throw new KostrackConfigError(`@${decorator}() must decorate a method; ${where} is not one`);
  }
  const proxy: (...args: unknown[]) => unknown = new Proxy(original as (...args: unknown[]) => unknown, {
    apply(fn, thisArg, args) {
      const active = runtime.als.getStore();
      // The trace interceptor already opened this request's trace for this very handler.
      if (active && active.openedFor === proxy) {
        active.openedFor = undefined;
        return Reflect.apply(fn, thisArg, args);
      }
      let node: TraceContext | null = null;
      try {
        node = openSpan(spec);
      } catch (e) {
        runtime.warn(`Kostrack could not open span ${spec.name}: ${String(e)}`);
      }
      if (!node) return Reflect.apply(fn, thisArg, args);
      const opened = node;
      let result: unknown;
      try {
        result = runtime.als.run(opened, () => Reflect.apply(fn, thisArg, args));
      } catch (error) {
        closeSpan(opened, error);
        throw error;
      }
      return isObservable(result) ? observeInSpan(opened, result) : settle(opened, result);
    },
  });
  for (const metaKey of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(metaKey, Reflect.getOwnMetadata(metaKey, original), proxy);
  }
  descriptor!.value = proxy;
  return descriptor!;
}

/** Re-enters the span at subscribe, so work the Observable starts is tracked; closes on the end. */
export function observeInSpan<V>(node: TraceContext, source: Observable<V>): Observable<V> {
  return new Observable<V>((subscriber) => {
    const subscription = runtime.als.run(node, () =>
      source.subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          closeSpan(node, error);
          subscriber.error(error);
        },
        complete: () => {
          closeSpan(node);
          subscriber.complete();
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      closeSpan(node);
    };
  });
}
