import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { Trace } from '../lib/index.js';
import { Assistant } from './workflows/assistant.service.js';
import type { RunReport } from './run-report.js';
import { InvoicePipeline } from './workflows/invoice-pipeline.service.js';
import { MonthEndClose } from './workflows/month-end-close.service.js';
import { RunawayAgent, type StoppedRun } from './workflows/runaway-agent.service.js';

/** Runs the seed's workflows over HTTP and prints each run like the seed does. */
@Controller('workflows')
export class WorkflowsController {
  private readonly logger = new Logger('Workflows');

  constructor(
    private readonly invoices: InvoicePipeline,
    private readonly monthEnd: MonthEndClose,
    private readonly runaway: RunawayAgent,
    private readonly assistant: Assistant,
  ) {}

  @Post('invoice-pipeline')
  @HttpCode(200)
  async invoicePipeline(@Body() body: { invoiceId?: string } = {}): Promise<RunReport> {
    return this.print(await this.invoices.run(body.invoiceId ?? 'INV-2025-0042'));
  }

  @Post('month-end-close')
  @HttpCode(200)
  async monthEndClose(@Body() body: { period?: string } = {}): Promise<RunReport> {
    return this.print(await this.monthEnd.run(body.period ?? '2025-06'));
  }

  /** An agent loop that would never end, stopped by the $0.05 budget on its trace. */
  @Post('runaway-agent')
  @HttpCode(200)
  async runawayAgent(@Body() body: { task?: string } = {}): Promise<StoppedRun> {
    return this.print(await this.runaway.run(body.task ?? 'reconcile every ledger'));
  }

  /** One answer for the user in `x-user-id`, under that user's daily budget (402 once it is spent). */
  @Trace({ name: 'assistant', tags: { feature: 'assistant' } })
  @Post('assistant')
  @HttpCode(200)
  async ask(@Body() body: { question?: string } = {}): Promise<RunReport> {
    return this.print(await this.assistant.answer(body.question ?? 'What is left to reconcile this month?'));
  }

  private print<T extends RunReport>(report: T): T {
    for (const line of report.lines) this.logger.log(line);
    return report;
  }
}
