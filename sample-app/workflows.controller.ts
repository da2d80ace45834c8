import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import type { RunReport } from './run-report.js';
import { InvoicePipeline } from './workflows/invoice-pipeline.service.js';
import { MonthEndClose } from './workflows/month-end-close.service.js';

/** Runs the seed's workflows over HTTP and prints each run like the seed does. */
@Controller('workflows')
export class WorkflowsController {
  private readonly logger = new Logger('Workflows');

  constructor(
    private readonly invoices: InvoicePipeline,
    private readonly monthEnd: MonthEndClose,
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

  private print(report: RunReport): RunReport {
    for (const line of report.lines) this.logger.log(line);
    return report;
  }
}
