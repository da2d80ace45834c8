import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * Response shapes, as classes so @nestjs/swagger can describe them. Money is a decimal string
 * (exact; never a float), times are ISO-8601 strings.
 */

export class TraceSummaryDto {
  @ApiProperty({ format: 'uuid' }) traceId: string;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ nullable: true, type: String }) feature: string | null;
  @ApiProperty({ nullable: true, type: String }) userId: string | null;
  @ApiProperty({ nullable: true, type: String }) project: string | null;
  @ApiProperty({ example: '0.006523456789013' }) totalCostUsd: string;
  @ApiProperty() callCount: number;
  @ApiProperty() unpricedCallCount: number;
  @ApiProperty() errorCallCount: number;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cachedTokens: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) endedAt: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMs: number | null;
  @ApiProperty({ nullable: true, type: String }) status: string | null;
  @ApiProperty({ type: [String] }) serviceIds: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) tags: Record<string, string>;
}

export class TraceListDto {
  @ApiProperty({ type: [TraceSummaryDto] }) items: TraceSummaryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor: string | null;
  @ApiProperty() limit: number;
}

export class CallDto {
  @ApiProperty({ format: 'uuid' }) spanId: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) parentSpanId: string | null;
  @ApiProperty({ format: 'date-time' }) time: string;
  @ApiProperty() serviceId: string;
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty() operation: string;
  @ApiProperty({ nullable: true, type: String, description: 'Null when the call could not be priced' }) costUsd: string | null;
  @ApiProperty() pricingSource: string;
  @ApiProperty({ nullable: true, type: String }) pricingModel: string | null;
  @ApiProperty({ type: [String], description: 'Why the price is not exact (a bucket billed at another rate, an unpriced tier or fee); empty when exact' })
  pricingFlags: string[];
  @ApiProperty({ nullable: true, type: String, description: 'The service tier the response reported (flex, priority, batch…)' }) serviceTier: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The price catalog and corrections version that priced the call' }) catalogVersion: string | null;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cachedTokens: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } }) tokenBreakdown: Record<string, number>;
  @ApiProperty() latencyMs: number;
  @ApiProperty() status: string;
  @ApiProperty({ nullable: true, type: String }) errorClass: string | null;
  @ApiProperty() streamed: boolean;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) tags: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: Number, example: 1, description: 'HTTP attempts the SDK made for this call (over 1: it retried on its own); null when unknown' })
  attempts: number | null;
}

export class SpanNodeDto {
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Null for a trace whose root span never landed' })
  spanId: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) parentSpanId: string | null;
  @ApiProperty({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ enum: ['trace', 'span'] }) kind: 'trace' | 'span';
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) endedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) status: string | null;
  @ApiProperty({ description: 'Cost of the calls in this span and its descendants' }) costUsd: string;
  @ApiProperty({ description: 'Calls in this span and its descendants' }) callCount: number;
  @ApiProperty({ type: [String], description: 'Ids of the calls made directly in this span, in order' }) callIds: string[];
  @ApiProperty({ type: () => [SpanNodeDto] }) children: SpanNodeDto[];
}

export class CostBreakdownItemDto {
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty() costUsd: string;
  @ApiProperty({ description: 'Share of the trace cost, one decimal; the shares sum to 100' }) pct: number;
  @ApiProperty() calls: number;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
}

export class TraceDetailDto {
  @ApiProperty({ type: TraceSummaryDto }) trace: TraceSummaryDto;
  @ApiProperty({ type: SpanNodeDto }) root: SpanNodeDto;
  @ApiProperty({ type: [CallDto], description: 'Every call of the trace, by time' }) calls: CallDto[];
  @ApiProperty({ type: [CostBreakdownItemDto] }) costBreakdown: CostBreakdownItemDto[];
  @ApiProperty({ type: TraceSummaryDto, description: 'Totals from the rollup (same as trace)' }) totals: {
    totalCostUsd: string;
    callCount: number;
    unpricedCallCount: number;
    errorCallCount: number;
    inputTokens: number;
    outputTokens: number;
    cachedTokens: number;
    durationMs: number | null;
    spanCount: number;
  };
}

export class CostGroupDto {
  @ApiProperty({ nullable: true, type: String, description: 'Model, provider, tag value (null: calls without the tag) or bucket start' })
  key: string | null;
  @ApiPropertyOptional({ description: 'The provider, when grouping by model' }) provider?: string | undefined;
  @ApiPropertyOptional({ format: 'date-time', description: 'Bucket start, when grouping by time' }) bucket?: string | undefined;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'The series value, when `series` is given' }) series?: string | null | undefined;
  @ApiPropertyOptional({ description: 'The series provider, when `series=model`' }) seriesProvider?: string | undefined;
  @ApiProperty() costUsd: string;
  @ApiProperty() calls: number;
  @ApiProperty() unpricedCalls: number;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
}

export class CostReportDto {
  @ApiProperty() groupBy: string;
  @ApiProperty({ nullable: true, type: String }) series: string | null;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ description: 'Over every group in the range, also those past the cap' }) totalCostUsd: string;
  @ApiProperty({ description: 'Groups in the range; at most 1,000 are returned' }) groupCount: number;
  @ApiProperty({ description: 'True when groupCount exceeds the groups returned' }) truncated: boolean;
  @ApiProperty({ type: [CostGroupDto] }) groups: CostGroupDto[];
}

export class UnpricedModelDto {
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty() calls: number;
  @ApiProperty({ format: 'date-time' }) firstSeen: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastSeen: string | null;
}

export class UnpricedModelsDto {
  @ApiProperty({ enum: ['database', 'process'], description: 'database: every replica; process: this process only (storage off)' })
  source: 'database' | 'process';
  @ApiProperty({ type: [UnpricedModelDto] }) models: UnpricedModelDto[];
}

