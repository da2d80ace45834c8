import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { REPRICE_MAX_BATCH } from '../../storage/reprice.options.js';
import { IsIsoTime } from './query-values.js';

/** Body of `POST reprice`: which calls to re-price with the prices in force now. */
export class RepriceBody {
  @ApiProperty({ example: '2026-10-01T00:00:00Z', description: 'Calls made from this time (inclusive), ISO-8601' })
  @IsIsoTime()
  from: string;

  @ApiProperty({ example: '2026-11-01T00:00:00Z', description: 'Until this time (exclusive), ISO-8601' })
  @IsIsoTime()
  to: string;

  @ApiPropertyOptional({ example: 'openai', description: 'Only this provider’s calls' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  provider?: string | undefined;

  @ApiPropertyOptional({ example: 'gpt-4o-mini', description: 'Only this model’s calls' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  model?: string | undefined;

  @ApiPropertyOptional({ default: false, description: 'Report what would change; write nothing' })
  @IsOptional()
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean | undefined;

  @ApiPropertyOptional({ default: 5000, minimum: 1, maximum: REPRICE_MAX_BATCH, description: 'Calls per transaction' })
  @IsOptional()
  @Max(REPRICE_MAX_BATCH, { message: `batchSize must be at most ${REPRICE_MAX_BATCH}` })
  @Min(1, { message: 'batchSize must be at least 1' })
  @IsInt({ message: 'batchSize must be a whole number' })
  batchSize?: number | undefined;

  @ApiPropertyOptional({ example: 'jane@acme.test', description: 'Who asked, kept on the run (default admin-api)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  by?: string | undefined;
}

/** What a re-price did (or would do, on a dry run). Money as exact decimal strings. */
export class RepriceReportDto {
  @ApiProperty({ type: Number, nullable: true, description: 'The llm_repricings id; null on a dry run' }) id: number | null;
  @ApiProperty() dryRun: boolean;
  @ApiProperty({ description: 'This request continued an unfinished run of the same range and filter' }) resumed: boolean;
  @ApiProperty({ enum: ['done', 'running', 'failed'] }) status: 'done' | 'running' | 'failed';
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty({ type: String, nullable: true }) provider: string | null;
  @ApiProperty({ type: String, nullable: true }) model: string | null;
  @ApiProperty({ type: String, nullable: true }) by: string | null;
  @ApiProperty({ description: 'Calls whose cost is a price (blocked, not-billed and no-usage calls are left out)' }) rowsScanned: number;
  @ApiProperty({ description: 'Calls whose cost changed (would change, on a dry run)' }) rowsChanged: number;
  @ApiProperty() newlyPriced: number;
  @ApiProperty() newlyUnpriced: number;
  @ApiProperty({ example: '12.5', description: 'The scanned calls’ cost before' }) totalBeforeUsd: string;
  @ApiProperty({ example: '13.75', description: 'and after' }) totalAfterUsd: string;
  @ApiProperty({ example: '1.25' }) deltaUsd: string;
  @ApiProperty() batches: number;
  @ApiProperty() startedAt: string;
  @ApiProperty({ type: String, nullable: true }) finishedAt: string | null;
}
