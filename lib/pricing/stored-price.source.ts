import type { ModelPriceSpec } from './price-table.js';

/** One `llm_prices` row: prices for a (provider, model) in force from `effectiveFrom` until `effectiveTo`. */
export interface StoredPrice extends ModelPriceSpec {
  provider: string;
  model: string;
  effectiveFrom: Date;
  /** Exclusive; null means open-ended. */
  effectiveTo?: Date | null | undefined;
  /** Batch prices; default: the prices above times the provider's batch discount. */
  batch?: ModelPriceSpec | undefined;
}

/**
 * Where stored prices come from (storage implements it over `llm_prices`). Pricing happens on the
 * hot path and must not wait, so the PriceBook holds a snapshot: it calls `load()` at start and
 * again whenever `subscribe`'s callback fires (or on `PriceBook.refresh()`).
 */
export interface StoredPriceSource {
  load(): StoredPrice[] | Promise<StoredPrice[]>;
  /** Optional change feed; returns an unsubscribe function. */
  subscribe?(onChange: () => void): () => void;
}

/** Keeps stored prices in memory: for tests, scripts, and apps without a database. */
export class InMemoryStoredPriceSource implements StoredPriceSource {
  private rows: StoredPrice[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(rows: StoredPrice[] = []) {
    this.rows = [...rows];
  }

  load(): StoredPrice[] {
    return this.rows;
  }

  add(row: StoredPrice): void {
    this.rows = [...this.rows, row];
    for (const listener of this.listeners) listener();
  }

  subscribe(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }
}
