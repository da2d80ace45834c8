// examples/runaway-budget.ts — a budget stops an agent loop before the call that could cross it.
import OpenAI from 'openai';
import { KostrackBudgetExceededError, trace, wrap } from '@kostrack/nestjs';

const openai = wrap(new OpenAI());

export const stopped = await trace({ name: 'research-agent', budget: '0.05' }, async (t) => {
  try {
    // An agent loop with no end of its own. max_tokens bounds each step's worst case.
    for (;;) {
      await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 2000,
        messages: [{ role: 'user', content: 'Research one more source.' }],
      });
    }
  } catch (e) {
    if (!(e instanceof KostrackBudgetExceededError)) throw e;
    // The refused call is a row with status "blocked" and cost 0; its request never left.
    console.log(`Stopped at $${t.totalCostDecimal} of $${e.limit}: the next step could cost $${e.estimate}, $${e.budget.remaining} was left`);
    return { total: t.totalCostDecimal, calls: t.callCount, limit: e.limit, estimate: e.estimate!, remaining: e.budget.remaining };
  }
});
