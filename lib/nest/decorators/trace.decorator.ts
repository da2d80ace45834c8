import 'reflect-metadata';
import { validateTraceOptions, type TraceOptions } from '../../core/trace.js';
import { TRACE_METADATA } from '../kostrack.constants.js';
import { instrumentMethod } from './instrument-method.js';

export type TraceDecoratorOptions = Omit<TraceOptions, 'traceId' | 'parentSpanId'>;

/**
 * On a method: runs each call in a trace (or, inside an active trace, a child span; set
 * `newTrace` to force a root). Works for sync, Promise, Observable and async-iterator methods.
 * On a controller class or route: the trace interceptor opens one trace per request, tagged with
 * the route, continuing an incoming `traceparent`. Invalid options throw at decoration time.
 */
export function Trace(options: TraceDecoratorOptions = {}): ClassDecorator & MethodDecorator {
  const validated = validateTraceOptions(options);
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (key === undefined && typeof target === 'function') {
      Reflect.defineMetadata(TRACE_METADATA, { ...validated, name: options.name }, target);
      return target;
    }
    const name = options.name ?? `${(target as object).constructor.name}.${String(key)}`;
    const spec = { ...validated, name };
    const result = instrumentMethod('Trace', target, key, descriptor, spec);
    Reflect.defineMetadata(TRACE_METADATA, spec, result.value);
    return result;
  }) as ClassDecorator & MethodDecorator;
}
