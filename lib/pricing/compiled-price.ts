import { KostrackConfigError, usd, type TokenBreakdown, type Usd } from '../core/index.js';
import { PRICE_BUCKETS, type ModelPriceSpec, type PerMtok } from './price-table.js';

const MTOK = 1_000_000n;

/**
 * One set of rates, one per bucket. `perToken` holds 1e-15 USD per token as a float that is an
 * exact integer (a price per Mtok with at most 9 decimals), so the hot path multiplies doubles and
 * stays exact while the sum is a safe integer; `perMtok` is the bigint fallback for everything else.
 */
export interface RateSet {
  readonly perToken: Float64Array;
  readonly perMtok: readonly bigint[];
  /** False when some rate has more than 9 decimals: always take the bigint path. */
  readonly fast: boolean;
}

/** Prices of one model, compiled once so that pricing a call is a few multiplications. */
export interface CompiledPrice {
  readonly base: RateSet;
  /** Tier rate sets, highest threshold first: the first with `inputTotal > start` applies. */
  readonly tiers: readonly { readonly start: number; readonly rates: RateSet }[];
  readonly perRequest: Usd;
}

/** Which spec key feeds each bucket, most specific first (the catalog's fallbacks). */
const SOURCES: Record<string, (keyof ModelPriceSpec)[]> = {
  inputUncached: ['input'],
  cacheRead: ['cacheRead', 'input'],
  cacheWrite5m: ['cacheWrite', 'input'],
  cacheWrite1h: ['cacheWrite1h', 'cacheWrite', 'input'],
  output: ['output'],
  reasoning: ['reasoning', 'output'],
  inputAudio: ['inputAudio', 'input'],
  outputAudio: ['outputAudio', 'output'],
};

function decimal(value: string | number, where: string): Usd {
  let units: Usd;
  try {
    units = usd(value);
  } catch {
    throw new KostrackConfigError(`${where}: price must be a non-negative decimal, got ${JSON.stringify(value)}`);
  }
  if (units < 0n) throw new KostrackConfigError(`${where}: price must not be negative, got ${JSON.stringify(value)}`);
  return units;
}

function pick(spec: ModelPriceSpec, bucket: string): PerMtok | undefined {
  for (const key of SOURCES[bucket]) if (spec[key] !== undefined) return spec[key] as PerMtok;
  return undefined;
}

function rateAt(price: PerMtok | undefined, tierStart: number | null, where: string): Usd {
  if (price === undefined) return 0n;
  if (typeof price === 'object' && price !== null) {
    if (!Array.isArray(price.tiers)) throw new KostrackConfigError(`${where}: tiered price needs a tiers array`);
    let chosen: string | number = price.base;
    // Same rule as the catalog: the highest tier whose start is below the threshold we compile for.
    for (const tier of [...price.tiers].sort((a, b) => a.start - b.start)) if (tierStart !== null && tierStart > tier.start) chosen = tier.price;
    return decimal(chosen, where);
  }
  return decimal(price, where);
}

function rateSet(spec: ModelPriceSpec, tierStart: number | null, where: string): RateSet {
  const perToken = new Float64Array(PRICE_BUCKETS.length);
  const perMtok: bigint[] = [];
  let fast = true;
  PRICE_BUCKETS.forEach((bucket, i) => {
    const perMtokUnits = rateAt(pick(spec, bucket), tierStart, `${where}.${bucket}`);
    perMtok.push(perMtokUnits);
    const whole = perMtokUnits % MTOK === 0n ? perMtokUnits / MTOK : -1n;
    if (whole < 0n || whole > BigInt(Number.MAX_SAFE_INTEGER)) fast = false;
    perToken[i] = whole < 0n ? NaN : Number(whole);
  });
  return { perToken, perMtok, fast };
}

/** Compiles a price spec; throws {@link KostrackConfigError} on a malformed price. */
export function compilePrice(spec: ModelPriceSpec, where: string): CompiledPrice {
  if (typeof spec !== 'object' || spec === null) throw new KostrackConfigError(`${where}: prices must be an object`);
  const starts = new Set<number>();
  for (const value of Object.values(spec)) {
    if (value && typeof value === 'object' && Array.isArray((value as { tiers?: unknown }).tiers)) {
      for (const tier of (value as { tiers: { start: unknown }[] }).tiers) {
        if (typeof tier?.start !== 'number' || !Number.isSafeInteger(tier.start) || tier.start < 0)
          throw new KostrackConfigError(`${where}: tier start must be a non-negative integer token count`);
        starts.add(tier.start);
      }
    }
  }
  const tiers = [...starts].sort((a, b) => b - a).map((start) => ({ start, rates: rateSet(spec, start + 1, where) }));
  // A tier whose start is `s` applies from `s + 1` input tokens (`inputTotal > start`).
  const perRequest = spec.perRequest === undefined ? 0n : decimal(spec.perRequest, `${where}.perRequest`);
  return { base: rateSet(spec, null, where), tiers, perRequest };
}

/** Scales every rate by `num/den` (batch discounts), rounding half-up per Mtok. */
export function scalePrice(price: CompiledPrice, num: bigint, den: bigint): CompiledPrice {
  const scale = (rates: RateSet): RateSet => {
    const perMtok = rates.perMtok.map((r) => (r * num * 2n + den) / (den * 2n));
    const perToken = new Float64Array(perMtok.length);
    let fast = true;
    perMtok.forEach((r, i) => {
      if (r % MTOK !== 0n) fast = false;
      perToken[i] = r % MTOK === 0n ? Number(r / MTOK) : NaN;
    });
    return { perToken, perMtok, fast };
  };
  return {
    base: scale(price.base),
    tiers: price.tiers.map((t) => ({ start: t.start, rates: scale(t.rates) })),
    perRequest: (price.perRequest * num * 2n + den) / (den * 2n),
  };
}

/**
 * The exact cost of one call. `inputTotal` (all input tokens, cached included) selects the tier.
 * Hot path: eight float multiplications that are exact integers while the total stays below 2^53
 * units ($9); above that, or for rates with more than 9 decimals, exact bigint arithmetic.
 */
export function costOf(price: CompiledPrice, b: TokenBreakdown, inputTotal: number): Usd {
  let rates = price.base;
  for (let i = 0; i < price.tiers.length; i++) {
    if (inputTotal > price.tiers[i].start) {
      rates = price.tiers[i].rates;
      break;
    }
  }
  const r = rates.perToken;
  if (rates.fast) {
    const total =
      (b.inputUncached ?? 0) * r[0] +
      (b.cacheRead ?? 0) * r[1] +
      (b.cacheWrite5m ?? 0) * r[2] +
      (b.cacheWrite1h ?? 0) * r[3] +
      (b.output ?? 0) * r[4] +
      (b.reasoning ?? 0) * r[5] +
      (b.inputAudio ?? 0) * r[6] +
      (b.outputAudio ?? 0) * r[7];
    if (Number.isSafeInteger(total)) return price.perRequest === 0n ? BigInt(total) : BigInt(total) + price.perRequest;
  }
  let sum = 0n;
  for (let i = 0; i < PRICE_BUCKETS.length; i++) {
    const tokens = b[PRICE_BUCKETS[i]];
    if (tokens) sum += BigInt(Math.round(tokens)) * rates.perMtok[i];
  }
  return (sum * 2n + MTOK) / (MTOK * 2n) + price.perRequest;
}
