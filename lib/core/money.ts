/**
 * Exact money. Amounts are integers of 1e-15 USD held in a `bigint`, so sums over any
 * number of calls are exact (floats drift after a few hundred additions of $0.000123).
 * Per-token prices quoted per million tokens with up to 9 decimals map to whole units.
 */
export type Usd = bigint;

/** Decimal digits kept after the point. */
export const USD_SCALE = 15;
const UNIT = 10n ** BigInt(USD_SCALE);

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Parses a decimal string or a finite number into exact units; extra digits are rounded half-up. */
export function usd(value: string | number | bigint): Usd {
  if (typeof value === 'bigint') return value * UNIT;
  const text = typeof value === 'number' ? numberToPlain(value) : value.trim();
  const m = DECIMAL.exec(text);
  if (!m) throw new TypeError(`Not a decimal amount: ${JSON.stringify(value)}`);
  const [, sign, whole, frac = ''] = m;
  let units = BigInt(whole) * UNIT + BigInt((frac + '0'.repeat(USD_SCALE)).slice(0, USD_SCALE));
  if (frac.length > USD_SCALE && frac.charCodeAt(USD_SCALE) >= 53 /* '5' */) units += 1n;
  return sign ? -units : units;
}

/** Exact decimal string with trailing zeros trimmed (at least one digit after the point kept off). */
export function usdToString(amount: Usd, minDecimals = 0): string {
  // A string or number that reached here (an untyped host, a spool line) must fail as a bad row,
  // not print as some other amount.
  if (typeof amount !== 'bigint') throw new TypeError(`Not an amount in 1e-15 USD (a bigint): ${typeof amount}`);
  const negative = amount < 0n;
  // One conversion to digits and string slicing: the writer formats every call's cost with this,
  // and bigint division and remainder each allocate a new bigint.
  const digits = (negative ? -amount : amount).toString();
  const split = digits.length - USD_SCALE;
  const whole = split > 0 ? digits.slice(0, split) : '0';
  const padded = split >= 0 ? digits.slice(split) : '0'.repeat(-split) + digits;
  let end = USD_SCALE;
  while (end > 0 && padded.charCodeAt(end - 1) === 48 /* '0' */) end--;
  let frac = padded.slice(0, end);
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, '0');
  return `${negative ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}

/** A convenience float for display; never sum these. */
export function usdToNumber(amount: Usd): number {
  return Number(usdToString(amount));
}

function numberToPlain(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`Not a finite amount: ${n}`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // 1e-7 prints in exponent form; toFixed(20) keeps every digit a double holds at this size.
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/**
 * Shares of `total` in percent with one decimal that sum to exactly 100 (largest remainder): the
 * rule of every cost breakdown. With nothing priced yet, the shares are even.
 */
export function percentShares(costs: readonly Usd[], total: Usd): number[] {
  if (costs.length === 0) return [];
  if (total <= 0n) return percentShares(costs.map(() => 1n), BigInt(costs.length));
  const tenths = costs.map((c) => (c * 1000n) / total);
  const order = costs.map((c, i) => ({ i, r: (c * 1000n) % total })).sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  let missing = 1000n - tenths.reduce((a, b) => a + b, 0n);
  for (const { i } of order) {
    if (missing <= 0n) break;
    tenths[i] += 1n;
    missing -= 1n;
  }
  return tenths.map((t) => Number(t) / 10);
}
