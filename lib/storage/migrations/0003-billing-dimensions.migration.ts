import { quoteSchema } from '../schema.name.js';

/**
 * Version 3: how each call was billed. `service_tier` as the response reported it (`flex`,
 * `priority`, `batch`…), `pricing_flags` why a price is not exact (NULL when it is), and
 * `catalog_version` which price catalog (and corrections) priced it. Nullable columns with no
 * default: adding them rewrites nothing, so the upgrade is instant on a table of any size.
 */
export function billingDimensionsUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `ALTER TABLE ${s}.llm_calls ADD COLUMN IF NOT EXISTS service_tier text`,
    `ALTER TABLE ${s}.llm_calls ADD COLUMN IF NOT EXISTS pricing_flags jsonb`,
    `ALTER TABLE ${s}.llm_calls ADD COLUMN IF NOT EXISTS catalog_version text`,
  ];
}

export function billingDimensionsDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `ALTER TABLE ${s}.llm_calls DROP COLUMN IF EXISTS catalog_version`,
    `ALTER TABLE ${s}.llm_calls DROP COLUMN IF EXISTS pricing_flags`,
    `ALTER TABLE ${s}.llm_calls DROP COLUMN IF EXISTS service_tier`,
  ];
}
