import { KostrackConfigError, usd, type TokenBreakdown, type Usd } from '../core/index.js';
import { FEE_BUCKETS, FEE_PRICE_KEYS, PRICE_BUCKETS, type FeeBucket, type ModelPriceSpec, type PerMtok } from './price-table.js';

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
  /** Bit i set: bucket i has no rate of its own and is billed at another bucket's rate. */
  readonly approxMask: number;
  /** For each bucket in {@link approxMask}, the flag a call with tokens there gets. */
  readonly approxNotes: readonly (string | null)[];
}

/** Prices of one model, compiled once so that pricing a call is a few multiplications. */
export interface CompiledPrice {
  readonly base: RateSet;
  /** Tier rate sets, highest threshold first: the first with `inputTotal > start` applies. */
  readonly tiers: readonly { readonly start: number; readonly rates: RateSet }[];
  readonly perRequest: Usd;
  /** USD (1e-15) per fee unit, aligned with FEE_BUCKETS; null where there is no price. */
  readonly fees: readonly (Usd | null)[];
  /** A flag to add whenever a fee is billed (a price known to be an upper bound, say). */
  readonly feeNotes: readonly (string | null)[];
  /**
   * `perRequest` and `fees` as doubles for the float path: exact safe integers, 0 for a fee with
   * no price, NaN when a value is too large to be exact (then the bigint path bills it).
   */
  readonly fixedNum: Float64Array;
  /** Bit i set: a count in fee i gets a flag (no price, or a note); see {@link flagsOf}. */
  readonly feeFlagMask: number;
}

function feeFlagMaskOf(fees: readonly (Usd | null)[], notes: readonly (string | null)[]): number {
  let mask = 0;
  for (let i = 0; i < fees.length; i++) if (fees[i] === null || notes[i] !== null) mask |= 1 << i;
  return mask;
}

/** {@link CompiledPrice.fixedNum} of a per-request price and fees. */
function fixedNumOf(perRequest: Usd, fees: readonly (Usd | null)[]): Float64Array {
  const safe = (u: Usd) => (u <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(u) : NaN);
  return Float64Array.from([safe(perRequest), ...fees.map((f) => (f === null ? 0 : safe(f)))]);
}

/**
 * Which spec key feeds each bucket, most specific first. The first key is the bucket's own rate;
 * a later one is a fallback (the catalog's rule), and a call billed through it is flagged.
 * Reasoning is the exception: every provider bills it as output, so `output` is its own rate.
 */
const SOURCES: Record<string, (keyof ModelPriceSpec)[]> = {
  inputUncached: ['input'],
  cacheRead: ['cacheRead', 'input'],
  cacheWrite5m: ['cacheWrite', 'input'],
  cacheWrite1h: ['cacheWrite1h', 'cacheWrite', 'input'],
  output: ['output'],
  reasoning: ['reasoning', 'output'],
  inputAudio: ['inputAudio', 'input'],
  outputAudio: ['outputAudio', 'output'],
  cacheReadAudio: ['cacheReadAudio', 'cacheRead', 'inputAudio', 'input'],
  outputImage: ['outputImage', 'output'],
};

/** Keys that are a bucket's own rate though not listed first. */
const OWN: Record<string, ReadonlySet<keyof ModelPriceSpec>> = { reasoning: new Set(['reasoning', 'output']) };

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

function pick(spec: ModelPriceSpec, bucket: string): { price: PerMtok | undefined; key: keyof ModelPriceSpec | undefined } {
  for (const key of SOURCES[bucket]) if (spec[key] !== undefined) return { price: spec[key] as PerMtok, key };
  return { price: undefined, key: undefined };
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
  const approxNotes: (string | null)[] = [];
  let approxMask = 0;
  let fast = true;
  PRICE_BUCKETS.forEach((bucket, i) => {
    const { price, key } = pick(spec, bucket);
    const own = key === SOURCES[bucket][0] || OWN[bucket]?.has(key!) === true;
    if (own) approxNotes.push(null);
    else {
      approxMask |= 1 << i;
      approxNotes.push(key ? `${bucket} billed at the ${key} rate (no ${bucket} price)` : `${bucket} not billed (no price)`);
    }
    const perMtokUnits = rateAt(price, tierStart, `${where}.${bucket}`);
    perMtok.push(perMtokUnits);
    const whole = perMtokUnits % MTOK === 0n ? perMtokUnits / MTOK : -1n;
    if (whole < 0n || whole > BigInt(Number.MAX_SAFE_INTEGER)) fast = false;
    perToken[i] = whole < 0n ? NaN : Number(whole);
  });
  return { perToken, perMtok, fast, approxMask, approxNotes };
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
  const fees = FEE_BUCKETS.map((f) => {
    const value = spec[FEE_PRICE_KEYS[f]];
    return value === undefined ? null : decimal(value, `${where}.${FEE_PRICE_KEYS[f]}`);
  });
  const feeNotes = FEE_BUCKETS.map(() => null);
  return { base: rateSet(spec, null, where), tiers, perRequest, fees, feeNotes, fixedNum: fixedNumOf(perRequest, fees), feeFlagMask: feeFlagMaskOf(fees, feeNotes) };
}

