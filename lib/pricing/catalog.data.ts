import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Provider } from '@pydantic/genai-prices';
import { KostrackConfigError } from '../core/index.js';
import { CORRECTIONS_VERSION } from './catalog.corrections.js';

/**
 * A price catalog: genai-prices' provider list, and the version stored on every row it prices.
 * `providers` null means the catalog bundled with the installed `@pydantic/genai-prices`.
 */
export interface CatalogData {
  providers: readonly Provider[] | null;
  version: string;
}

let bundled: CatalogData | undefined;

/** The catalog of the installed `@pydantic/genai-prices`, versioned by its package version. */
export function bundledCatalog(): CatalogData {
  if (bundled) return bundled;
  let version = 'unknown';
  try {
    // The package exports no ./package.json; find it next to its entry point.
    const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
    version = (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // A bundler that inlined the package: the version is unknown, prices still work.
  }
  return (bundled = { providers: null, version: `genai-prices@${version}+corrections@${CORRECTIONS_VERSION}` });
}

/**
 * A newer catalog in genai-prices' own data format (the `data.json` its updater downloads, an
 * array of providers), parsed and checked. Its version is the file's name and content hash.
 */
export function parseCatalog(text: string, name: string): CatalogData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new KostrackConfigError(`catalog ${name} is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new KostrackConfigError(`catalog ${name} must be genai-prices' data.json: a non-empty array of providers`);
  parsed.forEach((p: unknown, i) => {
    const provider = p as Partial<Provider> | null;
    if (typeof provider?.id !== 'string' || !Array.isArray(provider.models))
      throw new KostrackConfigError(`catalog ${name}: provider [${i}] needs an id and a models array`);
  });
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { providers: parsed as Provider[], version: `${name}@sha256:${hash}+corrections@${CORRECTIONS_VERSION}` };
}

/** Reads a catalog file at start (synchronously: it happens once, before any call is priced). */
export function loadCatalogFile(path: string): CatalogData {
  if (typeof path !== 'string' || path === '') throw new KostrackConfigError('catalog.file must be a path to a genai-prices data.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KostrackConfigError(`catalog.file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseCatalog(text, `file:${basename(path)}`);
}

/**
 * Downloads a catalog (for example genai-prices' `REMOTE_DATA_JSON_URL`). Opt-in, once, at start;
 * a failure throws, so the caller decides whether to start with the bundled catalog instead.
 */
export async function loadCatalogUrl(url: string, timeoutMs = 10_000): Promise<CatalogData> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KostrackConfigError(`catalog.url must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new KostrackConfigError(`catalog.url must be an http(s) URL, got ${JSON.stringify(url)}`);
  let text: string;
  try {
    const res = await fetch(parsed, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new KostrackConfigError(`catalog.url ${url} answered HTTP ${res.status}`);
    text = await res.text();
  } catch (e) {
    if (e instanceof KostrackConfigError) throw e;
    // fetch() fails with a bare "fetch failed" TypeError; the cause says why (ECONNREFUSED, ENOTFOUND…).
    const cause = (e as { cause?: { code?: string } })?.cause?.code ?? (e as Error)?.name ?? typeof e;
    throw new KostrackConfigError(`catalog.url ${url} could not be read: ${cause === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : cause}`);
  }
  return parseCatalog(text, `url:${parsed.host}${parsed.pathname}`);
}
