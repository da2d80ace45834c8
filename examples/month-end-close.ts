// examples/month-end-close.ts — plain TypeScript: a script, a worker or a LangGraph run.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { span, startKostrack, trace, wrap } from '@kostrack/nestjs';

// PostgreSQL from DATABASE_URL, or the embedded database in .kostrack/pgdata when it is unset.
const kostrack = await startKostrack({ database: process.env.DATABASE_URL, tags: { project: 'openmanagr' } });

const anthropic = wrap(new Anthropic());
const deepseek = wrap(
  new OpenAI({ baseURL: process.env.DEEPSEEK_BASE_URL ?? 'https://api.deepseek.com', apiKey: process.env.DEEPSEEK_API_KEY }),
  { provider: 'deepseek' },
);

export const run = await trace({ tags: { feature: 'month-end-close' } }, async (t) => {
  await span('reason', () =>
    deepseek.chat.completions.create({ model: 'deepseek-reasoner', messages: [{ role: 'user', content: 'Reconcile October.' }] }),
  );
  await span('extract', () =>
    anthropic.messages.create({
      model: 'claude-haiku-4-5-20251001',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Extract the adjusting entries.' }],
    }),
  );
  console.log(`Total: $${Number(t.totalCostUsd).toFixed(6)} across ${t.callCount} calls`);
  for (const item of t.costBreakdown()) console.log(`  ${item.model}: $${Number(item.costUsd).toFixed(6)} (${item.pct}%)`);
  return { traceId: t.traceId, total: t.totalCostDecimal };
});

await kostrack.close(); // flushes the queued rows to PostgreSQL
