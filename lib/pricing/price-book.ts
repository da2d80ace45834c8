import { KostrackConfigError, usd, type TokenBreakdown, type Usd } from '../core/index.js';
import { runtime } from '../core/runtime.js';
import { catalogPriceAt, lookupCatalog, type CatalogEntry } from './catalog.source.js';
import { bundledCatalog, type CatalogData } from './catalog.data.js';
import { compilePrice, costAt, countable, countsOk, flagsOf, inheritFees, ratesFor, scalePrice, withFee, type CompiledPrice } from './compiled-price.js';
import { tierKind, tierPricesFor, tierTableIsDated } from './service-tier.prices.js';
import { toolFeeFor, type WebSearchTool } from './tool-fee.prices.js';
import { FEE_BUCKETS, PRICE_BUCKETS, type PriceOverride } from './price-table.js';
import type { StoredPrice, StoredPriceSource } from './stored-price.source.js';
import { batchDiscountOf, catalogProviderOf } from './provider-catalog.js';

/** What pricing a call produced; goes straight onto the call row. */
export interface PricedCall {
  costUsd: Usd | null;
  /** e.g. `genai-prices:gpt-4o`, `override:acme-ft-1`, `stored:gpt-4o@2025-01-01T00:00:00.000Z`. */
  pricingModel: string | null;
  /** `catalog`, `override`, `stored`, `tier` (Kostrack's tier table), `batch` (any of them at batch rates), or `unpriced`. */
  pricingSource: string;
  /** Why the price is not exact (see {@link CallInput.pricingFlags}); null when it is. */
  flags: readonly string[] | null;
  /** The catalog version when the catalog or the tier table priced it; null otherwise. */
  catalogVersion: string | null;
}

export interface PriceCallOptions {
  /** When the call was made (ms since epoch); picks dated and time-of-day prices. Default now. */
  timeMs?: number | undefined;
  /** Priced at batch rates. */
  batch?: boolean | undefined;
  /** The service tier the response reports; non-standard tiers have their own prices. */
  serviceTier?: string | null | undefined;
  /**
   * Which tool made the call's `webSearches`, where the fee depends on it (OpenAI bills
   * `web_search_preview` on gpt-4o and gpt-4.1 models at $25 per 1,000, not the catalog's $10):
   * `either` when the request offered both tools. Absent: the catalog's web search rate.
   */
  webSearchTool?: WebSearchTool | null | undefined;
}

export interface PriceBookOptions {
  /** Overrides from module options (negotiated rates, fine-tuned models); they beat the catalog. */
  overrides?: readonly PriceOverride[] | undefined;
  /** Stored prices with effective dates (`llm_prices`); in force, they beat overrides and catalog. */
  stored?: StoredPriceSource | undefined;
  /** Use the genai-prices catalog (default true). */
  catalog?: boolean | undefined;
  /** A newer catalog loaded at start (`loadCatalogFile`, `loadCatalogUrl`); default the bundled one. */
  catalogData?: CatalogData | undefined;
}

interface CompiledStored {
  fromMs: number;
  toMs: number;
  price: CompiledPrice;
  batch: CompiledPrice;
  label: string;
}

interface CompiledOverride {
  price: CompiledPrice;
  batch: CompiledPrice;
  label: string;
}

/** A resolved tier price, returned as is on every call (no allocation). */
interface TierHit {
  price: CompiledPrice;
  label: string;
  source: 'tier' | 'override';
  version: string | null;
  /** The standard catalog price it sits beside (table hits), to tell when long context is lost. */
  standard: CompiledPrice | null;
  /**
   * Whether its web search fee is the user's own (an override that names one). Otherwise the fee
   * came from the catalog, and a tool the fee table prices apart (web_search_preview) takes that
   * table's fee, as it would at the standard tier.
   */
  ownSearchFee: boolean;
}

/** What a call asks for, as {@link PriceBook.worstCase} bounds it. */
export interface WorstCaseRequest {
  /** An upper bound of its input tokens. */
  inputTokens: number;
  /** An upper bound of its output tokens (reasoning included). */
  outputTokens: number;
  /** Input may be written to a cache: `5m` or `1h` (then the 1-hour rate bounds it). */
  cacheWrite?: '5m' | '1h' | null | undefined;
  audioIn?: boolean | undefined;
  audioOut?: boolean | undefined;
  imageOut?: boolean | undefined;
  /** The tier the request asks for. */
  serviceTier?: string | null | undefined;
}

