import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { COST_PROVIDERS } from '../../reconcile/reconcile.options.js';
import { IsIsoTime, USD_AMOUNT } from './query-values.js';

/** `GET reconciliation`: the UTC days to compare, and the gap worth naming. */
export class ReconcileQuery {
  @ApiProperty({ example: '2026-08-03', description: 'The first UTC day (inclusive)' })
  @IsIsoTime()
  from: string;

  @ApiProperty({ example: '2026-08-10', description: 'The day after the last (exclusive)' })
  @IsIsoTime()
  to: string;

  @ApiPropertyOptional({ example: '0.01', default: '0.01', description: 'List the days × models whose |billed − tracked| is over this many USD' })
  @IsOptional()
  @Matches(USD_AMOUNT, { message: 'threshold must be a non-negative USD amount like 0.01' })
  threshold?: string | undefined;
}

/** Body of `POST provider-costs/import`: whose figures, which UTC days. The admin key comes from the module's options, never from a request. */
export class ImportCostsBody {
  @ApiProperty({ enum: COST_PROVIDERS })
  @IsIn(COST_PROVIDERS as unknown as string[], { message: `provider must be one of ${COST_PROVIDERS.join(', ')}` })
  provider: string;

  @ApiProperty({ example: '2026-08-03', description: 'The first UTC day (inclusive)' })
  @IsIsoTime()
  from: string;

  @ApiProperty({ example: '2026-08-10', description: 'The day after the last (exclusive)' })
  @IsIsoTime()
  to: string;
}
