/** Talks to the admin API next to the page; the key (if the API uses one) lives in this tab's sessionStorage. */
const KEY_STORAGE = 'kostrack-admin-key';

export class UnauthorizedError extends Error {}

export type Query = Record<string, string | string[] | undefined>;

export class AdminApi {
  constructor(readonly base: string) {}

  get key(): string | null {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  set key(value: string | null) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === '') continue;
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
    }
    const qs = params.toString();
    return this.send<T>(`${path}${qs ? `?${qs}` : ''}`, { method: 'GET' });
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  private async send<T>(path: string, init: { method: string; body?: string }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (this.key) headers['x-kostrack-api-key'] = this.key;
    // Same-origin credentials too, for hosts that guard the API with their session.
    const res = await fetch(`${this.base}/${path}`, { ...init, headers, credentials: 'same-origin' });
    if (res.status === 401 || res.status === 403) throw new UnauthorizedError('unauthorized');
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(Array.isArray(body.message) ? body.message.join('; ') : (body.message ?? `HTTP ${res.status}`));
    return body as T;
  }
}
