import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { TAG_KEY_SOURCE } from './query-values.js';
import { TraceFilterQuery } from './trace-filter.query.js';

export const TIME_BUCKETS = ['hour', 'day', 'week'] as const;
export type TimeBucket = (typeof TIME_BUCKETS)[number];

const GROUP_BY = new RegExp(`^(?:model|provider|hour|day|week|tag:${TAG_KEY_SOURCE})$`);
const SERIES = new RegExp(`^(?:model|provider|tag:${TAG_KEY_SOURCE})$`);

export class CostsQuery extends TraceFilterQuery {
  @ApiProperty({ description: 'model, provider, tag:<key> (e.g. tag:feature, tag:user_id), hour, day or week', example: 'tag:feature' })
  @Matches(GROUP_BY, { message: 'groupBy must be model, provider, tag:<key>, hour, day or week' })
  groupBy: string;

  @ApiPropertyOptional({ description: 'With a time bucket: split each bucket by model, provider or tag:<key>', example: 'model' })
  @IsOptional()
  @Matches(SERIES, { message: 'series must be model, provider or tag:<key>' })
  series?: string | undefined;
}
