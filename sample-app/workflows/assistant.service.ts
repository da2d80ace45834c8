import { Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { currentTrace, InjectLlmClient } from '../../lib/index.js';
import { runReport, type RunReport } from '../run-report.js';

/**
 * One assistant answer per request. Its calls carry the request's `user_id` (from `requestTags`),
 * so the per-user daily budget counts them; once a user has spent the day's $0.002 the next request
 * is answered 402 with the budget and when it resets.
 */
@Injectable()
export class Assistant {
  constructor(@InjectLlmClient('openai') private readonly openai: OpenAI) {}

  async answer(question: string): Promise<RunReport> {
    await this.openai.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 2000, messages: [{ role: 'user', content: question }] });
    return runReport('assistant', currentTrace()!.root);
  }
}
