import { validateSpanOptions } from '../../core/trace.js';
import type { TagInput } from '../../core/tags.js';
import { instrumentMethod } from './instrument-method.js';

/**
 * Runs each call of the method in a named child span of the active trace (outside any trace it
 * opens a standalone one). The name defaults to the method's name; an empty name or invalid tags
 * throw at decoration time.
 */
export function Span(name?: string, options: { tags?: TagInput } = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const spec = validateSpanOptions(name ?? String(key), options);
    return instrumentMethod('Span', target, key, descriptor, { name: spec.name, tags: spec.tags });
  };
}
