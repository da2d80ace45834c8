import { initDown, initUp } from './0001-init.migration.js';
import { pricesDown, pricesUp } from './0002-prices.migration.js';
import { billingDimensionsDown, billingDimensionsUp } from './0003-billing-dimensions.migration.js';
import { budgetsDown, budgetsUp } from './0004-budgets.migration.js';
import { scaleDown, scaleUp } from './0005-scale.migration.js';
import { repricingDown, repricingUp } from './0006-repricing.migration.js';
import { providerCostsDown, providerCostsUp } from './0007-provider-costs.migration.js';
import { dailyRollupDown, dailyRollupUp } from './0008-daily-rollup.migration.js';
import { callAttemptsDown, callAttemptsUp } from './0009-call-attempts.migration.js';
import { budgetTimeZonesDown, budgetTimeZonesUp } from './0010-budget-time-zones.migration.js';

/** One schema version. `name` follows TypeORM's `<Name><timestamp>` convention so hosts can run the same list. */
export interface KostrackMigrationStep {
  name: string;
  timestamp: number;
  up(schema: string): string[];
  down(schema: string): string[];
}

export const MIGRATION_STEPS: readonly KostrackMigrationStep[] = [
  { name: 'KostrackInit1767225600000', timestamp: 1767225600000, up: initUp, down: initDown },
  { name: 'KostrackPrices1767312000000', timestamp: 1767312000000, up: pricesUp, down: pricesDown },
  { name: 'KostrackBillingDimensions1767398400000', timestamp: 1767398400000, up: billingDimensionsUp, down: billingDimensionsDown },
  { name: 'KostrackBudgets1767484800000', timestamp: 1767484800000, up: budgetsUp, down: budgetsDown },
  { name: 'KostrackScale1767571200000', timestamp: 1767571200000, up: scaleUp, down: scaleDown },
  { name: 'KostrackRepricing1767657600000', timestamp: 1767657600000, up: repricingUp, down: repricingDown },
  { name: 'KostrackProviderCosts1767744000000', timestamp: 1767744000000, up: providerCostsUp, down: providerCostsDown },
  { name: 'KostrackDailyRollup1767830400000', timestamp: 1767830400000, up: dailyRollupUp, down: dailyRollupDown },
  { name: 'KostrackCallAttempts1767916800000', timestamp: 1767916800000, up: callAttemptsUp, down: callAttemptsDown },
  { name: 'KostrackBudgetTimeZones1768003200000', timestamp: 1768003200000, up: budgetTimeZonesUp, down: budgetTimeZonesDown },
];
