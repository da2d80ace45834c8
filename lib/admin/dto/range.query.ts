import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIsoTime } from './query-values.js';

/** A bare time range (unpriced models). */
export class RangeQuery {
  @ApiPropertyOptional({ description: 'From this time (inclusive), ISO-8601' })
  @IsOptional()
  @IsIsoTime()
  from?: string | undefined;

  @ApiPropertyOptional({ description: 'Until this time (exclusive), ISO-8601' })
  @IsOptional()
  @IsIsoTime()
  to?: string | undefined;
}

/** Prices in effect at a moment. */
export class PricesQuery {
  @ApiPropertyOptional({ description: 'The moment, ISO-8601; default now' })
  @IsOptional()
  @IsIsoTime()
  at?: string | undefined;
}
