// examples/invoice-pipeline.module.ts — NestJS: the seed's invoice pipeline as a traced route.
import Anthropic from '@anthropic-ai/sdk';
import { Controller, Injectable, Module, Param, Post } from '@nestjs/common';
import OpenAI from 'openai';
import { currentTrace, InjectLlmClient, KostrackModule, Span, Trace } from '@kostrack/nestjs';

@Injectable()
export class InvoicePipeline {
  constructor(
    @InjectLlmClient('claude') private readonly claude: Anthropic,
    @InjectLlmClient('openai') private readonly openai: OpenAI,
  ) {}

  async run(invoiceId: string) {
    await this.validate(invoiceId);
    await this.classify(invoiceId);
    await this.post(invoiceId);
    const t = currentTrace()!;
    return { traceId: t.traceId, totalCostUsd: t.totalCostUsd, calls: t.callCount, breakdown: t.costBreakdown() };
  }

  @Span('validate')
  validate(id: string) {
    return this.claude.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 512, messages: [{ role: 'user', content: `Validate invoice ${id}` }] });
  }

  @Span('classify')
  classify(id: string) {
    return this.openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Classify invoice ${id}` }] });
  }

  @Span('post')
  post(id: string) {
    return this.claude.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 512, messages: [{ role: 'user', content: `Post invoice ${id}` }] });
  }
}

@Controller('invoices')
export class InvoiceController {
  constructor(private readonly pipeline: InvoicePipeline) {}

  // One trace per request: tagged with the route and the user, id returned in `x-kostrack-trace-id`.
  @Trace({ tags: { feature: 'invoice-pipeline' } })
  @Post(':id/process')
  process(@Param('id') id: string) {
    return this.pipeline.run(id);
  }
}

@Module({
  imports: [
    KostrackModule.forRoot({
      database: process.env.DATABASE_URL, // unset: the embedded database in .kostrack/pgdata
      tags: { project: 'openmanagr' },
      requestTags: (ctx) => ({ user_id: ctx.switchToHttp().getRequest().headers['x-user-id'] }),
      // Each user may spend $5 a day, across every replica; over it, the next call is refused (402).
      budgets: [{ name: 'per-user-day', scope: 'user_id', period: 'day', limit: '5.00', alerts: [80, 100] }],
      clients: {
        claude: { provider: 'anthropic', factory: () => new Anthropic() },
        openai: { provider: 'openai', factory: () => new OpenAI() },
      },
      admin: { enabled: true, apiKey: process.env.KOSTRACK_ADMIN_KEY },
    }),
  ],
  controllers: [InvoiceController],
  providers: [InvoicePipeline],
})
export class AppModule {}
