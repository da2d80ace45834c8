import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { IsIsoTime } from './query-values.js';
import { TraceFilterQuery } from './trace-filter.query.js';

export const MAX_TOP = 100;
export const DEFAULT_TOP = 10;
export const DEFAULT_OUTLIER_FACTOR = '3';
/** A multiple of a feature's p95: 1 to 1000, at most 3 decimals. */
const FACTOR = /^(?:[1-9]\d{0,2}|1000)(?:\.\d{1,3})?$/;

/** Summary figures, cache savings: the trace filters over a range (default the last 30 days). */
export class InsightsQuery extends TraceFilterQuery {}

/** Top users or features. */
export class TopQuery extends TraceFilterQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TOP, default: DEFAULT_TOP, description: 'Rows, most spent first' })
  @IsOptional()
  // Bottom-up with stopAtFirstError: "not an integer" must be reported first.
  @Type(() => Number)
  @Max(MAX_TOP)
  @Min(1)
  @IsInt()
  limit?: number | undefined;
}

/** Cost per workflow run by feature, with the runaway runs. */
export class FeatureCostsQuery extends TopQuery {
  @ApiPropertyOptional({ example: '3', default: DEFAULT_OUTLIER_FACTOR, description: "A trace costing more than this many times its feature's p95 is an outlier (1 to 1000)" })
  @IsOptional()
  @Matches(FACTOR, { message: 'outlierFactor must be a number from 1 to 1000 with at most 3 decimals, like 3 or 2.5' })
  outlierFactor?: string | undefined;
}

/** `GET calls/:spanId`. */
export class CallDetailQuery {
  @ApiPropertyOptional({ description: "The call's time, ISO-8601, exactly as the trace detail gives it: only that month's partition is read" })
  @IsOptional()
  @IsIsoTime()
  time?: string | undefined;
}
