/**
 * Display formatting. Amounts arrive as exact decimal strings; they are turned into numbers only
 * to draw and to round for reading, never to add up. Wherever a rounded amount or a local time is
 * shown, the exact value is the element's title (see `money` and `time` in dom.ts).
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

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local time, `YYYY-MM-DD HH:MM:SS` (milliseconds when there are any): one fixed shape whatever the browser's locale. */
export function localTime(iso: string | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const ms = d.getMilliseconds();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`;
}

/** A local calendar date as the date inputs hold it. */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `YYYY-MM-DD` read as local midnight (the date inputs are in the viewer's time zone). */
export function fromLocalDate(value: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m) return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function tokens(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A percentage for reading, one decimal. */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '–';
}

/** The change from `before` to `now` for reading: "+12.5%", "−3.0%", "new", "=". */
export function change(now: number, before: number): string {
  if (before === 0) return now === 0 ? '=' : 'new';
  const d = ((now - before) / before) * 100;
  if (Math.abs(d) < 0.05) return '=';
  return `${d > 0 ? '+' : '−'}${Math.abs(d).toFixed(1)}%`;
}

/** The SDK's attempts for reading: "1", "3 (2 retries)", "–" when the SDK could not tell. */
export function attempts(n: number | null): string {
  if (n === null) return '–';
  return n > 1 ? `${n} (${n - 1} ${n === 2 ? 'retry' : 'retries'})` : String(n);
}
