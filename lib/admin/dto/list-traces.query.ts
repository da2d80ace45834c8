import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { USD_AMOUNT } from './query-values.js';
import { TraceFilterQuery } from './trace-filter.query.js';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

export class ListTracesQuery extends TraceFilterQuery {
  @ApiPropertyOptional({ description: 'Only traces costing at least this many USD (decimal string)', example: '0.01' })
  @IsOptional()
  @Matches(USD_AMOUNT, { message: 'minCost must be a non-negative decimal amount like 0.25' })
  minCost?: string | undefined;

  @ApiPropertyOptional({ enum: ['time', 'cost'], default: 'time' })
  @IsOptional()
  @IsIn(['time', 'cost'])
  sort?: 'time' | 'cost' | undefined;

  @ApiPropertyOptional({ enum: ['desc', 'asc'], default: 'desc' })
  @IsOptional()
  @IsIn(['desc', 'asc'])
  order?: 'desc' | 'asc' | undefined;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  // class-validator runs these bottom-up; with stopAtFirstError, "not an integer" must come first.
  @Type(() => Number)
  @Max(MAX_PAGE_SIZE)
  @Min(1)
  @IsInt()
  limit?: number | undefined;

  @ApiPropertyOptional({ description: '`nextCursor` of the previous page; keep the same sort, order and filters' })
  @IsOptional()
  @IsString()
  @MaxLength(400)
  cursor?: string | undefined;
}
