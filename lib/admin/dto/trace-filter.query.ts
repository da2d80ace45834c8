import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsFilterText, IsIsoTime, IsTagFilters } from './query-values.js';

/** Filters shared by the trace list and the cost report. */
export class TraceFilterQuery {
  @ApiPropertyOptional({ description: 'From this time (inclusive), ISO-8601', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsIsoTime()
  from?: string | undefined;

  @ApiPropertyOptional({ description: 'Until this time (exclusive), ISO-8601', example: '2026-02-01T00:00:00Z' })
  @IsOptional()
  @IsIsoTime()
  to?: string | undefined;

  @ApiPropertyOptional({ description: 'The `feature` tag' })
  @IsOptional()
  @IsFilterText()
  feature?: string | undefined;

  @ApiPropertyOptional({ description: 'The `project` tag' })
  @IsOptional()
  @IsFilterText()
  project?: string | undefined;

  @ApiPropertyOptional({ description: 'The `user_id` tag' })
  @IsOptional()
  @IsFilterText()
  user?: string | undefined;

  @ApiPropertyOptional({ description: 'A service id (`service_id` of a call)' })
  @IsOptional()
  @IsFilterText()
  service?: string | undefined;

  @ApiPropertyOptional({ description: 'Any tag as key:value; repeat for several (all must match)', type: [String], example: ['team:ap'] })
  @IsOptional()
  @IsTagFilters()
  tag?: string[] | undefined;
}
