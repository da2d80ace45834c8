import { validateSpanOptions } from '../../core/trace.js';
import type { TagInput } from '../../core/tags.js';
import type { BudgetInput } from '../../core/run-budget.js';
import { instrumentMethod } from './instrument-method.js';

/**
 * Runs each call of the method in a named child span of the active trace (outside any trace it
 * opens a standalone one). The name defaults to the method's name; an empty name, invalid tags or
 * an invalid `budget` throw at decoration time. A `budget` limits each call of the method (a run).
 */
export function Span(name?: string, options: { tags?: TagInput; budget?: BudgetInput } = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const spec = validateSpanOptions(name ?? String(key), options);
    return instrumentMethod('Span', target, key, descriptor, { name: spec.name, tags: spec.tags, budget: spec.budget });
  };
}
