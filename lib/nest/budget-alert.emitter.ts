import type { ModuleRef } from '@nestjs/core';
import type { BudgetAlert } from '../storage/budget.ledger.js';

/** The event a budget alert is emitted as when the host uses `@nestjs/event-emitter`: `@OnEvent('kostrack.budget.alert')`. */
export const KOSTRACK_BUDGET_ALERT_EVENT = 'kostrack.budget.alert';

interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): unknown;
}

// A specifier in a variable: bundlers leave the optional package alone when it is not installed.
const EVENT_EMITTER_PACKAGE = '@nestjs/event-emitter';

/**
 * The host's `EventEmitter2`, when `@nestjs/event-emitter` is installed and the app registered
 * `EventEmitterModule.forRoot()`; null otherwise. The package stays optional: it is imported only
 * here, and its absence is not an error.
 */
export async function findEventEmitter(moduleRef: ModuleRef): Promise<EventEmitterLike | null> {
  let token: unknown;
  try {
    token = ((await import(EVENT_EMITTER_PACKAGE)) as { EventEmitter2?: unknown }).EventEmitter2;
  } catch {
    return null;
  }
  if (typeof token !== 'function') return null;
  try {
    const emitter = moduleRef.get(token as new () => EventEmitterLike, { strict: false });
    return typeof emitter?.emit === 'function' ? emitter : null;
  } catch {
    return null; // installed, but EventEmitterModule is not registered
  }
}

/**
 * What the ledger calls on an alert: the `onBudgetAlert` option, then the event. One failing does
 * not stop the other; the first error is rethrown for the ledger to warn about.
 */
export function budgetAlertHandler(
  callback: ((alert: BudgetAlert) => unknown) | undefined,
  emitter: EventEmitterLike | null,
): ((alert: BudgetAlert) => unknown) | undefined {
  if (!emitter) return callback;
  return async (alert) => {
    const errors: unknown[] = [];
    try {
      await callback?.(alert);
    } catch (e) {
      errors.push(e);
    }
    try {
      emitter.emit(KOSTRACK_BUDGET_ALERT_EVENT, alert);
    } catch (e) {
      errors.push(e);
    }
    if (errors.length > 0) throw errors[0];
  };
}
