import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, Equals, IsArray, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';

/**
 * Bodies of `POST budgets` and `PUT budgets/:name`. The shapes are checked here (messages worded
 * like the `budgets` option's); the service then runs the option's own check (`checkBudget`), so
 * a budget made through the API is held to exactly the rules of one declared in code.
 */

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
// A tag key, which `__proto__` cannot be (as in the budgets option).
const SCOPE = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
/** A non-negative USD amount; more than 15 decimals would be rounded, so they are refused. */
const LIMIT = /^\d{1,15}(?:\.\d{1,15})?$/;
const LIMIT_MESSAGE = "limit must be an amount in USD like '5.00' (at most 15 decimals, not negative)";
const ALERTS_MESSAGE = 'alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]';
const TIME_ZONE_MESSAGE = "timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC'";
// JSON numbers are read through their shortest decimal form, like the `budgets` option.
const toDecimal = Transform(({ value }) => (typeof value === 'number' && Number.isFinite(value) ? String(value) : value));

export const BUDGET_PERIODS = ['hour', 'day', 'month', 'total'] as const;
export const BUDGET_MODES = ['enforce', 'warn'] as const;
export const UNPRICED_POLICIES = ['refuse', 'allow'] as const;
export const DATABASE_DOWN_POLICIES = ['allow', 'refuse'] as const;

/** What a budget does once it applies; shared by create and change. */
class BudgetPolicyFields {
  @ApiPropertyOptional({ enum: BUDGET_MODES, default: 'enforce', description: '`enforce` refuses calls that do not fit; `warn` lets them through and warns once per scope and period' })
  @IsOptional()
  @IsIn(BUDGET_MODES, { message: 'mode must be enforce or warn' })
  mode?: 'enforce' | 'warn' | undefined;

  @ApiPropertyOptional({ enum: UNPRICED_POLICIES, default: 'refuse', description: 'A call to a model with no price' })
  @IsOptional()
  @IsIn(UNPRICED_POLICIES, { message: 'unpriced must be refuse or allow' })
  unpriced?: 'refuse' | 'allow' | undefined;

  @ApiPropertyOptional({ enum: DATABASE_DOWN_POLICIES, default: 'allow', description: 'When the database cannot be asked' })
  @IsOptional()
  @IsIn(DATABASE_DOWN_POLICIES, { message: 'whenDatabaseDown must be allow or refuse' })
  whenDatabaseDown?: 'allow' | 'refuse' | undefined;

  @ApiPropertyOptional({ type: [Number], example: [50, 80, 100], description: 'Percentages of the limit that fire an alert once per scope and period' })
  @IsOptional()
  // class-validator runs these bottom-up; with stopAtFirstError, "not an array" must come first.
  @ArrayMaxSize(20, { message: 'alerts takes at most 20 thresholds' })
  @Max(1000, { each: true, message: ALERTS_MESSAGE })
  @Min(1, { each: true, message: ALERTS_MESSAGE })
  @IsInt({ each: true, message: ALERTS_MESSAGE })
  @IsArray({ message: ALERTS_MESSAGE })
  alerts?: number[] | undefined;
}

/** A new durable budget (`llm_budgets` row, source `api`). */
export class CreateBudgetBody extends BudgetPolicyFields {
  @ApiProperty({ example: 'per-user-day', description: 'Unique; 1-100 letters, digits or _ . : -' })
  @Matches(NAME, { message: 'name must be 1-100 letters, digits or _ . : -' })
  @IsString({ message: 'name must be 1-100 letters, digits or _ . : -' })
  name: string;

  @ApiProperty({ example: 'user_id', description: 'A tag key (user_id, feature, project, a tenant tag…) or `service` (the service id)' })
  @Matches(SCOPE, { message: 'scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"' })
  @IsString({ message: 'scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"' })
  scope: string;

  @ApiPropertyOptional({ nullable: true, type: String, example: 'acme', description: 'Only this value of the tag; absent or null: each value has its own limit' })
  @IsOptional()
  @Length(1, 256, { message: 'value must be a non-empty string of at most 256 characters' })
  @IsString({ message: 'value must be a non-empty string of at most 256 characters' })
  value?: string | null | undefined;

  @ApiProperty({ enum: BUDGET_PERIODS, description: 'An hour, day or month of the `timeZone` calendar (UTC by default), or `total` (never resets)' })
  @IsIn(BUDGET_PERIODS, { message: 'period must be hour, day, month or total' })
  period: 'hour' | 'day' | 'month' | 'total';

  @ApiPropertyOptional({ example: 'America/New_York', default: 'UTC', description: 'The IANA time zone whose calendar the periods follow; fixed once made, like the period' })
  @IsOptional()
  @IsString({ message: TIME_ZONE_MESSAGE })
  timeZone?: string | undefined;

  @ApiProperty({ example: '5.00', description: 'USD, a decimal string (a JSON number is read through its shortest decimal form)' })
  @toDecimal
  @Matches(LIMIT, { message: LIMIT_MESSAGE })
  @IsString({ message: LIMIT_MESSAGE })
  limit: string;
}

const FIXED = 'cannot be changed: what a budget has spent is counted by its name, scope, value and period; delete it and create another';

/** A change to a budget: its limit and policies. What it counts (scope, value, period) is fixed. */
export class UpdateBudgetBody extends BudgetPolicyFields {
  @ApiPropertyOptional({ example: '10.00', description: 'USD, a decimal string; applies to the current period at once' })
  @IsOptional()
  @toDecimal
  @Matches(LIMIT, { message: LIMIT_MESSAGE })
  @IsString({ message: LIMIT_MESSAGE })
  limit?: string | undefined;

  // Present only to answer with a clear message instead of "property scope should not exist".
  @ApiHideProperty() @Equals(undefined, { message: `name ${FIXED}` }) name?: never | undefined;
  @ApiHideProperty() @Equals(undefined, { message: `scope ${FIXED}` }) scope?: never | undefined;
  @ApiHideProperty() @Equals(undefined, { message: `value ${FIXED}` }) value?: never | undefined;
  @ApiHideProperty() @Equals(undefined, { message: `period ${FIXED}` }) period?: never | undefined;
  @ApiHideProperty() @Equals(undefined, { message: `timeZone ${FIXED}` }) timeZone?: never | undefined;
}

/** Fields of {@link UpdateBudgetBody} that change something. */
export const BUDGET_CHANGES = ['limit', 'mode', 'unpriced', 'whenDatabaseDown', 'alerts'] as const;