const BUCKET = Object.fromEntries(PRICE_BUCKETS.map((b, i) => [b, i])) as Record<(typeof PRICE_BUCKETS)[number], number>;

function boundOf(price: CompiledPrice, r: WorstCaseRequest): Usd {
  const set = ratesFor(price, r.inputTokens);
  // The highest input-side and output-side rate the request can be billed at (bucket indexes).
  const m = set.perMtok;
  let inAt = BUCKET.inputUncached;
  if (r.cacheWrite && m[BUCKET.cacheWrite5m] > m[inAt]) inAt = BUCKET.cacheWrite5m;
  if (r.cacheWrite === '1h' && m[BUCKET.cacheWrite1h] > m[inAt]) inAt = BUCKET.cacheWrite1h;
  if (r.audioIn && m[BUCKET.inputAudio] > m[inAt]) inAt = BUCKET.inputAudio;
  let outAt = m[BUCKET.output] >= m[BUCKET.reasoning] ? BUCKET.output : BUCKET.reasoning;
  if (r.audioOut && m[BUCKET.outputAudio] > m[outAt]) outAt = BUCKET.outputAudio;
  if (r.imageOut && m[BUCKET.outputImage] > m[outAt]) outAt = BUCKET.outputImage;
  const input = Math.ceil(r.inputTokens);
  const output = Math.ceil(r.outputTokens);
  if (set.fast) {
    // Whole units per token: the sum is exact while it stays a safe integer (as in costAt).
    const units = input * set.perToken[inAt] + output * set.perToken[outAt];
    if (Number.isSafeInteger(units)) return BigInt(units) + price.perRequest;
  }
  const units = BigInt(input) * set.perMtok[inAt] + BigInt(output) * set.perMtok[outAt];
  return (units + MTOK - 1n) / MTOK + price.perRequest;
}

const MTOK = 1_000_000n;

/** The stored price in force at `timeMs`, latest start first; null when none. */
function storedAt(entry: ModelEntry, timeMs: number): CompiledStored | null {
  for (let i = entry.stored.length - 1; i >= 0; i--) {
    const s = entry.stored[i];
    if (timeMs >= s.fromMs && timeMs < s.toMs) return s;
  }
  return null;
}

/**
 * A tier's published price is flat where the standard price has a long-context rate (OpenAI's
 * priority prices "exclude long context"): a call past the threshold is billed at the flat rate
 * and flagged, since what the provider charges then is not published.
 */
function longContextFlag(hit: TierHit, inputTotal: number): string | null {
  const standard = hit.standard;
  if (!standard || standard.tiers.length === 0 || hit.price.tiers.length > 0) return null;
  const threshold = standard.tiers[standard.tiers.length - 1].start;
  return inputTotal > threshold ? `long context (over ${threshold} input tokens) has no published ${hit.label.split('@')[1]} price; billed at the flat tier rate` : null;
}

interface TierPrice {
  fromMs: number;
  price: CompiledPrice;
  /**
   * `price` with the fees of the standard catalog price last used with it (see {@link inheritFees}),
   * kept for one standard price, compared by identity: it only changes at a catalog period boundary.
   */
  feesFrom: CompiledPrice | null;
  hit: TierHit;
}

/** Everything known about one (provider, model), resolved once and then reused for every call. */
interface ModelEntry {
  stored: CompiledStored[];
  override: CompiledOverride | null;
  catalog: CatalogEntry | null;
  catalogBatch: Map<CompiledPrice, CompiledPrice> | null;
  batchNum: bigint;
  batchDen: bigint;
  /** Prices per non-standard tier, resolved on first use: an override, else the tier table (dated). */
  tiers: Map<string, { override: TierHit | null; table: TierPrice[] }> | null;
  /** Whether the price depends on when the call was made; if not, price() does not read the clock. */
  timed: boolean;
  /**
   * The fee table's price for `web_search_preview` calls on this model, with the prices derived
   * from it (by the price they replace the fee of); null when it has none, undefined until asked.
   */
  searchPreview?: { each: Usd; derived: Map<CompiledPrice, CompiledPrice> } | null | undefined;
}

const UNPRICED: PricedCall = Object.freeze({ costUsd: null, pricingModel: null, pricingSource: 'unpriced', flags: null, catalogVersion: null });

/**
 * Resolves prices per (provider, model) and prices calls exactly. Resolution (catalog lookup,
 * compiling decimals to integer rates) happens once per model; after that pricing a call is a map
 * lookup and a few multiplications, well under a microsecond.
 */
