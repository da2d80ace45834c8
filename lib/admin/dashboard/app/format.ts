/**
 * Display formatting. Amounts arrive as exact decimal strings; they are turned into numbers only
 * to draw and to round for reading, never to add up.
 */
export function usdShort(value: string | null): string {
  if (value === null) return 'unpriced';
  const n = Number(value);
  if (n === 0) return '$0';
  if (n >= 100) return `$${n.toFixed(0)}`;
  if (n >= 1) return `$${n.toFixed(2)}`;
  // Below a millionth, significant digits would print in exponent form; the exact string reads better.
  if (n < 0.000001) return `$${value}`;
  // Small amounts: four significant digits, so $0.000045 does not read as $0.00.
  return `$${n.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')}`;
}

export function usdExact(value: string | null): string {
  return value === null ? 'unpriced' : `$${value}`;
}

export function duration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function dateTime(iso: string | null): string {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.000Z$/, 'Z');
}

export function tokens(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}
