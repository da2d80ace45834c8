import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { assertProviderName } from '../pricing/provider-catalog.js';
import type { PerMtok, PriceOverride } from '../pricing/price-table.js';
import { KOSTRACK_ADMIN_STORE, type AdminStore } from './admin.store.js';
import { AdminQueryService } from './admin.query.service.js';
import { iso } from './admin.rows.js';
import { PRICE_COLUMNS, PRICE_COLUMNS_AS_TEXT, PRICE_FIELDS, type PriceField } from '../storage/price.columns.js';
import type { CreatePriceBody } from './dto/create-price.body.js';
import type { PriceDto, PricesDto } from './dto/admin.responses.js';
import { parseIsoTime } from './dto/query-values.js';
import { SqlParams } from './sql.params.js';

const PRICE_SELECT = `id, provider, model, effective_from, effective_to, note, ${PRICE_COLUMNS_AS_TEXT}`;

type PriceRow = { id: string; provider: string; model: string; effective_from: Date; effective_to: Date | null; note: string | null } & Record<
  PriceField,
  string | null
>;

/** Prices in effect (stored rows and the `prices` option) and new stored overrides. */
@Injectable()
export class AdminPricesService {
  constructor(
    @Inject(KOSTRACK_ADMIN_STORE) private readonly store: AdminStore,
    @Inject(AdminQueryService) private readonly queries: AdminQueryService,
  ) {}

  async pricesAt(at: Date): Promise<PricesDto> {
    const { pool, s } = this.queries.db();
    // The newest row in force per model wins, as in PriceBook.
    const rows = await this.queries.run<PriceRow>(
      pool,
      `SELECT DISTINCT ON (provider, model) ${PRICE_SELECT}
         FROM ${s}.llm_prices
        WHERE effective_from <= $1::timestamptz AND (effective_to IS NULL OR effective_to > $1::timestamptz)
        ORDER BY provider, model, effective_from DESC, id DESC`,
      [at.toISOString()],
    );
    const stored = rows.map(toPrice);
    const options = this.store.priceOverrides().map(optionPrice);
    return { at: at.toISOString(), prices: [...stored, ...options] };
  }

  /** The stored price that priced a `stored` call of `provider`/`model` made at `at` (newest in force then, as in PriceBook). */
  async storedAt(provider: string, model: string, at: Date): Promise<PriceDto | null> {
    const { pool, s } = this.queries.db();
    const rows = await this.queries.run<PriceRow>(
      pool,
      `SELECT ${PRICE_SELECT} FROM ${s}.llm_prices
        WHERE provider = $1 AND model = $2 AND effective_from <= $3::timestamptz AND (effective_to IS NULL OR effective_to > $3::timestamptz)
        ORDER BY effective_from DESC, id DESC LIMIT 1`,
      [provider, model, at.toISOString()],
    );
    return rows.length ? toPrice(rows[0]) : null;
  }

  async create(body: CreatePriceBody): Promise<PriceDto> {
    try {
      assertProviderName(body.provider, 'provider');
    } catch (e) {
      throw new BadRequestException((e as Error).message);
    }
    const given = PRICE_FIELDS.filter((f) => body[f] !== undefined);
    if (given.length === 0) throw new BadRequestException(`give at least one price: ${PRICE_FIELDS.join(', ')}`);
    const from = body.effectiveFrom !== undefined ? parseIsoTime(body.effectiveFrom) : new Date();
    const to = body.effectiveTo !== undefined ? parseIsoTime(body.effectiveTo) : null;
    if (to && to.getTime() <= from.getTime()) throw new BadRequestException('effectiveTo must be after effectiveFrom');
    const { pool, s } = this.queries.db();
    const p = new SqlParams();
    const columns = ['provider', 'model', 'effective_from', 'effective_to', 'note', ...given.map((f) => PRICE_COLUMNS[f])];
    const values = [
      p.add(body.provider),
      p.add(body.model),
      `${p.add(from.toISOString())}::timestamptz`,
      `${p.add(to?.toISOString() ?? null)}::timestamptz`,
      p.add(body.note ?? null),
      ...given.map((f) => `${p.add(body[f])}::numeric`),
    ];
    const rows = await this.queries.run<PriceRow>(
      pool,
      `INSERT INTO ${s}.llm_prices (${columns.join(', ')}) VALUES (${values.join(', ')}) RETURNING ${PRICE_SELECT}`,
      p.values,
    );
    // The new price applies to calls priced after this response, not only after the next periodic re-read.
    await this.store.pricesChanged?.();
    return toPrice(rows[0]);
  }
}

function toPrice(r: PriceRow): PriceDto {
  const perMtok: Record<string, string> = {};
  for (const f of PRICE_FIELDS) if (r[f] !== null) perMtok[f] = r[f]!;
  return {
    id: Number(r.id),
    source: 'stored',
    provider: r.provider,
    model: r.model,
    perMtok,
    effectiveFrom: iso(r.effective_from),
    effectiveTo: iso(r.effective_to),
    note: r.note,
  };
}

function optionPrice(o: PriceOverride): PriceDto {
  const perMtok: Record<string, PerMtok | string> = {};
  for (const f of [...PRICE_FIELDS, 'perRequest'] as const) {
    const v = o[f];
    if (v === undefined) continue;
    perMtok[f] = typeof v === 'number' ? String(v) : v;
  }
  return { id: null, source: 'option', provider: o.provider, model: o.model, perMtok, effectiveFrom: null, effectiveTo: null, note: null };
}