/** The same price with a note attached to a fee (see {@link CompiledPrice.feeNotes}). */
export function withFeeNote(price: CompiledPrice, fee: FeeBucket, note: string): CompiledPrice {
  const feeNotes = [...price.feeNotes];
  feeNotes[FEE_BUCKETS.indexOf(fee)] = note;
  return { ...price, feeNotes, feeFlagMask: feeFlagMaskOf(price.fees, feeNotes) };
}

/** The same price with one fee replaced (and its note dropped): a fee known for this call only. */
export function withFee(price: CompiledPrice, fee: FeeBucket, each: Usd): CompiledPrice {
  const i = FEE_BUCKETS.indexOf(fee);
  const fees = [...price.fees];
  const feeNotes = [...price.feeNotes];
  fees[i] = each;
  feeNotes[i] = null;
  return { ...price, fees, feeNotes, fixedNum: fixedNumOf(price.perRequest, fees), feeFlagMask: feeFlagMaskOf(fees, feeNotes) };
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
    return { perToken, perMtok, fast, approxMask: rates.approxMask, approxNotes: rates.approxNotes };
  };
  const perRequest = (price.perRequest * num * 2n + den) / (den * 2n);
  return {
    base: scale(price.base),
    tiers: price.tiers.map((t) => ({ start: t.start, rates: scale(t.rates) })),
    perRequest,
    // Tool fees are per request and not discounted in batches.
    fees: price.fees,
    feeNotes: price.feeNotes,
    fixedNum: fixedNumOf(perRequest, price.fees),
    feeFlagMask: price.feeFlagMask,
  };
}

/** The rate set a call with `inputTotal` input tokens is billed at (long-context tiers). */
export function ratesFor(price: CompiledPrice, inputTotal: number): RateSet {
  for (let i = 0; i < price.tiers.length; i++) if (inputTotal > price.tiers[i].start) return price.tiers[i].rates;
  return price.base;
}

/**
 * The exact cost of one call. `inputTotal` (all input tokens, cached included) selects the tier.
 * Hot path: ten float multiplications that are exact integers while the total stays below 2^53
 * units ($9); above that, or for rates with more than 9 decimals, exact bigint arithmetic.
 */
export function costOf(price: CompiledPrice, b: TokenBreakdown, inputTotal: number): Usd {
  return costAt(price, ratesFor(price, inputTotal), b);
}

export function costAt(price: CompiledPrice, rates: RateSet, b: TokenBreakdown): Usd {
  const r = rates.perToken;
  const hasFees = !!(b.webSearches || b.fileSearches || b.groundedPrompts);
  if (rates.fast) {
    const f = price.fixedNum;
    let total =
      f[0] +
      (b.inputUncached ?? 0) * r[0] +
      (b.cacheRead ?? 0) * r[1] +
      (b.cacheWrite5m ?? 0) * r[2] +
      (b.cacheWrite1h ?? 0) * r[3] +
      (b.output ?? 0) * r[4] +
      (b.reasoning ?? 0) * r[5] +
      (b.inputAudio ?? 0) * r[6] +
      (b.outputAudio ?? 0) * r[7] +
      (b.cacheReadAudio ?? 0) * r[8] +
      (b.outputImage ?? 0) * r[9];
    // Fee counts are rounded like the bigint path rounds them.
    if (hasFees) total += Math.round(b.webSearches ?? 0) * f[1] + Math.round(b.fileSearches ?? 0) * f[2] + Math.round(b.groundedPrompts ?? 0) * f[3];
    // Every term is a non-negative integer, so a safe total means every partial sum was exact.
    if (Number.isSafeInteger(total)) return BigInt(total);
  }
  let sum = 0n;
  for (let i = 0; i < PRICE_BUCKETS.length; i++) {
    const tokens = b[PRICE_BUCKETS[i]];
    if (tokens) sum += BigInt(Math.round(tokens)) * rates.perMtok[i];
  }
  return (sum * 2n + MTOK) / (MTOK * 2n) + price.perRequest + (hasFees ? feeCost(price, b) : 0n);
}

function feeCost(price: CompiledPrice, b: TokenBreakdown): Usd {
  let sum = 0n;
  for (let i = 0; i < FEE_BUCKETS.length; i++) {
    const count = b[FEE_BUCKETS[i]];
    const each = price.fees[i];
    if (count && each !== null) sum += BigInt(Math.round(count)) * each;
  }
  return sum;
}

const isCount = (v: number | undefined): boolean => v === undefined || (typeof v === 'number' && v >= 0 && v <= Number.MAX_VALUE);