export class PriceBook {
  private readonly cache = new Map<string, Map<string, ModelEntry>>();
  private readonly overrides: { provider: string; model: string; prefix: boolean; tier: string; compiled: CompiledOverride }[] = [];
  private readonly catalogData: CatalogData;
  private stored: StoredPrice[] = [];
  private storedFingerprint = '[]';
  private readonly useCatalog: boolean;
  private readonly unpriced = new Map<string, { provider: string; model: string; calls: number; firstSeen: Date }>();
  private unsubscribe: (() => void) | undefined;

  constructor(options: PriceBookOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new KostrackConfigError('PriceBook options must be an object');
    if (options.overrides !== undefined && !Array.isArray(options.overrides))
      throw new KostrackConfigError('prices must be an array of { provider, model, input, output, … }');
    this.useCatalog = options.catalog !== false;
    if (options.catalogData !== undefined && (typeof options.catalogData !== 'object' || options.catalogData === null || typeof options.catalogData.version !== 'string'))
      throw new KostrackConfigError('catalogData must come from loadCatalogFile() or loadCatalogUrl()');
    this.catalogData = options.catalogData ?? bundledCatalog();
    for (const [i, o] of (options.overrides ?? []).entries()) this.overrides.push(compileOverride(o, `prices[${i}]`));
    const source = options.stored;
    if (source !== undefined) {
      if (typeof source?.load !== 'function') throw new KostrackConfigError('stored must be a StoredPriceSource with load()');
      this.unsubscribe = source.subscribe?.(() => void this.refresh(source));
      void this.refresh(source);
    }
  }

