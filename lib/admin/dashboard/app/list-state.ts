import { fromLocalDate } from './format.js';

/** The overview's state, kept in the URL hash so a view can be bookmarked and shared. */
export interface ListState {
  /** A preset relative to now (`1h`, `24h`, `7d`, `30d`), or '' when `from`/`to` are dates. */
  range: string;
  from: string;
  to: string;
  feature: string;
  user: string;
  service: string;
  tag: string;
  minCost: string;
  sort: 'time' | 'cost';
  order: 'asc' | 'desc';
}

export const PRESETS: [string, string, number][] = [
  ['1h', 'Last hour', 3_600_000],
  ['24h', '24 h', 86_400_000],
  ['7d', '7 d', 7 * 86_400_000],
  ['30d', '30 d', 30 * 86_400_000],
];

export function defaultState(): ListState {
  return { range: '30d', from: '', to: '', feature: '', user: '', service: '', tag: '', minCost: '', sort: 'time', order: 'desc' };
}

export function stateFromQuery(params: URLSearchParams): ListState {
  const s = defaultState();
  for (const key of Object.keys(s) as (keyof ListState)[]) {
    const v = params.get(key);
    if (v !== null) (s as unknown as Record<string, string>)[key] = v;
  }
  // Dates in the link mean a fixed range, unless a preset is named too.
  if ((params.has('from') || params.has('to')) && !params.has('range')) s.range = '';
  if (s.range && !PRESETS.some(([k]) => k === s.range)) s.range = '30d';
  if (s.sort !== 'cost') s.sort = 'time';
  if (s.order !== 'asc') s.order = 'desc';
  return s;
}

export function stateToQuery(s: ListState): string {
  const p = new URLSearchParams();
  const d = defaultState();
  for (const [k, v] of Object.entries(s)) {
    if (k === 'range') {
      if (v !== d.range && v) p.set(k, v);
      continue;
    }
    // A preset's dates are computed when the view renders; only fixed dates are written.
    if ((k === 'from' || k === 'to') && s.range) continue;
    if (v && v !== (d as unknown as Record<string, string>)[k]) p.set(k, v);
  }
  return p.toString();
}

/** The state's time range as instants: a preset ends now; dates are the viewer's local midnights (`to` exclusive). */
export function rangeOf(s: ListState, now = Date.now()): { from: Date; to: Date } {
  const preset = PRESETS.find(([k]) => k === s.range);
  if (preset) return { from: new Date(now - preset[2]), to: new Date(now) };
  const to = (s.to && fromLocalDate(s.to)) || new Date(now);
  const from = (s.from && fromLocalDate(s.from)) || new Date(to.getTime() - 30 * 86_400_000);
  return { from, to };
}

/** The filters as API query parameters (the range as UTC instants). */
export function apiFilters(s: ListState, range = rangeOf(s)): Record<string, string | undefined> {
  return { from: range.from.toISOString(), to: range.to.toISOString(), feature: s.feature, user: s.user, service: s.service, tag: s.tag };
}