/**
 * True when every token and fee count is absent or a finite number ≥ 0: the usual case, checked
 * with named reads and no allocation on the hot path. Otherwise see {@link countable}.
 */
export function countsOk(b: TokenBreakdown): boolean {
  return (
    typeof b === 'object' &&
    b !== null &&
    isCount(b.inputUncached) &&
    isCount(b.cacheRead) &&
    isCount(b.cacheWrite5m) &&
    isCount(b.cacheWrite1h) &&
    isCount(b.output) &&
    isCount(b.reasoning) &&
    isCount(b.inputAudio) &&
    isCount(b.outputAudio) &&
    isCount(b.cacheReadAudio) &&
    isCount(b.outputImage) &&
    isCount(b.webSearches) &&
    isCount(b.fileSearches) &&
    isCount(b.groundedPrompts)
  );
}

/**
 * A breakdown that failed {@link countsOk}, with only its countable values: a token or fee count
 * that is not a finite number ≥ 0 (negative, NaN, Infinity, not a number at all) is left out, so
 * it is never billed (and never makes the bigint path throw), and the call gets a flag naming it.
 */
export function countable(b: TokenBreakdown): { counts: TokenBreakdown; flags: string[] } {
  if (typeof b !== 'object' || b === null) return { counts: {}, flags: ['token breakdown is not an object; nothing billed'] };
  const counts: TokenBreakdown = {};
  const flags: string[] = [];
  for (const key of COUNT_KEYS) {
    const v = b[key] as unknown;
    if (isCount(v as number | undefined)) {
      if (v !== undefined) counts[key] = v as number;
    } else flags.push(`${key} is ${typeof v === 'number' ? String(v) : `a ${v === null ? 'null' : typeof v}`}, not a count; not billed`);
  }
  return { counts, flags };
}

const COUNT_KEYS: readonly (keyof TokenBreakdown)[] = [...PRICE_BUCKETS, ...FEE_BUCKETS];

/**
 * `price` with the fees (and fee notes) of `standard` where it has none of its own. Tool fees do
 * not depend on the service tier, and Kostrack's tier table lists token rates only.
 */
export function inheritFees(price: CompiledPrice, standard: CompiledPrice): CompiledPrice {
  if (!price.fees.some((f, i) => f === null && standard.fees[i] !== null)) return price;
  const fees = price.fees.map((f, i) => f ?? standard.fees[i]);
  const feeNotes = price.feeNotes.map((n, i) => (price.fees[i] === null ? standard.feeNotes[i] : n));
  return { ...price, fees, feeNotes, fixedNum: fixedNumOf(price.perRequest, fees), feeFlagMask: feeFlagMaskOf(fees, feeNotes) };
}

/**
 * Why this call's price is not exact, or null when it is: tokens in a bucket billed at another
 * bucket's rate, fees seen with no price, fees priced with a caveat.
 */
export function flagsOf(price: CompiledPrice, rates: RateSet, b: TokenBreakdown): string[] | null {
  let flags: string[] | null = null;
  if (rates.approxMask !== 0 && usesApprox(rates.approxMask, b)) {
    for (let i = 0; i < PRICE_BUCKETS.length; i++) {
      if ((rates.approxMask & (1 << i)) !== 0 && b[PRICE_BUCKETS[i]]) (flags ??= []).push(rates.approxNotes[i]!);
    }
  }
  // Bit i = FEE_BUCKETS[i]: webSearches, fileSearches, groundedPrompts.
  const m = price.feeFlagMask;
  if (m !== 0 && ((m & 1 && b.webSearches) || (m & 2 && b.fileSearches) || (m & 4 && b.groundedPrompts))) {
    for (let i = 0; i < FEE_BUCKETS.length; i++) {
      const count = b[FEE_BUCKETS[i]];
      if (!count) continue;
      if (price.fees[i] === null) (flags ??= []).push(`${count} ${FEE_BUCKETS[i]} not billed (no price)`);
      else if (price.feeNotes[i]) (flags ??= []).push(price.feeNotes[i]!);
    }
  }
  return flags;
}

/** Whether any bucket in `mask` (bit i = PRICE_BUCKETS[i]) has tokens; named reads are cheaper than a keyed loop on the hot path. */
function usesApprox(m: number, b: TokenBreakdown): boolean {
  return !!(
    (m & 1 && b.inputUncached) ||
    (m & 2 && b.cacheRead) ||
    (m & 4 && b.cacheWrite5m) ||
    (m & 8 && b.cacheWrite1h) ||
    (m & 16 && b.output) ||
    (m & 32 && b.reasoning) ||
    (m & 64 && b.inputAudio) ||
    (m & 128 && b.outputAudio) ||
    (m & 256 && b.cacheReadAudio) ||
    (m & 512 && b.outputImage)
  );
}
