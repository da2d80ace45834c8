import { ApiProperty } from '@nestjs/swagger';

/** Reconciliation shapes (see `lib/reconcile/reconcile.options.ts`). Money as exact decimal strings in USD. */

class ReconcileTotalsDto {
  @ApiProperty({ example: '0.1843' }) trackedUsd: string;
  @ApiProperty({ example: '0.1953' }) billedUsd: string;
  @ApiProperty({ example: '0.011', description: 'billed − tracked' }) gapUsd: string;
  @ApiProperty({ type: String, nullable: true, example: '0.943676', description: 'tracked ÷ billed, 6 decimals; null when nothing was billed' }) coverage: string | null;
  @ApiProperty({ example: '0.011', description: 'Billed and not tracked: the positive gaps per day × model' }) untrackedUsd: string;
  @ApiProperty({ example: '0', description: 'Tracked and not billed: the negative gaps, as a positive amount' }) overTrackedUsd: string;
  @ApiProperty({ example: 1, description: 'Tracked calls the SDK retried on its own (attempts over 1); a provider may bill a retried attempt too' }) retriedCalls: number;
  @ApiProperty({ example: 2, description: 'Attempts beyond the first, summed over those calls' }) extraAttempts: number;
}

export class ReconcileProviderDto extends ReconcileTotalsDto {
  @ApiProperty({ example: 'openai' }) provider: string;
  @ApiProperty({ description: 'Days of the range with imported figures' }) daysImported: number;
  @ApiProperty({ type: [String], description: 'Days of the range without (not compared)' }) daysNotImported: string[];
}

export class ReconcileGapDto {
  @ApiProperty({ example: '2026-08-05' }) day: string;
  @ApiProperty({ example: 'anthropic' }) provider: string;
  @ApiProperty({ type: String, nullable: true, example: 'claude-haiku-4-5', description: 'Without its snapshot date; null for costs tied to no model' }) model: string | null;
  @ApiProperty() trackedUsd: string;
  @ApiProperty() billedUsd: string;
  @ApiProperty() gapUsd: string;
  @ApiProperty({ type: String, nullable: true }) coverage: string | null;
  @ApiProperty() calls: number;
  @ApiProperty() unpricedCalls: number;
  @ApiProperty({ example: 1, description: 'Tracked calls the SDK retried on its own (attempts over 1); a provider may bill a retried attempt too' }) retriedCalls: number;
  @ApiProperty({ example: 2, description: 'Attempts beyond the first, summed over those calls' }) extraAttempts: number;
}

export class ReconcileReportDto extends ReconcileTotalsDto {
  @ApiProperty({ example: '2026-08-03' }) from: string;
  @ApiProperty({ example: '2026-08-10' }) to: string;
  @ApiProperty({ example: '0.01' }) threshold: string;
  @ApiProperty({ type: [ReconcileProviderDto] }) providers: ReconcileProviderDto[];
  @ApiProperty({ type: [ReconcileGapDto], description: 'Days × models whose gap is over the threshold' }) gaps: ReconcileGapDto[];
  @ApiProperty({ description: 'Tracked spend on provider-days with no imported figures' }) notComparedUsd: string;
}

export class ImportCostsReportDto {
  @ApiProperty({ enum: ['openai', 'anthropic'] }) provider: string;
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty({ type: [String], description: 'Days whose figures were replaced' }) days: string[];
  @ApiProperty({ type: [String], description: 'Days the provider sent nothing for (left as they were)' }) missingDays: string[];
  @ApiProperty({ description: 'Rows stored, one per day and model' }) rows: number;
  @ApiProperty({ example: '0.1218' }) billedUsd: string;
  @ApiProperty() pages: number;
  @ApiProperty() importedAt: string;
}
