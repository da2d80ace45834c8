import { KostrackConfigError } from '../core/errors.js';

/** Schema names are spliced into SQL (identifiers cannot be bound), so only plain identifiers pass. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export const DEFAULT_SCHEMA = 'public';

export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema))
    throw new KostrackConfigError(
      `Kostrack storage: schema must be a plain identifier (letters, digits, _; at most 63), got ${JSON.stringify(schema)}`,
    );
  return schema;
}

/** The quoted schema, e.g. `"public"`; callers append `.table`. */
export function quoteSchema(schema: string): string {
  return `"${validateSchemaName(schema)}"`;
}
