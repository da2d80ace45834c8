import { type ArgumentsHost, Catch, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter, type HttpAdapterHost } from '@nestjs/core';
import { throwError } from 'rxjs';
import { KostrackBudgetExceededError } from '../core/run-budget.js';

/** The body of a 402 answer: what the budget was, what it had spent, and when it resets. */
export interface BudgetExceededBody {
  statusCode: 402;
  error: 'Payment Required';
  message: string;
  limit: string;
  spent: string;
  reserved: string;
  estimate: string | null;
  remaining: string;
  /** When the budget's period starts over (ISO); null for a per-run budget. */
  resetsAt: string | null;
  budget: KostrackBudgetExceededError['budget'];
}

export function budgetExceededBody(error: KostrackBudgetExceededError, resetsAt: string | null = error.budget.resetsAt ?? null): BudgetExceededBody {
  return {
    statusCode: HttpStatus.PAYMENT_REQUIRED,
    error: 'Payment Required',
    message: error.message,
    limit: error.limit,
    spent: error.spent,
    reserved: error.reserved,
    estimate: error.estimate,
    remaining: error.budget.remaining,
    resetsAt,
    budget: error.budget,
  };
}

/**
 * Answers an HTTP request whose handler let a {@link KostrackBudgetExceededError} escape with 402
 * and a JSON body, on Express and Fastify alike (through the adapter). Registered by
 * `KostrackModule`; with `budgetErrorFilter: false` the error takes Nest's default path (500).
 * Other contexts (microservices, WebSockets) get the error back unchanged.
 */
@Catch(KostrackBudgetExceededError)
export class BudgetExceededFilter extends BaseExceptionFilter {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly answer402: boolean,
  ) {
    super(adapterHost.httpAdapter);
  }

  override catch(error: KostrackBudgetExceededError, host: ArgumentsHost) {
    if (host.getType() !== 'http') return throwError(() => error);
    if (!this.answer402) return super.catch(error, host);
    const adapter = this.adapterHost.httpAdapter;
    adapter.reply(host.switchToHttp().getResponse(), budgetExceededBody(error), HttpStatus.PAYMENT_REQUIRED);
  }
}
