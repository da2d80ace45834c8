/**
 * Exact sums of the API's decimal strings in the browser (1e-15 USD units in a BigInt, like
 * lib/core/money.ts), for the few places the page adds amounts itself: a chart's "other" series.
 */
const SCALE = 15;
const UNIT = 10n ** BigInt(SCALE);

export function toUnits(value: string): bigint {
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) return 0n;
  const units = BigInt(m[2]) * UNIT + BigInt((m[3] ?? '').padEnd(SCALE, '0').slice(0, SCALE) || '0');
  return m[1] ? -units : units;
}

export function fromUnits(units: bigint): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const frac = (abs % UNIT).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / UNIT}${frac ? `.${frac}` : ''}`;
}

export function addDecimal(a: string, b: string): string {
  return fromUnits(toUnits(a) + toUnits(b));
}
