import type { StoredPrice, StoredPriceSource } from '../pricing/stored-price.source.js';
import type { PerMtok } from '../pricing/price-table.js';
import { describeError } from './error.classifier.js';
import { PRICE_COLUMNS_AS_TEXT, PRICE_FIELDS, type PriceField } from './price.columns.js';
import { quoteSchema } from './schema.name.js';
import type { SqlRunner } from './sql.pool.js';

export interface SqlStoredPriceSourceOptions {
  /** How often rows are re-read, so prices added by another replica or by hand apply. Default 30 s; 0 turns it off. */
  refreshMs?: number | undefined;
  warn?: ((message: string) => void) | undefined;
}

type Field = PriceField;
const FIELDS = PRICE_FIELDS;

type PriceRow = { provider: string; model: string; effective_from: Date; effective_to: Date | null } & Record<Field, string | null>;

/**
 * Stored prices read from `llm_prices`. A PriceBook prices calls from a snapshot, so this source
 * only tells it when to reload: every `refreshMs`, and at once on {@link refresh} (the admin API
 * calls it after adding a price). Reading never throws: while the database is away the last rows
 * read stay in force and one warning says so.
 */
export class SqlStoredPriceSource implements StoredPriceSource {
  private rows: StoredPrice[] = [];
  private readonly listeners = new Set<() => void | Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private readonly sql: string;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly db: SqlRunner,
    schema: string,
    private readonly options: SqlStoredPriceSourceOptions = {},
  ) {
    // Decimals as text: a price is exact, never a float.
    this.sql = `SELECT provider, model, effective_from, effective_to, ${PRICE_COLUMNS_AS_TEXT}
                  FROM ${quoteSchema(schema)}.llm_prices ORDER BY provider, model, effective_from, id`;
    this.warn = options.warn ?? ((m) => process.emitWarning(m, { code: 'KOSTRACK' }));
  }

  async load(): Promise<StoredPrice[]> {
    try {
      const rows = await this.db.query<PriceRow>(this.sql);
      this.rows = rows.map(toStoredPrice);
      if (this.failing) this.warn('Kostrack reads stored prices again');
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.warn(`Kostrack could not read llm_prices (${describeError(e).message}); the prices read last stay in force`);
      this.failing = true;
    }
    return this.rows;
  }

  /** The PriceBook subscribes here; the first subscriber starts the periodic re-read. */
  subscribe(onChange: () => void | Promise<void>): () => void {
    this.listeners.add(onChange);
    const every = this.options.refreshMs ?? 30_000;
    if (!this.timer && every > 0) {
      this.timer = setInterval(() => void this.refresh(), every);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) this.close();
    };
  }

  /** Makes every subscriber reload now; resolves once they have (for a PriceBook: once new prices apply). */
  async refresh(): Promise<void> {
    await Promise.all([...this.listeners].map(async (listener) => listener()));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function toStoredPrice(r: PriceRow): StoredPrice {
  const price: StoredPrice = {
    provider: r.provider,
    model: r.model,
    effectiveFrom: new Date(r.effective_from),
    effectiveTo: r.effective_to === null ? null : new Date(r.effective_to),
  };
  for (const f of FIELDS) if (r[f] !== null) price[f] = r[f] as PerMtok;
  return price;
}
