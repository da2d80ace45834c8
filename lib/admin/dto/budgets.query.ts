import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsFilterText, IsIsoTime } from './query-values.js';

export const MAX_SCOPE_VALUES = 1000;
export const DEFAULT_SCOPE_VALUES = 100;
export const MAX_BLOCKED = 200;
export const DEFAULT_BLOCKED = 50;

/** `GET budgets`. */
export class BudgetsQuery {
  @ApiPropertyOptional({ description: 'Only this scope value (a user id, a feature…)', example: 'u-42' })
  @IsOptional()
  @IsFilterText()
  value?: string | undefined;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_SCOPE_VALUES, default: DEFAULT_SCOPE_VALUES, description: 'Scope values per budget, most spent first' })
  @IsOptional()
  @Type(() => Number)
  @Max(MAX_SCOPE_VALUES)
  @Min(1)
  @IsInt()
  limit?: number | undefined;
}

/** `GET budgets/blocked`. */
export class BlockedCallsQuery {
  @ApiPropertyOptional({ description: 'From this time (inclusive), ISO-8601; default 7 days before `to`' })
  @IsOptional()
  @IsIsoTime()
  from?: string | undefined;

  @ApiPropertyOptional({ description: 'Until this time (exclusive), ISO-8601; default now' })
  @IsOptional()
  @IsIsoTime()
  to?: string | undefined;

  @ApiPropertyOptional({ description: 'Only calls this budget refused (its name)', example: 'per-user-day' })
  @IsOptional()
  @IsFilterText()
  budget?: string | undefined;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_BLOCKED, default: DEFAULT_BLOCKED })
  @IsOptional()
  @Type(() => Number)
  @Max(MAX_BLOCKED)
  @Min(1)
  @IsInt()
  limit?: number | undefined;
}
