import { ApiProperty } from '@nestjs/swagger';
import { CallDto, PriceDto } from './admin.responses.js';

/**
 * Responses of the insight routes. Money is an exact decimal string (sums in SQL numeric,
 * averages divided in 1e-15 USD units and rounded half up), never a float.
 */

export class PeriodFiguresDto {
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ example: '12.5', description: 'Total cost of the traces started in the period' }) spendUsd: string;
  @ApiProperty() traces: number;
  @ApiProperty() calls: number;
  @ApiProperty({ example: '0.0125', description: 'spendUsd / traces, to 1e-15 USD; 0 without traces' }) avgPerTraceUsd: string;
  @ApiProperty({ example: '0.04', description: "The 95th percentile of the traces' costs (a trace's actual cost); 0 without traces" }) p95PerTraceUsd: string;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cachedTokens: number;
  @ApiProperty({ description: 'Failed calls (error, aborted)' }) errorCalls: number;
  @ApiProperty() unpricedCalls: number;
}

export class SummaryDto {
  @ApiProperty({ type: PeriodFiguresDto, description: 'The range asked for' }) current: PeriodFiguresDto;
  @ApiProperty({ type: PeriodFiguresDto, description: 'The range of the same length just before it' }) previous: PeriodFiguresDto;
}

export class TopRowDto {
  @ApiProperty({ nullable: true, type: String, description: 'The user id or feature; null: traces without the tag' }) key: string | null;
  @ApiProperty({ example: '1.25' }) spendUsd: string;
  @ApiProperty() traces: number;
  @ApiProperty() calls: number;
  @ApiProperty({ example: '0.0125', description: 'spendUsd / traces, to 1e-15 USD' }) avgPerTraceUsd: string;
}

export class TopDto {
  @ApiProperty({ enum: ['user', 'feature'] }) by: 'user' | 'feature';
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ description: 'Groups in the range (rows returned: at most `limit`)' }) groupCount: number;
  @ApiProperty({ type: [TopRowDto], description: 'Most spent first' }) rows: TopRowDto[];
}

export class FeatureCostDto {
  @ApiProperty({ nullable: true, type: String, description: 'null: traces without a feature tag' }) feature: string | null;
  @ApiProperty() traces: number;
  @ApiProperty() spendUsd: string;
  @ApiProperty({ description: 'Median cost per trace (a trace’s actual cost)' }) p50Usd: string;
  @ApiProperty({ description: '95th percentile cost per trace (a trace’s actual cost)' }) p95Usd: string;
  @ApiProperty() maxUsd: string;
  @ApiProperty({ description: 'Traces of this feature above outlierFactor × p95' }) outliers: number;
}

export class OutlierTraceDto {
  @ApiProperty({ format: 'uuid' }) traceId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ nullable: true, type: String }) feature: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: string | null;
  @ApiProperty() costUsd: string;
  @ApiProperty({ description: "The feature's p95" }) p95Usd: string;
  @ApiProperty({ example: 12.5, description: 'costUsd / p95Usd, two decimals (for reading and sorting only)' }) timesP95: number;
}

export class FeatureCostsDto {
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ example: '3' }) outlierFactor: string;
  @ApiProperty({ description: 'Features in the range (rows returned: at most `limit`)' }) featureCount: number;
  @ApiProperty({ type: [FeatureCostDto], description: 'Most spent first' }) features: FeatureCostDto[];
  @ApiProperty({ description: 'Outliers over every feature' }) outlierCount: number;
  @ApiProperty({ type: [OutlierTraceDto], description: 'The worst outliers (at most `limit`), most times their p95 first' }) outliers: OutlierTraceDto[];
}

export class CacheSavingsModelDto {
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty({ description: 'Input tokens served from cache' }) cachedTokens: number;
  @ApiProperty({ nullable: true, type: String, description: 'What those tokens would have cost at the uncached input rate minus what they cost at the cache-read rate; null: no price known' })
  savedUsd: string | null;
}

export class CacheSavingsDto {
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ example: '0.0185175', description: 'Over every model with a price' }) savedUsd: string;
  @ApiProperty() cachedTokens: number;
  @ApiProperty({ type: [CacheSavingsModelDto], description: 'Most saved first' }) models: CacheSavingsModelDto[];
  @ApiProperty({ description: 'How it is computed' }) method: string;
}

export class CallSpanDto {
  @ApiProperty({ format: 'uuid' }) spanId: string;
  @ApiProperty() name: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) parentSpanId: string | null;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({ format: 'date-time' }) endedAt: string;
  @ApiProperty() status: string;
  @ApiProperty({ nullable: true, type: String }) errorClass: string | null;
}

export class CallDetailDto {
  @ApiProperty({ type: CallDto }) call: CallDto;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) traceId: string | null;
  @ApiProperty({ nullable: true, type: String }) traceName: string | null;
  @ApiProperty({ nullable: true, type: CallSpanDto, description: 'The span the call ran in; null when it ran in no recorded span' }) span: CallSpanDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When it was last (re-)priced' }) pricedAt: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'The llm_repricings run that last changed its cost' }) repricingId: number | null;
  @ApiProperty({ nullable: true, type: PriceDto, description: 'For a call priced by a stored price: that llm_prices row' }) storedPrice: PriceDto | null;
}
