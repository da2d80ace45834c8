import { calcPrice, type ModelPrice, type ConditionalPrice } from '@pydantic/genai-prices';
import { correctionsFor } from './catalog.corrections.js';
import { bundledCatalog, type CatalogData } from './catalog.data.js';
import { compilePrice, withFeeNote, type CompiledPrice } from './compiled-price.js';
import type { ModelPriceSpec, PerMtok } from './price-table.js';

/** One price period of a catalog model; evaluated last to first like the catalog does. */
export type CatalogVariant =
  | { kind: 'always'; price: CompiledPrice }
  | { kind: 'from'; fromMs: number; price: CompiledPrice }
  /** Seconds of the UTC day; `start > end` wraps midnight. */
  | { kind: 'time-of-day'; start: number; end: number; price: CompiledPrice };

export interface CatalogEntry {
  /** The catalog's model id, e.g. `gpt-4o` for `gpt-4o-2024-08-06`. */
  id: string;
  variants: CatalogVariant[];
  /** Price keys we do not bill (images, audio hours…); kept so rows can say what was ignored. */
  ignoredKeys: string[];
  /** Which catalog (and corrections) priced it; stored on each row. */
  version: string;
  /** The model's context window in tokens, when the catalog knows it (bounds a call's input and output). */
  contextWindow: number | null;
}

const KEYS: Record<string, keyof ModelPriceSpec> = {
  input_mtok: 'input',
  output_mtok: 'output',
  cache_read_mtok: 'cacheRead',
  cache_write_mtok: 'cacheWrite',
  cache_write_1h_mtok: 'cacheWrite1h',
  output_reasoning_mtok: 'reasoning',
  input_audio_mtok: 'inputAudio',
  output_audio_mtok: 'outputAudio',
  cache_audio_read_mtok: 'cacheReadAudio',
  output_image_mtok: 'outputImage',
};

/** Per-thousand fees in the catalog and the per-request key they become. */
const FEE_KEYS: Record<string, keyof ModelPriceSpec> = {
  web_searches_kcount: 'webSearch',
  storage_searches_kcount: 'fileSearch',
};

/** Prices that do not depend on tokens; not part of a chat or embedding call's cost here. */
const NOT_TOKEN_PRICED = /_kcount$/;

function toSpec(prices: ModelPrice, ignored: Set<string>): ModelPriceSpec {
  const spec: Record<string, PerMtok> = {};
  for (const [key, value] of Object.entries(prices)) {
    if (value === undefined) continue;
    if (key === 'cache_write_5m_mtok') spec.cacheWrite = value as PerMtok;
    else if (key === 'requests_kcount' && typeof value === 'number') spec.perRequest = perThousand(value);
    else if (FEE_KEYS[key] && typeof value === 'number') spec[FEE_KEYS[key]] = perThousand(value);
    else if (KEYS[key]) {
      // A more specific 5-minute rate wins over the generic cache-write rate.
      if (key === 'cache_write_mtok' && prices.cache_write_5m_mtok !== undefined) continue;
      spec[KEYS[key]] = value as PerMtok;
    } else if (NOT_TOKEN_PRICED.test(key) || key.endsWith('_mtok')) ignored.add(key);
  }
  return spec;
}

/**
 * A price per 1,000 as an exact decimal per one (the catalog's numbers are short decimals). A
 * number that prints in exponent form is divided as a number: `usd()` reads numbers of any form,
 * but not exponent strings.
 */
function perThousand(value: number): string | number {
  const [whole, frac = ''] = String(value).split('.');
  const digits = (whole.padStart(4, '0') + frac).replace(/^0+(?=\d)/, '');
  const point = digits.length - frac.length - 3;
  const text = point <= 0 ? '0.' + '0'.repeat(-point) + digits : digits.slice(0, point) + '.' + digits.slice(point);
  return /e/i.test(String(value)) ? value / 1000 : text;
}

/** Seconds into the UTC day of `HH:MM:SS[.fff](Z|±HH:MM)`. */
function secondOfDay(text: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return NaN;
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  const offset = m[4] === 'Z' ? 0 : (m[5] === '+' ? 1 : -1) * (Number(m[6]) * 3600 + Number(m[7]) * 60);
  return (local - offset + 86400) % 86400;
}

/**
 * Looks a model up in the `@pydantic/genai-prices` catalog (its own matcher, so dated snapshots like
 * `gpt-4o-2024-08-06` resolve), applies Kostrack's sourced corrections, and compiles every price
 * period once. Null when the catalog does not know the model. `data` is a newer catalog loaded
 * at start; providers it lacks come from the bundled one.
 */
export function lookupCatalog(catalogProvider: string, model: string, data: CatalogData = bundledCatalog()): CatalogEntry | null {
  const fromData = data.providers?.find((p) => p.id === catalogProvider);
  const used = fromData ? data : bundledCatalog();
  let found;
  try {
    // An empty usage prices nothing; we only want the catalog's match for this (provider, model).
    found = calcPrice({}, model, fromData ? { provider: fromData } : { providerId: catalogProvider });
  } catch {
    return null;
  }
  if (!found) return null;
  const ignored = new Set<string>();
  const where = `genai-prices:${found.model.id}`;
  const periods: ConditionalPrice[] = Array.isArray(found.model.prices) ? found.model.prices : [{ prices: found.model.prices }];
  const corrections = correctionsFor(catalogProvider, found.model.id, model, found.model.prices);
  const patch: ModelPriceSpec = Object.assign({}, ...corrections.filter((c) => c.kind === 'patch').map((c) => c.spec));
  const note = (price: CompiledPrice): CompiledPrice => {
    for (const c of corrections) if (c.feeNote) price = withFeeNote(price, c.feeNote.fee, c.feeNote.note);
    return price;
  };
  const variants: CatalogVariant[] = [];
  for (const period of periods) {
    const price = note(compilePrice({ ...toSpec(period.prices, ignored), ...patch }, where));
    const c = period.constraint;
    if (!c) variants.push({ kind: 'always', price });
    else if (c.type === 'start_date') variants.push({ kind: 'from', fromMs: Date.parse(c.start_date), price });
    else variants.push({ kind: 'time-of-day', start: secondOfDay(c.start_time), end: secondOfDay(c.end_time), price });
  }
  // Dated corrections come last: evaluated first, they win from their date on.
  for (const c of corrections.filter((c) => c.kind === 'from').sort((a, b) => Date.parse(a.from!) - Date.parse(b.from!))) {
    variants.push({ kind: 'from', fromMs: Date.parse(c.from!), price: note(compilePrice({ ...patch, ...c.spec }, `correction:${found.model.id}`)) });
  }
  const cw = found.model.context_window;
  const contextWindow = typeof cw === 'number' && Number.isSafeInteger(cw) && cw > 0 ? cw : null;
  return { id: found.model.id, variants, ignoredKeys: [...ignored].sort(), version: used.version, contextWindow };
}

/** The catalog's period rule: the last period whose constraint holds, else the first. */
export function catalogPriceAt(entry: CatalogEntry, timeMs: number): CompiledPrice {
  const v = entry.variants;
  if (v.length === 1) return v[0].price;
  for (let i = v.length - 1; i >= 0; i--) {
    const p = v[i];
    if (p.kind === 'always') return p.price;
    if (p.kind === 'from') {
      if (timeMs >= p.fromMs) return p.price;
    } else {
      const sec = (((timeMs % 86_400_000) + 86_400_000) % 86_400_000) / 1000;
      if (p.start > p.end ? sec >= p.start || sec < p.end : sec >= p.start && sec < p.end) return p.price;
    }
  }
  return v[0].price;
}
