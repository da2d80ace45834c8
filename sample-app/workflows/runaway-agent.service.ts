import { Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { currentTrace, InjectLlmClient, KostrackBudgetExceededError, Trace } from '../../lib/index.js';
import { runReport, type RunReport } from '../run-report.js';

/** What a run stopped by its budget returns: the seed-style report and why it stopped. */
export interface StoppedRun extends RunReport {
  stoppedBy: { limit: string; spent: string; estimate: string | null; remaining: string } | null;
}

/**
 * An agent loop with no end of its own (it keeps "thinking" until told to stop, which never
 * happens): the $0.05 budget on its trace refuses the call that might cross the limit, before
 * the request leaves, and the run ends with its exact total.
 */
@Injectable()
export class RunawayAgent {
  constructor(@InjectLlmClient('openai') private readonly openai: OpenAI) {}

  @Trace({ name: 'runaway-agent', tags: { feature: 'runaway-agent' }, budget: '0.05' })
  async run(task: string): Promise<StoppedRun> {
    let stoppedBy: StoppedRun['stoppedBy'] = null;
    try {
      for (let step = 1; ; step++) {
        await this.openai.chat.completions.create({
          model: 'gpt-4o-mini',
          max_tokens: 2000,
          messages: [{ role: 'user', content: `Step ${step} of: ${task}. Keep going.` }],
        });
      }
    } catch (error) {
      if (!(error instanceof KostrackBudgetExceededError)) throw error;
      stoppedBy = { limit: error.limit, spent: error.spent, estimate: error.estimate, remaining: error.budget.remaining };
    }
    const report = runReport('runaway-agent', currentTrace()!.root);
    return { ...report, lines: [...report.lines, stoppedBy ? `  stopped by its $${stoppedBy.limit} budget: $${stoppedBy.remaining} left, the next call could cost $${stoppedBy.estimate}` : '  finished'], stoppedBy };
  }
}