  /** Reloads stored prices; synchronous sources apply before this returns. */
  refresh(source: StoredPriceSource): Promise<void> | void {
    const apply = (rows: StoredPrice[]): void => {
      const next = Array.isArray(rows) ? rows : [];
      // The periodic re-read usually finds the same rows: keep the resolved prices then, so no
      // tracked call has to resolve its model again.
      const fingerprint = JSON.stringify(next, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      if (fingerprint === this.storedFingerprint) return;
      this.storedFingerprint = fingerprint;
      this.stored = next;
      this.cache.clear();
    };
    let loaded: StoredPrice[] | Promise<StoredPrice[]>;
    try {
      loaded = source.load();
    } catch (e) {
      runtime.warn(`Kostrack could not load stored prices: ${(e as Error)?.constructor?.name ?? typeof e}`);
      return;
    }
    if (Array.isArray(loaded)) return apply(loaded);
    return Promise.resolve(loaded).then(apply, (e) =>
      runtime.warn(`Kostrack could not load stored prices: ${(e as Error)?.constructor?.name ?? typeof e}`),
    );
  }

  /** Stops listening to the stored-price source. */
  close(): void {
    this.unsubscribe?.();
  }

  /** Prices one call. Never throws: an unknown model comes back `unpriced` (and is warned about once). */
  price(provider: string, model: string, tokens: TokenBreakdown, inputTotal: number, options?: PriceCallOptions): PricedCall {
    if (typeof provider !== 'string' || typeof model !== 'string') return UNPRICED;
    const entry = this.entry(provider, model);
    const at = options?.timeMs;
    // Reading the clock costs more than pricing a plain call on some machines: only when it matters.
    const timeMs = typeof at === 'number' && Number.isFinite(at) ? at : entry.timed ? Date.now() : 0;
    const reported = options?.serviceTier;
    const tier = tierKind(typeof reported === 'string' ? reported : undefined);
    const batch = options?.batch === true || tier === 'batch';
    // Only a call with web searches asks the fee table (the usual call never does).
    const searchTool = options?.webSearchTool && tokens?.webSearches ? options.webSearchTool : undefined;
    const stored = storedAt(entry, timeMs);
    let tierFlag: string | null = null;
    if (!batch && tier !== 'standard') {
      const t = this.tierPrice(entry, provider, model, tier, timeMs, stored !== null || entry.override !== null);
      if (t) {
        if (searchTool === undefined || t.ownSearchFee) return priced(t.price, t.price, false, tokens, inputTotal, t.label, t.source, t.version, longContextFlag(t, inputTotal));
        const s = this.searchFee(entry, provider, t.price, searchTool);
        return priced(s.price, s.price, false, tokens, inputTotal, t.label, t.source, t.version, longContextFlag(t, inputTotal), s.flag);
      }
      tierFlag =
        stored || entry.override
          ? `service tier "${tier}" has no price of your own; billed at your standard price`
          : `service tier "${tier}" has no known price; billed at the standard rate`;
    }
    if (stored) return priced(stored.price, stored.batch, batch, tokens, inputTotal, stored.label, 'stored', null, tierFlag);
    if (entry.override) {
      const o = entry.override;
      return priced(o.price, o.batch, batch, tokens, inputTotal, o.label, 'override', null, tierFlag);
    }
    if (entry.catalog) {
      const price = catalogPriceAt(entry.catalog, timeMs);
      let batchPrice = price;
      if (batch) {
        entry.catalogBatch ??= new Map();
        batchPrice = entry.catalogBatch.get(price) ?? scalePrice(price, entry.batchNum, entry.batchDen);
        entry.catalogBatch.set(price, batchPrice);
      }
      const label = `genai-prices:${entry.catalog.id}`;
      if (searchTool === undefined) return priced(price, batchPrice, batch, tokens, inputTotal, label, 'catalog', entry.catalog.version, tierFlag);
      // Tool fees are not discounted in batches: the batch price takes the same fee.
      const s = this.searchFee(entry, provider, batch ? batchPrice : price, searchTool);
      return priced(s.price, s.price, false, tokens, inputTotal, label, batch ? 'batch' : 'catalog', entry.catalog.version, tierFlag, s.flag);
    }
    this.noteUnpriced(provider, model);
    return UNPRICED;
  }

  /**
   * `price` with the fee table's web search fee for the tool that made the calls, where the table
   * has one for this catalog model (see tool-fee.prices.ts); otherwise `price` as is. When the
   * request offered both tools, which one made each call is unknown: the catalog's rate, flagged.
   */
  private searchFee(entry: ModelEntry, provider: string, price: CompiledPrice, tool: WebSearchTool): { price: CompiledPrice; flag: string | null } {
    if (tool !== 'web_search_preview' && tool !== 'either') return { price, flag: null };
    if (entry.searchPreview === undefined) {
      const catalogProvider = catalogProviderOf(provider);
      const fee = entry.catalog && catalogProvider ? toolFeeFor(catalogProvider, entry.catalog.id, 'web_search_preview') : undefined;
      entry.searchPreview = fee ? { each: usd(fee.each), derived: new Map() } : null;
    }
    const known = entry.searchPreview;
    if (!known) return { price, flag: null };
    if (tool === 'either')
      return { price, flag: `webSearches: web_search and web_search_preview both offered, and ${entry.catalog!.id} bills them differently; priced at the web_search rate` };
    let p = known.derived.get(price);
    if (!p) known.derived.set(price, (p = withFee(price, 'webSearches', known.each)));
    return { price: p, flag: null };
  }

  /**
   * The price of a non-standard tier: an override for it; else, unless the user has a standard
   * price of their own in force (theirs beats a list price; the call is flagged), Kostrack's table.
   * Null when neither applies. Only tiers that resolve are cached: tier names come from responses,
   * and a server sending a new name every call must not grow the cache.
   */
  private tierPrice(entry: ModelEntry, provider: string, model: string, tier: string, timeMs: number, ownStandard: boolean): TierHit | null {
    let known = entry.tiers?.get(tier);
    if (!known) {
      const o =
        this.overrides.find((x) => x.provider === provider && x.tier === tier && !x.prefix && x.model === model) ??
        this.overrides.find((x) => x.provider === provider && x.tier === tier && x.prefix && model.startsWith(x.model));
      const catalogProvider = catalogProviderOf(provider);
      const table =
        entry.catalog && catalogProvider
          ? tierPricesFor(catalogProvider, entry.catalog.id, tier)
              .map((t): TierPrice => {
                const price = compilePrice(t.spec, `tier ${provider}/${entry.catalog!.id}@${tier}`);
                const hit: TierHit = { price, label: `kostrack-tiers:${entry.catalog!.id}@${tier}`, source: 'tier', version: entry.catalog!.version, standard: null, ownSearchFee: false };
                return { fromMs: t.from ? Date.parse(t.from) : -Infinity, price, feesFrom: null, hit };
              })
              .sort((a, b) => a.fromMs - b.fromMs)
          : [];
      let override: TierHit | null = null;
      if (o) {
        // Tool fees do not depend on the tier: an override without them takes the catalog's.
        const standard = entry.catalog ? catalogPriceAt(entry.catalog, timeMs) : null;
        const price = standard ? inheritFees(o.compiled.price, standard) : o.compiled.price;
        const ownSearchFee = o.compiled.price.fees[FEE_BUCKETS.indexOf('webSearches')] !== null;
        override = { price, label: `${o.compiled.label}@${tier}`, source: 'override', version: null, standard: null, ownSearchFee };
      }
      if (!override && table.length === 0) return null;
      known = { override, table };
      (entry.tiers ??= new Map()).set(tier, known);
    }
    if (known.override) return known.override;
    if (ownStandard) return null;
    for (let i = known.table.length - 1; i >= 0; i--) {
      const t = known.table[i];
      if (timeMs < t.fromMs) continue;
      // The table has token rates only; tool fees (web and file searches) are the catalog's, whatever the tier.
      const standard = catalogPriceAt(entry.catalog!, timeMs);
      if (t.feesFrom !== standard) {
        t.hit.price = inheritFees(t.price, standard);
        t.hit.standard = standard;
        t.feesFrom = standard;
      }
      return t.hit;
    }
    return null;
  }

  /**
   * The most a call can cost, for admission under a budget: `request.inputTokens` at the highest
   * input-side rate the request can be billed at (cache writes included where they may happen),
   * `request.outputTokens` at the highest output-side rate (reasoning, audio or image output where
   * asked for), at the standard price in force and at the requested tier's, whichever is more.
   * Null when the model has no price (it cannot be bounded). Rounded up to the unit.
   */
  worstCase(provider: string, model: string, request: WorstCaseRequest): Usd | null {
    if (typeof provider !== 'string' || typeof model !== 'string') return null;
    const entry = this.entry(provider, model);
    const timeMs = entry.timed ? Date.now() : 0;
    const stored = storedAt(entry, timeMs);
    const standard = stored?.price ?? entry.override?.price ?? (entry.catalog ? catalogPriceAt(entry.catalog, timeMs) : null);
    let most: Usd | null = standard ? boundOf(standard, request) : null;
    const tier = tierKind(request.serviceTier);
    if (tier !== 'standard' && tier !== 'batch') {
      const t = this.tierPrice(entry, provider, model, tier, timeMs, stored !== null || entry.override !== null);
      if (t) {
        const b = boundOf(t.price, request);
        if (most === null || b > most) most = b;
      }
    }
    return most;
  }

  /** The model's context window when the catalog knows it (bounds input and output); null otherwise. */
  contextWindowOf(provider: string, model: string): number | null {
    if (typeof provider !== 'string' || typeof model !== 'string') return null;
    return this.entry(provider, model).catalog?.contextWindow ?? null;
  }

  /** Models seen in calls that no price covered, for the admin API. */
  unpricedModels(): { provider: string; model: string; calls: number; firstSeen: Date }[] {
    return [...this.unpriced.values()].map((u) => ({ ...u }));
  }

  private noteUnpriced(provider: string, model: string): void {
    const key = provider + '\u0000' + model;
    const seen = this.unpriced.get(key);
    if (seen) {
      seen.calls++;
      return;
    }
    this.unpriced.set(key, { provider, model, calls: 1, firstSeen: new Date() });
    runtime.warn(`Kostrack has no price for ${provider} model "${model}"; its calls are recorded as unpriced. Add it to the prices option.`);
  }

  private entry(provider: string, model: string): ModelEntry {
    let byModel = this.cache.get(provider);
    if (!byModel) this.cache.set(provider, (byModel = new Map()));
    let entry = byModel.get(model);
    if (!entry) byModel.set(model, (entry = this.resolve(provider, model)));
    return entry;
  }

  private resolve(provider: string, model: string): ModelEntry {
    const [batchNum, batchDen] = batchDiscountOf(provider);
    const stored: CompiledStored[] = [];
    for (const row of this.stored) {
      if (row?.provider !== provider || row.model !== model) continue;
      try {
        const price = compilePrice(row, `stored ${provider}/${model}`);
        const fromMs = new Date(row.effectiveFrom).getTime();
        const toMs = row.effectiveTo ? new Date(row.effectiveTo).getTime() : Infinity;
        if (Number.isNaN(fromMs) || Number.isNaN(toMs)) throw new KostrackConfigError('bad effective dates');
        const batch = row.batch ? compilePrice(row.batch, `stored ${provider}/${model}.batch`) : scalePrice(price, batchNum, batchDen);
        stored.push({ fromMs, toMs, price, batch, label: `stored:${model}@${new Date(fromMs).toISOString()}` });
      } catch (e) {
        // A bad row must not stop pricing; the catalog or an override still applies.
        runtime.warn(`Kostrack ignored a stored price for ${provider}/${model}: ${(e as Error).message}`);
      }
    }
    // Latest start wins when periods overlap: the loop in price() walks from the end.
    stored.sort((a, b) => a.fromMs - b.fromMs);
    const override =
      this.overrides.find((o) => o.provider === provider && o.tier === 'standard' && !o.prefix && o.model === model) ??
      this.overrides.find((o) => o.provider === provider && o.tier === 'standard' && o.prefix && model.startsWith(o.model));
    const catalogProvider = catalogProviderOf(provider);
    let catalog: CatalogEntry | null = null;
    try {
      catalog = this.useCatalog && catalogProvider ? lookupCatalog(catalogProvider, model, this.catalogData) : null;
    } catch (e) {
      // A loaded catalog file with a price Kostrack cannot compile: price() must not throw; the model is unpriced.
      runtime.warn(`Kostrack cannot use the catalog price of ${provider}/${model}: ${(e as Error).message}`);
    }
    return {
      stored,
      override: override?.compiled ?? null,
      catalog,
      catalogBatch: null,
      batchNum,
      batchDen,
      tiers: null,
      timed: stored.length > 0 || (catalog !== null && (catalog.variants.length > 1 || tierTableIsDated(catalogProvider!, catalog.id))),
    };
  }
}

function priced(
  price: CompiledPrice,
  batchPrice: CompiledPrice,
  batch: boolean,
  tokens: TokenBreakdown,
  inputTotal: number,
  label: string,
  source: string,
  catalogVersion: string | null,
  extraFlag: string | null,
  secondFlag: string | null = null,
): PricedCall {
  const p = batch ? batchPrice : price;
  const rates = ratesFor(p, inputTotal);
  // Bad counts (negative, NaN, Infinity) passed straight in are left out and flagged, never billed.
  let counts = tokens;
  let countFlags: string[] | null = null;
  if (!countsOk(tokens)) ({ counts, flags: countFlags } = countable(tokens));
  let flags = flagsOf(p, rates, counts);
  if (countFlags) flags = flags ? [...flags, ...countFlags] : countFlags;
  if (secondFlag) (flags ??= []).unshift(secondFlag);
  if (extraFlag) (flags ??= []).unshift(extraFlag);
  return { costUsd: costAt(p, rates, counts), pricingModel: label, pricingSource: batch ? 'batch' : source, flags, catalogVersion };
}

function compileOverride(o: PriceOverride, where: string) {
  if (typeof o !== 'object' || o === null) throw new KostrackConfigError(`${where} must be an object`);
  if (typeof o.provider !== 'string' || o.provider === '') throw new KostrackConfigError(`${where}.provider must be a provider name`);
  if (typeof o.model !== 'string' || o.model === '' || o.model === '*') throw new KostrackConfigError(`${where}.model must be a model name or a prefix ending in *`);
  if (o.input === undefined && o.output === undefined && o.perRequest === undefined)
    throw new KostrackConfigError(`${where} (${o.provider}/${o.model}) sets no price: give input, output or perRequest`);
  if (o.serviceTier !== undefined && (typeof o.serviceTier !== 'string' || !/^[a-z][a-z0-9_-]{0,31}$/.test(o.serviceTier)))
    throw new KostrackConfigError(`${where}.serviceTier must be a tier name such as "flex" or "priority", got ${JSON.stringify(o.serviceTier)}`);
  // A "batch" tier override would never be used (batch calls take the batch rates): say where those go.
  if (o.serviceTier === 'batch')
    throw new KostrackConfigError(`${where}.serviceTier cannot be "batch": give batch prices in ${where}.batch (default: half the standard prices)`);
  const prefix = o.model.endsWith('*');
  const model = prefix ? o.model.slice(0, -1) : o.model;
  const price = compilePrice(o, where);
  const [num, den] = batchDiscountOf(o.provider);
  const batch = o.batch ? compilePrice(o.batch, `${where}.batch`) : scalePrice(price, num, den);
  return { provider: o.provider, model, prefix, tier: tierKind(o.serviceTier), compiled: { price, batch, label: `override:${o.model}` } };
}
