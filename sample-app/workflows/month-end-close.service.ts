import Anthropic from '@anthropic-ai/sdk';
import { Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { currentTrace, InjectLlmClient, Span, Trace } from '../../lib/index.js';
import { runReport, type RunReport } from '../run-report.js';

/** The seed's month-end close: reason on deepseek-reasoner, extract on claude-haiku-4-5. */
@Injectable()
export class MonthEndClose {
  constructor(
    @InjectLlmClient('deepseek') private readonly deepseek: OpenAI,
    @InjectLlmClient('claude') private readonly claude: Anthropic,
  ) {}

  @Trace({ name: 'month-end-close', tags: { feature: 'month-end-close' } })
  async run(period: string): Promise<RunReport> {
    const plan = await this.reason(period);
    await this.extract(period, plan);
    return runReport('month-end-close', currentTrace()!.root);
  }

  @Span('reason')
  async reason(period: string): Promise<string> {
    const r = await this.deepseek.chat.completions.create({
      model: 'deepseek-reasoner',
      messages: [{ role: 'user', content: `Plan the accruals, deferrals and reconciliations for closing ${period}.` }],
    });
    return r.choices[0]?.message?.content ?? '';
  }

  @Span('extract')
  async extract(period: string, plan: string): Promise<void> {
    await this.claude.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 2048,
      messages: [{ role: 'user', content: `From this plan for ${period}, extract the journal entries as JSON: ${plan}` }],
    });
  }
}
