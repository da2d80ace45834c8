import Anthropic from '@anthropic-ai/sdk';
import { Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { currentTrace, InjectLlmClient, Span, Trace } from '../../lib/index.js';
import { runReport, type RunReport } from '../run-report.js';

/** The seed's invoice pipeline: validate with Anthropic, classify with OpenAI, post with Anthropic. */
@Injectable()
export class InvoicePipeline {
  constructor(
    @InjectLlmClient('claude') private readonly claude: Anthropic,
    @InjectLlmClient('openai') private readonly openai: OpenAI,
  ) {}

  @Trace({ name: 'invoice-pipeline', tags: { feature: 'invoice-pipeline' } })
  async run(invoiceId: string): Promise<RunReport> {
    const invoice = `Invoice ${invoiceId}: 12 x A4 paper boxes @ 24.50 EUR, supplier Papeteria GmbH, VAT 19%`;
    await this.validate(invoice);
    const account = await this.classify(invoice);
    await this.post(invoice, account);
    return runReport('invoice-pipeline', currentTrace()!.root);
  }

  @Span('validate')
  async validate(invoice: string): Promise<void> {
    // Two passes: extract the fields, then check totals and VAT against them.
    await this.ask(`Extract supplier, lines, totals and VAT from: ${invoice}`);
    await this.ask(`Check that line totals and VAT add up for: ${invoice}`);
  }

  @Span('classify')
  async classify(invoice: string): Promise<string> {
    const r = await this.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Return the general-ledger account for this invoice.' },
        { role: 'user', content: invoice },
      ],
    });
    return r.choices[0]?.message?.content ?? '6815 Office supplies';
  }

  @Span('post')
  async post(invoice: string, account: string): Promise<void> {
    await this.ask(`Draft the journal entry posting ${invoice} to account ${account}.`);
  }

  private ask(content: string) {
    return this.claude.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content }] });
  }
}
