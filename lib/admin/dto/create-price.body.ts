import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { IsIsoTime } from './query-values.js';

/** USD per million tokens: up to 9 decimals, which the PriceBook maps to whole 1e-15 USD units per token. */
const PER_MTOK = /^\d{1,9}(?:\.\d{1,9})?$/;
// JSON numbers are accepted through their shortest decimal form, like the `prices` option.
const toDecimal = Transform(({ value }) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : value));

function PerMtok(description: string): PropertyDecorator {
  return (target, key) => {
    ApiPropertyOptional({ description: `${description}, USD per million tokens (decimal string)`, example: '0.15' })(target, key);
    IsOptional()(target, key);
    toDecimal(target, key);
    Matches(PER_MTOK, { message: `${String(key)} must be a non-negative decimal with at most 9 decimals` })(target, key);
  };
}


/** A stored price override (`llm_prices` row). */
export class CreatePriceBody {
  @ApiProperty({ example: 'openai', description: 'openai, anthropic, gemini, deepseek, … or custom:<name>' })
  @IsString()
  @Length(1, 64)
  provider: string;

  @ApiProperty({ example: 'ft:gpt-4o-mini:acme' })
  @IsString()
  @Length(1, 200)
  model: string;

  @PerMtok('Uncached input') input?: string | undefined;
  @PerMtok('Output') output?: string | undefined;
  @PerMtok('Cache reads') cacheRead?: string | undefined;
  @PerMtok('Cache writes (5-minute)') cacheWrite?: string;
  @PerMtok('Cache writes (1-hour)') cacheWrite1h?: string;
  @PerMtok('Reasoning output') reasoning?: string | undefined;
  @PerMtok('Audio input') inputAudio?: string | undefined;
  @PerMtok('Audio output') outputAudio?: string | undefined;

  @ApiPropertyOptional({ description: 'In force from (inclusive), ISO-8601; default now' })
  @IsOptional()
  @IsIsoTime()
  effectiveFrom?: string | undefined;

  @ApiPropertyOptional({ description: 'In force until (exclusive), ISO-8601; default open-ended' })
  @IsOptional()
  @IsIsoTime()
  effectiveTo?: string | undefined;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string | undefined;
}