export class PriceDto {
  @ApiProperty({ nullable: true, type: Number, description: 'Row id of a stored price; null for the prices option' }) id: number | null;
  @ApiProperty({ enum: ['stored', 'option'] }) source: 'stored' | 'option';
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'USD per million tokens by bucket' })
  perMtok: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) effectiveFrom: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) effectiveTo: string | null;
  @ApiProperty({ nullable: true, type: String }) note: string | null;
}

export class PricesDto {
  @ApiProperty({ format: 'date-time' }) at: string;
  @ApiProperty({ type: [PriceDto] }) prices: PriceDto[];
}

export class HealthDto {
  @ApiProperty({ description: 'False when storage is off (database: false); the other fields are then absent' }) enabled: boolean;
  @ApiPropertyOptional() schema?: string | undefined;
  @ApiPropertyOptional({ nullable: true, type: Boolean, description: 'Null until the first write was attempted' }) databaseReachable?: boolean | null | undefined;
  @ApiPropertyOptional({ description: 'Rows in memory, queued or in flight' }) queueDepth?: number | undefined;
  @ApiPropertyOptional({ description: 'Bytes waiting in the disk spool' }) spoolBytes?: number | undefined;
  @ApiPropertyOptional({ description: 'Rows this process wrote to the disk spool since start' }) spooledRows?: number | undefined;
  @ApiPropertyOptional({ description: 'Rows lost since start: the spool or dead-letter file could not be written (a full or read-only disk)' }) lostRows?: number;
  @ApiPropertyOptional() deadLettered?: number | undefined;
  @ApiPropertyOptional({ type: 'object', properties: { calls: { type: 'number' }, spans: { type: 'number' } } }) written?: { calls: number; spans: number } | undefined;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) lastFlushAt?: Date | null | undefined;
  @ApiPropertyOptional({ nullable: true, type: 'object', properties: { code: { type: 'string', nullable: true }, message: { type: 'string' }, at: { type: 'string', format: 'date-time' } } })
  lastError?: { code: string | null; message: string; at: Date } | null | undefined;
  @ApiPropertyOptional({ nullable: true, type: 'object', description: "The spool's latest write failure; null once it writes again", properties: { code: { type: 'string', nullable: true }, message: { type: 'string' }, at: { type: 'string', format: 'date-time' } } })
  spoolError?: { code: string | null; message: string; at: Date } | null | undefined;
  @ApiPropertyOptional({ description: 'Storage closed: rows go only to the spool, written at the next start' }) closed?: boolean | undefined;
}

export class BudgetUsageDto {
  @ApiProperty({ description: 'The scope value: a user id, a feature, a tenant, a service id…' }) scopeValue: string;
  @ApiProperty({ example: '0.0090405', description: 'Settled cost of the calls made under it this period' }) spent: string;
  @ApiProperty({ example: '0', description: 'Held by calls in flight (live holds only; expired ones are not counted)' }) reserved: string;
  @ApiProperty({ example: '0.0009595', description: 'limit − spent − reserved, never below 0' }) remaining: string;
  @ApiProperty({ description: 'Calls counted this period (refused calls are not)' }) calls: number;
  @ApiProperty({ format: 'date-time' }) periodStart: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When the period ends; null for `total`' }) resetsAt: string | null;
}

export class BudgetDto {
  @ApiProperty() name: string;
  @ApiProperty({ description: 'A tag key, or `service`' }) scope: string;
  @ApiProperty({ nullable: true, type: String, description: 'Only this value of the tag; null: each value has its own limit' }) value: string | null;
  @ApiProperty({ enum: ['hour', 'day', 'month', 'total'] }) period: string;
  @ApiProperty({ example: 'UTC', description: 'The IANA time zone whose calendar the periods follow' }) timeZone: string;
  @ApiProperty({ example: '5' }) limit: string;
  @ApiProperty({ enum: ['enforce', 'warn'] }) mode: string;
  @ApiProperty({ enum: ['refuse', 'allow'] }) unpriced: string;
  @ApiProperty({ enum: ['allow', 'refuse'] }) whenDatabaseDown: string;
  @ApiProperty({ type: [Number] }) alerts: number[];
  @ApiProperty({ enum: ['options', 'api'], description: 'options: declared in code and written again at every start (an API change lasts until then)' })
  source: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
  @ApiProperty({ format: 'date-time', description: 'Start of the current period (an instant, in UTC notation)' }) periodStart: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'End of the current period; null for `total`' }) resetsAt: string | null;
  @ApiProperty({ description: 'Scope values with usage this period (usage lists at most `limit` of them)' }) scopeValues: number;
  @ApiProperty({ type: [BudgetUsageDto], description: 'The current period per scope value, most spent first' }) usage: BudgetUsageDto[];
}

export class BudgetListDto {
  @ApiProperty({ format: 'date-time', description: 'The moment the periods were taken at' }) at: string;
  @ApiProperty({ type: [BudgetDto] }) budgets: BudgetDto[];
}

export class BlockedCallDto {
  @ApiProperty({ format: 'date-time' }) time: string;
  @ApiProperty({ format: 'uuid' }) spanId: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) traceId: string | null;
  @ApiProperty() serviceId: string;
  @ApiProperty() provider: string;
  @ApiProperty() model: string;
  @ApiProperty() operation: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) tags: Record<string, string>;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: true,
    description: 'The refusal (metadata.budget): scope, scopeValue, period, resetsAt, spanName (the budget), limit, spent, reserved, estimate, remaining',
  })
  budget: Record<string, unknown> | null;
}

export class BlockedCallsDto {
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty() limit: number;
  @ApiProperty({ type: [BlockedCallDto], description: 'Latest first' }) items: BlockedCallDto[];
}
